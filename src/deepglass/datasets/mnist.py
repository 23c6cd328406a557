"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grayscale, labels 0-9."""
import numpy as np

from deepglass.datasets import _files

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
RESOURCE = _files.Resource(
    name="mnist.npz", origin=ORIGIN_FOLDER + "mnist.npz",
    hashes=("731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",))


def load_data(path="mnist.npz"):
    """Load MNIST as Keras does: `(x_train, y_train), (x_test, y_test)`.

    The file is taken from the deepglass cache, then Keras's cache (`~/.keras/datasets/mnist.npz`), and
    downloaded (11 MB, checksum verified) only when neither has it.

    Arguments:
        path: the file name in the caches (Keras's `path`), or a path with a folder to use that file itself.

    Returns `x_train` uint8 `(60000, 28, 28)` (pixels 0-255), `y_train` uint8 `(60000,)`, `x_test` uint8
    `(10000, 28, 28)` and `y_test` uint8 `(10000,)`.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.mnist.load_data()
    >>> x_train.shape, y_train[:3]
    ((60000, 28, 28), array([5, 0, 4], dtype=uint8))
    """
    file = _files.fetch(RESOURCE, "mnist.load_data()", path)
    with np.load(file, allow_pickle=False) as arrays:
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
