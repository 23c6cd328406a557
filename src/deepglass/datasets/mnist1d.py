"""MNIST-1D: 5,000 one-dimensional signals of 40 steps, made from templates of the 10 digits (no download)."""
import random

import numpy as np


def load_data(**dataset_args):
    """Generate MNIST-1D with the `mnist1d` package: `(x_train, y_train), (x_test, y_test)`.

    Each signal is one of ten digit templates, padded, translated, sheared, scaled and given correlated and
    independent noise, then the set is standardised; it is small enough for 1-D convolution and recurrent
    networks to train in seconds on a CPU. The data is generated (procedurally, from a fixed seed) each call;
    the global random states that the package seeds are restored afterwards.

    Arguments:
        **dataset_args: values that replace `mnist1d.data.get_dataset_args()`'s defaults, e.g.
            `num_samples=10000`, `train_split=0.8`, `seed=42`, `shuffle_seq=True`.

    Returns, with the default arguments, `x_train` float32 `(4000, 40)`, `y_train` int64 `(4000,)` (labels 0-9),
    `x_test` float32 `(1000, 40)` and `y_test` int64 `(1000,)`.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.mnist1d.load_data()
    >>> x_train.shape, x_test.shape
    ((4000, 40), (1000, 40))
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
        from mnist1d.utils import ObjectView
    except ImportError as error:
        raise ImportError("mnist1d.load_data() generates the data with the `mnist1d` package, which is not "
                          "installed; install it with `pip install mnist1d`.") from error
    args = get_dataset_args(as_dict=True)
    unknown = sorted(set(dataset_args) - set(args) | set(dataset_args) & {"url"})
    if unknown:
        valid = ", ".join(sorted(set(args) - {"url"}))
        raise TypeError(f"mnist1d.load_data() got unknown arguments {unknown}; valid arguments are {valid}.")
    args.update(dataset_args)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(args))
    finally:  # make_dataset seeds the global generators; leave the caller's as they were
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return ((data["x"].astype(np.float32), data["y"].astype(np.int64)),
            (data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)))
