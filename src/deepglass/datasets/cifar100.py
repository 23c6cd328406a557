"""CIFAR-100: 50,000 training and 10,000 test colour images, 32x32, in 100 classes grouped into 20 superclasses."""
from deepglass.datasets import _cifar, _files

FILES = _cifar.CifarFiles(
    folder="cifar-100-python",
    archive=_files.Resource(
        name="cifar-100-python.tar.gz", origin="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        hashes=("85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",),
        keras_paths=("cifar-100-python-target_archive", "cifar-100-python.tar.gz")),
    batches={"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"},
    keras_folders=("cifar-100-python-target/cifar-100-python", "cifar-100-python"),
)


def load_data(label_mode="fine"):
    """Load CIFAR-100 as Keras does: `(x_train, y_train), (x_test, y_test)`.

    Found and checked as `cifar10.load_data()` does (the archive is 161 MB).

    Arguments:
        label_mode: `"fine"` for the 100 classes (labels 0-99) or `"coarse"` for the 20 superclasses (0-19).

    Returns `x_train` uint8 `(50000, 32, 32, 3)` (`(50000, 3, 32, 32)` when the image data format is
    channels_first), `y_train` int64 `(50000, 1)`, `x_test` uint8 `(10000, 32, 32, 3)` and `y_test` int64
    `(10000, 1)`.

    Example:
    >>> (x_train, y_train), _ = deepglass.datasets.cifar100.load_data(label_mode="coarse")
    >>> int(y_train.max())
    19
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'`label_mode` must be one of "fine", "coarse". Received: label_mode={label_mode!r}.')
    paths = _cifar.batch_paths(FILES, "cifar100.load_data()")
    x_train, y_train = _cifar.read_batch(paths["train"], label_key=f"{label_mode}_labels")
    x_test, y_test = _cifar.read_batch(paths["test"], label_key=f"{label_mode}_labels")
    return ((_cifar.to_data_format(x_train), y_train.reshape(-1, 1)),
            (_cifar.to_data_format(x_test), y_test.reshape(-1, 1)))
