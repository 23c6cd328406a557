"""California housing prices: 20,640 census block groups of 1990, 8 features each, and their median house value."""
import numpy as np

from deepglass.datasets import _files, _tabular

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
RESOURCE = _files.Resource(
    name="california_housing.npz", origin=ORIGIN_FOLDER + "california_housing.npz",
    hashes=("1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f",))


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Load the California housing data as Keras does: `(x_train, y_train), (x_test, y_test)`.

    The features: median income, house age, average rooms, average bedrooms, population, average occupancy,
    latitude, longitude. The file is taken from the deepglass cache, then Keras's cache, and downloaded
    (checksum verified) only when neither has it.

    Arguments:
        version: `"large"` for all 20,640 samples, `"small"` for the first 600 (a stand-in for Boston housing).
        path: the file name in the caches (Keras's `path`), or a path with a folder to use that file itself.
        test_split: the fraction of the samples in the test set, in [0, 1).
        seed: the seed of the shuffle before the split.

    Returns float arrays: `x_train` `(16512, 8)`, `y_train` `(16512,)` (median values in dollars), `x_test`
    `(4128, 8)` and `y_test` `(4128,)` for the large version with the default `test_split`; 480 and 120 samples
    for the small one.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.california_housing.load_data(version="small")
    >>> x_train.shape
    (480, 8)
    """
    _tabular.check_test_split(test_split)
    if version not in ("small", "large"):
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: version={version!r}")
    with np.load(_files.fetch(RESOURCE, "california_housing.load_data()", path), allow_pickle=False) as arrays:
        x, y = arrays["x"], arrays["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return _tabular.shuffle_split(x, y, test_split, seed)
