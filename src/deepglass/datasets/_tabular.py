"""The shuffled train / test split of Keras's regression datasets."""
import numpy as np


def check_test_split(test_split):
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 (exclusive of 1).")


def shuffle_split(x, y, test_split, seed):
    """Shuffle with `np.random.RandomState(seed)`, then the last `test_split` of the samples is the test set."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y, split = x[indices], y[indices], int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])
