"""In-memory data for fit/evaluate/predict: NumPy arrays and torch tensors (or lists and dicts of them).

The arrays go to the device once; each batch is taken by indexing there, so feeding costs one gather per step.
"""
import math
import warnings

import numpy as np
import torch

from deepglass import config
from deepglass.utils import tree


def to_tensor(value, what):
    """A NumPy array, torch tensor or nested list of numbers as a torch tensor (floats in `floatx`)."""
    if torch.is_tensor(value):
        return value.to(config.standardize_dtype()) if value.dtype == torch.float64 else value
    array = np.asarray(value)
    if array.dtype == object:
        raise ValueError(f"{what} must be numeric arrays; got an array of Python objects (ragged lists or mixed "
                         "types?). Pad the samples to one shape, e.g. with deepglass.utils.pad_sequences.")
    if array.dtype.kind in "US":
        raise ValueError(f"{what} must be numbers; got strings (dtype {array.dtype}). Map labels to integers first.")
    if array.dtype.kind == "f":
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.dtype(config.floatx())))
    if array.dtype.kind == "b":
        return torch.from_numpy(array.astype(np.float32))
    return torch.from_numpy(np.ascontiguousarray(array).astype(np.int64, copy=False))


def split_validation(arrays, fraction):
    """Keras's `validation_split`: the last `fraction` of the samples, taken before any shuffling."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split must be in (0, 1); got {fraction}.")
    count = len(tree.flatten(arrays[0])[0])
    split_at = int(math.floor(count * (1.0 - fraction)))
    if split_at == 0 or split_at == count:
        raise ValueError(f"validation_split={fraction} leaves no samples for {'training' if split_at == 0 else 'validation'} "
                         f"with {count} samples.")
    head = tree.map_structure(lambda a: None if a is None else a[:split_at], arrays)
    tail = tree.map_structure(lambda a: None if a is None else a[split_at:], arrays)
    return head, tail


class ArrayData:
    """Batches of `(x, y, sample_weight)` from arrays held on `device`.

    Arguments:
        x, y, sample_weight: arrays or tensors (x and y may be lists or dicts of them); y and sample_weight may be
            None.
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: True (a new order each epoch), False, or "batch" (batches in a random order, each contiguous).
        class_weight: {class index: weight}, turned into per-sample weights once.
        device: where the arrays live while training.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False, class_weight=None,
                 device=None):
        if x is None:
            raise ValueError("No input data: pass x (a NumPy array, a torch tensor, or a list or dict of them).")
        device = device or config.device()
        self.x = tree.map_structure(lambda a: to_tensor(a, "x").to(device), x)
        self.y = None if y is None else tree.map_structure(lambda a: to_tensor(a, "y").to(device), y)
        self.sample_weight = None if sample_weight is None else \
            to_tensor(sample_weight, "sample_weight").to(device, config.standardize_dtype())
        self.num_samples = self._check_lengths()
        if class_weight is not None:
            self.sample_weight = class_weights_to_sample_weights(class_weight, self.y, self.sample_weight)
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}.")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = device
        self.steps = math.ceil(self.num_samples / batch_size)

    def _check_lengths(self):
        named = [("x", a) for a in tree.flatten(self.x)] + [("y", a) for a in tree.flatten(self.y)] + \
            [("sample_weight", self.sample_weight)]
        lengths = {(name, len(a)) for name, a in named if a is not None}
        counts = {n for _, n in lengths}
        if len(counts) > 1:
            described = ", ".join(f"{name} has {n}" for name, n in sorted(lengths))
            raise ValueError(f"x, y and sample_weight must have the same number of samples; {described}.")
        count = counts.pop()
        if count == 0:
            raise ValueError("The data has no samples.")
        return count

    def count_nans(self):
        """The number of NaN values in x (one host synchronisation; called once before training)."""
        return int(sum(torch.isnan(a).sum() for a in tree.flatten(self.x) if a.is_floating_point()))

    def explain(self, error, index, x):
        """An error raised while training on batch `index`, as it is (in-memory batches all share one shape)."""
        return error

    def first_batch(self):
        """The first batch, for checking shapes and labels before training."""
        return self._take(slice(0, min(self.batch_size, self.num_samples)))

    def _take(self, index):
        take = lambda a: None if a is None else a[index]  # noqa: E731
        return tree.map_structure(take, self.x), tree.map_structure(take, self.y), take(self.sample_weight)

    def epoch(self):
        """The batches of one pass over the data, in this epoch's order."""
        n, size = self.num_samples, self.batch_size
        if self.shuffle is True:
            order = torch.randperm(n, device=self.device)
            for start in range(0, n, size):
                yield self._take(order[start:start + size])
        elif self.shuffle == "batch":
            for start in (torch.randperm(self.steps) * size).tolist():
                yield self._take(slice(start, start + size))
        else:
            for start in range(0, n, size):
                yield self._take(slice(start, start + size))

    def batches(self, steps=None):
        """`steps` batches per call of `epoch()`-style iteration; with `steps` set, continues where it stopped."""
        if steps is None:
            yield from self.epoch()
            return
        if not hasattr(self, "_stream"):
            self._stream = self._endless()
        for _ in range(steps):
            yield next(self._stream)

    def _endless(self):
        while True:
            yield from self.epoch()


def class_weights_to_sample_weights(class_weight, y, sample_weight, warn=True):
    """Per-sample weights from `{class: weight}` and labels (integers, or one-hot rows), times `sample_weight`."""
    if y is None or not torch.is_tensor(y):
        raise ValueError("class_weight needs a single array of labels y.")
    labels = y.argmax(-1) if y.dim() > 1 and y.shape[-1] > 1 else y.reshape(-1).round().long()
    size = max(int(labels.max()) + 1, max(class_weight) + 1)
    table = torch.ones(size, device=y.device)
    for cls, weight in class_weight.items():
        table[int(cls)] = float(weight)
    missing = set(range(size)) - {int(c) for c in class_weight}
    if missing and warn:
        warnings.warn(f"class_weight gives no weight for classes {sorted(missing)}; they get weight 1.")
    weights = table[labels]
    return weights if sample_weight is None else weights * sample_weight
