"""CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, in 10 classes.

Labels: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.
"""
import numpy as np

from deepglass.datasets import _cifar, _files

FILES = _cifar.CifarFiles(
    folder="cifar-10-batches-py",
    archive=_files.Resource(
        name="cifar-10-python.tar.gz", origin="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        hashes=("6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",),
        keras_paths=("cifar-10-batches-py-target_archive", "cifar-10-batches-py.tar.gz")),
    batches={"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
             "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
             "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e"},
    keras_folders=("cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"),
)


def load_data():
    """Load CIFAR-10 as Keras does: `(x_train, y_train), (x_test, y_test)`.

    The batches are taken from the deepglass cache, then Keras's cache (`~/.keras/datasets/`, extracted or as
    the archive), and the archive is downloaded (163 MB, checksum verified) only when neither has them. The
    batches are Python pickles, read without unpickling: only their arrays and lists are built.

    Returns `x_train` uint8 `(50000, 32, 32, 3)` (pixels 0-255; `(50000, 3, 32, 32)` when the image data format
    is channels_first), `y_train` uint8 `(50000, 1)` (labels 0-9), `x_test` uint8 `(10000, 32, 32, 3)` and
    `y_test` uint8 `(10000, 1)`.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.cifar10.load_data()
    >>> x_train.shape, y_train.shape
    ((50000, 32, 32, 3), (50000, 1))
    """
    paths = _cifar.batch_paths(FILES, "cifar10.load_data()")
    train = [_cifar.read_batch(paths[f"data_batch_{i}"]) for i in range(1, 6)]
    x_test, y_test = _cifar.read_batch(paths["test_batch"])
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train]).astype(np.uint8).reshape(-1, 1)
    return ((_cifar.to_data_format(x_train), y_train),
            (_cifar.to_data_format(x_test), y_test.astype(np.uint8).reshape(-1, 1)))
