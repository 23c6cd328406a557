"""scikit-learn's handwritten digits: 1,797 images of 8x8 pixels, labels 0-9, bundled with scikit-learn."""
import numpy as np

from deepglass.datasets import _tabular


def load_data(test_split=0.25, seed=113):
    """Load the 8x8 digits as Keras loads MNIST: `(x_train, y_train), (x_test, y_test)`.

    scikit-learn's pixels count 0-16; they are scaled to MNIST's 0-255 range (`round(v * 255 / 16)`), so that
    the usual `x / 255.0` gives values in [0, 1]. The samples are shuffled with `np.random.RandomState(seed)` and
    the last `test_split` of them is the test set, as Keras splits `boston_housing`.

    Arguments:
        test_split: the fraction of the samples in the test set, in [0, 1).
        seed: the seed of the shuffle before the split.

    Returns `x_train` uint8 `(1347, 8, 8)`, `y_train` uint8 `(1347,)`, `x_test` uint8 `(450, 8, 8)` and `y_test`
    uint8 `(450,)`, with the default `test_split`.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.digits.load_data()
    >>> x_train.shape, int(x_train.max())
    ((1347, 8, 8), 255)
    """
    _tabular.check_test_split(test_split)
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("digits.load_data() reads the digits bundled with scikit-learn, which is not installed; "
                          "install it with `pip install scikit-learn`.") from error
    digits = load_digits()
    x = np.round(digits.images * (255 / 16)).astype(np.uint8)
    return _tabular.shuffle_split(x, digits.target.astype(np.uint8), test_split, seed)
