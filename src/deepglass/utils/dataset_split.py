"""Splitting data in two: Keras's `split_dataset`, and the training / validation subsets of the directory datasets."""
import math
import numbers

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from deepglass.utils import tree
from deepglass.utils.py_dataset import PyDataset


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split a dataset into a left part and a right part (e.g. train / test).

    Without shuffling the left part is the first `left_size` samples and the right part the last `right_size`;
    with shuffling both are drawn from `torch.randperm(n)` of a generator seeded with `seed` (the split Keras's
    torch backend makes).

    Arguments:
        dataset: a NumPy array or torch tensor (samples along axis 0), a tuple / list / dict of them with the same
            length (e.g. `(x, y)`), a torch `Dataset` with `len()`, or a `deepglass.utils.PyDataset` of batches
            (read whole into memory: meant for small datasets).
        left_size: an int (a number of samples) or a float in (0, 1) (a fraction, rounded); `None` takes what
            `right_size` leaves.
        right_size: the same for the right part; `None` takes what `left_size` leaves.
        shuffle: whether to shuffle the samples before splitting.
        seed: the seed of that shuffle.

    Returns two datasets `fit` takes as they are: torch `Dataset`s of samples (a `Subset` of a torch `Dataset`;
    for arrays, datasets whose samples have the input's structure, e.g. `(x_i, y_i)`), or, for a `PyDataset`,
    `PyDataset`s with its batch size.

    Example:
        >>> train, test = deepglass.utils.split_dataset((x, y), left_size=0.8, shuffle=True, seed=1)
        >>> model.fit(train, batch_size=32, epochs=3)
    """
    if left_size is None and right_size is None:
        raise ValueError("At least one of `left_size` and `right_size` must be given, as a number of samples or "
                         "a fraction. Received: left_size=None and right_size=None")
    batch_size = None
    if isinstance(dataset, PyDataset):
        dataset, batch_size = _read_batches(dataset)
    if isinstance(dataset, DataLoader):
        raise TypeError("split_dataset takes a Dataset, not a DataLoader: split `loader.dataset` and make a "
                        "DataLoader of each part.")
    total = _length(dataset)
    left_size, right_size = split_sizes(left_size, right_size, total)
    if shuffle:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        order = torch.randperm(total, generator=generator)
    else:
        order = torch.arange(total)
    parts = (order[:left_size].tolist(), order[total - right_size:].tolist())
    if isinstance(dataset, Dataset):
        return tuple(Subset(dataset, indices) for indices in parts)
    if batch_size is not None:
        return tuple(ArrayBatches(dataset, indices, batch_size) for indices in parts)
    return tuple(ArraySamples(dataset, indices) for indices in parts)


def split_sizes(left_size, right_size, total):
    """Keras's rules: the `(left, right)` sample counts for `total` samples, both positive, summing to <= total."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise TypeError(f"Invalid type for `{name}`: expected an int, a float or None. Received: "
                            f"{name}={size!r} of type {type(size).__name__}")
        if isinstance(size, numbers.Integral) and not 0 < size < total:
            raise ValueError(f"`{name}` should be a positive number of samples smaller than {total} or a fraction "
                             f"in (0, 1). Received: {name}={size}")
        if not isinstance(size, numbers.Integral) and not 0 < size < 1:
            raise ValueError(f"`{name}` should be a fraction in (0, 1) or a positive number of samples smaller "
                             f"than {total}. Received: {name}={size}")
    if all(isinstance(s, numbers.Real) and not isinstance(s, numbers.Integral) for s in (left_size, right_size)) \
            and left_size + right_size > 1:
        raise ValueError(f"The fractions `left_size` and `right_size` add up to more than 1. Received: "
                         f"left_size={left_size}, right_size={right_size}")
    left, right = (None if s is None else int(s) if isinstance(s, numbers.Integral) else round(s * total)
                   for s in (left_size, right_size))
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"`left_size` and `right_size` ask for {left} + {right} samples, but the dataset has "
                         f"{total}; ask for fewer.")
    if left == 0 or right == 0:
        raise ValueError(f"With {total} samples, left_size={left_size} and right_size={right_size} leave the "
                         f"{'left' if left == 0 else 'right'} part empty; adjust the sizes.")
    return left, right


def _length(dataset):
    if isinstance(dataset, Dataset):
        try:
            return len(dataset)
        except TypeError:
            raise TypeError(f"split_dataset needs a torch Dataset with a length; {type(dataset).__name__} has no "
                            "__len__ (an IterableDataset cannot be split by index).") from None
    leaves = tree.flatten(dataset)
    if not isinstance(dataset, (list, tuple, dict, np.ndarray, torch.Tensor)) or not leaves or not all(
            isinstance(leaf, (np.ndarray, torch.Tensor)) and leaf.ndim > 0 for leaf in leaves):
        raise TypeError(f"split_dataset takes a NumPy array or torch tensor, a tuple / list / dict of them, a torch "
                        f"Dataset or a deepglass PyDataset. Received: dataset of type {type(dataset).__name__}")
    lengths = {len(leaf) for leaf in leaves}
    if len(lengths) != 1:
        raise ValueError(f"All arrays in `dataset` must have the same length (samples along axis 0); got lengths "
                         f"{[len(leaf) for leaf in leaves]}.")
    return lengths.pop()


def _read_batches(dataset):
    """A PyDataset's batches joined into one structure of arrays, and the size of its first batch."""
    batches = [dataset[i] for i in range(len(dataset))]
    if not batches:
        raise ValueError("Received an empty PyDataset (no batches); split_dataset needs samples.")
    batch_size = len(tree.flatten(batches[0])[0])
    joined = [torch.cat(parts) if torch.is_tensor(parts[0]) else np.concatenate(parts)
              for parts in zip(*[tree.flatten(batch) for batch in batches])]
    return tree.pack_like(batches[0], joined), batch_size


def _take(structure, indices):
    return tree.map_structure(lambda leaf: leaf[indices], structure)


class ArraySamples(Dataset):
    """A torch Dataset of the samples `indices` of a structure of arrays: sample `i` has the structure's nesting."""

    def __init__(self, arrays, indices):
        self.arrays = arrays
        self.indices = list(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return _take(self.arrays, self.indices[index])


class ArrayBatches(PyDataset):
    """A PyDataset of the samples `indices` of a structure of arrays, in batches of `batch_size`."""

    def __init__(self, arrays, indices, batch_size):
        super().__init__()
        self.arrays = arrays
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.indices) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range for a dataset of {len(self)} batches.")
        picks = self.indices[index * self.batch_size:(index + 1) * self.batch_size]
        return _take(self.arrays, picks)


def check_validation_split(validation_split, subset, shuffle, seed):
    """Keras's checks on `validation_split` / `subset` for the `*_dataset_from_directory` functions."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be a fraction between 0 and 1. Received: "
                         f"validation_split={validation_split}")
    if bool(validation_split) != bool(subset):
        raise ValueError(f"`subset` and `validation_split` go together: set both or neither. Received: "
                         f"validation_split={validation_split}, subset={subset!r}")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"`subset` must be 'training', 'validation' or 'both'. Received: subset={subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("With `validation_split` and shuffling, pass a `seed` so that the training and "
                         "validation subsets do not overlap (both calls must shuffle the files the same way).")


def validation_subset(samples, labels, validation_split, subset):
    """The training part (all but the last `int(validation_split * n)`) or the validation part (those last)."""
    if not validation_split:
        return samples, labels
    count = int(validation_split * len(samples))
    if count == 0 or count == len(samples):
        raise ValueError(f"validation_split={validation_split} of {len(samples)} files leaves the "
                         f"{'validation' if count == 0 else 'training'} subset empty; use more files or another "
                         "fraction.")
    part = slice(None, -count) if subset == "training" else slice(-count, None)
    return samples[part], None if labels is None else labels[part]
