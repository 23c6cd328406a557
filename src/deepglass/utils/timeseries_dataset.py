"""Sliding windows over a time series: Keras's `timeseries_dataset_from_array`, windows gathered per batch."""
import math

import numpy as np
import torch

from deepglass.utils.py_dataset import PyDataset


class TimeseriesWindows(PyDataset):
    """Batches of windows `data[p], data[p + r], ..., data[p + (sequence_length - 1) * r]` for start positions
    `p`, gathered by indexing when a batch is asked for (so memory holds one batch of windows, never all)."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size, shuffle, rng):
        super().__init__()
        self.data = data
        self.targets = targets
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._starts = starts
        self._offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate
        self._rng = rng

    def __len__(self):
        if self.batch_size is None:
            return len(self._starts)
        return math.ceil(len(self._starts) / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range for a dataset of {len(self)} batches.")
        index %= len(self)
        if self.batch_size is None:
            starts = self._starts[index]
        else:
            starts = self._starts[index * self.batch_size:(index + 1) * self.batch_size]
        windows = _take(self.data, np.add.outer(starts, self._offsets))
        return windows if self.targets is None else (windows, _take(self.targets, starts))

    def on_epoch_end(self):
        if self.shuffle:
            self._rng.shuffle(self._starts)


def _take(array, index):
    """`array[index]` as a tensor, reading only those rows (works on memory-mapped arrays too)."""
    if torch.is_tensor(array):
        return array[torch.from_numpy(np.asarray(index))]
    return torch.from_numpy(np.ascontiguousarray(array[index]))


def _check_position(name, value, length, low):
    if not isinstance(value, (int, np.integer)) or not low <= value < length:
        raise ValueError(f"`{name}` must be an integer from {low} to {length - 1} (data has {length} steps). "
                         f"Received: {name}={value!r}")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None):
    """A dataset of sliding windows over `data` (time along axis 0) that `fit`, `evaluate` and `predict` take.

    Window `i` starts at `p_i = i * sequence_stride` (counted from `start_index`) and holds the steps
    `p_i, p_i + sampling_rate, ..., p_i + (sequence_length - 1) * sampling_rate`; its target is
    `targets[start_index + p_i]`. Windows that would reach past `end_index` are dropped.

    Arguments:
        data: a NumPy array (memory-mapped ones are read a batch at a time) or torch tensor, steps along axis 0.
        targets: one target per step (`targets[i]` goes with the window starting at `i`), or `None`.
        sequence_length: steps per window.
        sequence_stride: steps between the starts of successive windows.
        sampling_rate: steps between successive elements of a window.
        batch_size: windows per batch; `None` yields single windows.
        shuffle: draw the windows in a random order (seeded with `seed`), reshuffled after each epoch.
        seed: the seed of the shuffle.
        start_index: steps before it are not used.
        end_index: steps from it on are not used.

    Returns a `deepglass.utils.PyDataset` of `(windows, targets)` batches (windows alone without targets), as
    tensors: windows of shape `(batch, sequence_length) + data.shape[1:]`.

    Example (predict step `t + 10` from steps `t .. t + 9`):
        >>> dataset = deepglass.utils.timeseries_dataset_from_array(series[:-10], series[10:], sequence_length=10)
        >>> model.fit(dataset, epochs=5)
    """
    if not torch.is_tensor(data) and not isinstance(data, np.ndarray):
        data = np.asarray(data)
    if targets is not None and not torch.is_tensor(targets) and not isinstance(targets, np.ndarray):
        targets = np.asarray(targets)
    length = len(data)
    for name, value in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                        ("sampling_rate", sampling_rate)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer. Received: "
                             f"{name}={value!r}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value >= length:
            raise ValueError(f"`{name}` must be lower than the length of the data ({length}). Received: "
                             f"{name}={value}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"Received an invalid value for `batch_size`, expected a positive integer or None. "
                         f"Received: batch_size={batch_size!r}")
    start_index = 0 if start_index is None else start_index
    _check_position("start_index", start_index, length, 0)
    if end_index is not None:
        _check_position("end_index", end_index, length, start_index + 1)
    end_index = length if end_index is None else end_index
    count = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets) - start_index)
    if count <= 0:
        raise ValueError(f"No complete window fits: a window spans {(sequence_length - 1) * sampling_rate + 1} "
                         f"steps but steps {start_index} to {end_index} give {end_index - start_index}; use a "
                         "shorter sequence_length, a smaller sampling_rate or more data.")
    starts = np.arange(0, count, sequence_stride, dtype=np.int64)
    rng = None
    if shuffle:
        rng = np.random.RandomState(np.random.randint(1e6) if seed is None else seed)
        rng.shuffle(starts)  # the first epoch's order is the one Keras draws for this seed
    return TimeseriesWindows(data[start_index:end_index], None if targets is None else targets[start_index:],
                             starts, sequence_length, sampling_rate, batch_size, shuffle, rng)
