"""Boston housing prices: 506 districts of Boston in the 1970s, 13 features each, and their median house value."""
import numpy as np

from deepglass.datasets import _files, _tabular

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
RESOURCE = _files.Resource(
    name="boston_housing.npz", origin=ORIGIN_FOLDER + "boston_housing.npz",
    hashes=("f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",))


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Load the Boston housing data as Keras does: `(x_train, y_train), (x_test, y_test)`.

    One of the 13 features ("B") encodes a racial assumption; Keras discourages this dataset except to
    illustrate ethical problems in data (`california_housing.load_data(version="small")` is its replacement).
    The file is taken from the deepglass cache, then Keras's cache, and downloaded (checksum verified) only
    when neither has it.

    Arguments:
        path: the file name in the caches (Keras's `path`), or a path with a folder to use that file itself.
        test_split: the fraction of the samples in the test set, in [0, 1).
        seed: the seed of the shuffle before the split.

    Returns float arrays: `x_train` `(404, 13)`, `y_train` `(404,)` (median values in k$), `x_test` `(102, 13)`
    and `y_test` `(102,)`, with the default `test_split`.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.boston_housing.load_data()
    >>> x_train.shape, x_test.shape
    ((404, 13), (102, 13))
    """
    _tabular.check_test_split(test_split)
    with np.load(_files.fetch(RESOURCE, "boston_housing.load_data()", path), allow_pickle=False) as arrays:
        x, y = arrays["x"], arrays["y"]
    return _tabular.shuffle_split(x, y, test_split, seed)
