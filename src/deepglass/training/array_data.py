"""Array data for fit/evaluate/predict: NumPy arrays and torch tensors (or lists and dicts of them).

In-memory arrays go to the device once per call (to a GPU through pinned buffers: `host_to_device`); each batch is
taken by indexing there, so feeding costs one gather per step. Memory-mapped arrays (`np.memmap`,
`np.load(..., mmap_mode="r")`) are read batch by batch instead, in a background thread, and never copied whole.
"""
import math
import mmap
import os
import queue
import threading
import warnings
import weakref

import numpy as np
import torch

from deepglass import config
from deepglass.training.host_to_device import to_device
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


def count_nans(x, wait=True):
    """The number of NaN values in the floating tensors of `x`. On the CPU a tensor whose sum is finite holds no NaN:
    that one pass costs 1/50 of counting, and fit pays it on every call; only the others are counted. With
    `wait=False`, tensors on an accelerator are counted there and the count is a tensor, which the caller reads when
    it waits for the device anyway (reading it now would wait at once)."""
    floats = [a for a in tree.flatten(x) if torch.is_tensor(a) and a.is_floating_point()]
    if not wait and floats and floats[0].device.type != "cpu":
        return sum(torch.isnan(a).sum() for a in floats)
    return int(sum(torch.isnan(a).sum() for a in floats if not bool(torch.isfinite(a.sum()))))


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

    replayable = True  # each epoch's order is drawn from torch's generator, so it can be drawn again

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False, class_weight=None,
                 device=None):
        if x is None:
            raise ValueError("No input data: pass x (a NumPy array, a torch tensor, or a list or dict of them).")
        device = device or config.device()
        self.x = tree.map_structure(lambda a: _place(a, device), x)
        host_y = None if y is None else tree.map_structure(lambda a: to_tensor(a, "y"), y)
        self.y = None if host_y is None else tree.map_structure(lambda a: to_device(a, device), host_y)
        self.sample_weight = None if sample_weight is None else \
            to_tensor(sample_weight, "sample_weight").to(config.standardize_dtype())
        self.num_samples = self._check_lengths()
        if class_weight is not None:  # from the labels as given: read on the host, they cost no wait for the device
            self.sample_weight = class_weights_to_sample_weights(class_weight, host_y, self.sample_weight)
        if self.sample_weight is not None:
            self.sample_weight = to_device(self.sample_weight, device)
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}.")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = device
        self.steps = math.ceil(self.num_samples / batch_size)
        self._host_labels = self._first_on_host(host_y)

    def _first_on_host(self, host_y):
        """The first batch of labels that came from the host and now live on an accelerator, as a host copy (a
        copy, not a view, which would keep the whole host array alive); None otherwise."""
        if host_y is None or torch.device(self.device).type == "cpu" or \
                any(a.device.type != "cpu" for a in tree.flatten(host_y)):
            return None
        count = min(self.batch_size, self.num_samples)
        return tree.map_structure(lambda a: a[:count].clone(), host_y)

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

    def count_nans(self, wait=True):
        """The number of NaN values in the in-memory part of x (before training): see `count_nans`."""
        return count_nans(self.x, wait)

    @property
    def streamed(self):
        return any(isinstance(a, StreamedArray) for a in tree.flatten(self.x))

    def explain(self, error, index, x):
        """An error raised while training on batch `index`, as it is (in-memory batches all share one shape)."""
        return error

    def first_batch(self):
        """The first batch, for checking shapes and labels before training."""
        return self._take(slice(0, min(self.batch_size, self.num_samples)))

    def first_labels(self):
        """The first batch's labels, for checking their values before training: from the host where they came from
        there, since reading them back from an accelerator would wait for everything queued on it (the copy of the
        data, the first batch's check)."""
        return self.first_batch()[1] if self._host_labels is None else self._host_labels

    def _take(self, index):
        return _take(self.x, index), _take(self.y, index), _take(self.sample_weight, index)

    def epoch(self):
        """The batches of one pass over the data, in this epoch's order (drawn here, in the caller's thread, so
        seeded runs repeat even when a background thread reads the batches)."""
        batches = (self._take(index) for index in self._epoch_order())
        return _prefetched(batches) if self.streamed else batches

    def _epoch_order(self):
        n, size = self.num_samples, self.batch_size
        if self.shuffle is True:
            order = torch.randperm(n, device=self.device)
            return [order[start:start + size] for start in range(0, n, size)]
        starts = (torch.randperm(self.steps) * size).tolist() if self.shuffle == "batch" else range(0, n, size)
        return [slice(start, start + size) for start in starts]

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


def _take(structure, index):
    """The samples `index` of every array in `structure` (one tensor, the usual case, without walking a tree)."""
    if type(structure) is torch.Tensor:
        return structure[index]
    return None if structure is None else tree.map_structure(lambda a: a[index], structure)


def _place(array, device):
    if isinstance(array, np.memmap):
        return StreamedArray(array, device)
    if is_text(array):
        return TextArray(array)
    return to_device(to_tensor(array, "x"), device)


def is_text(array):
    """True for a NumPy array of str or bytes, or of Python objects that are all str or bytes."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "USO":
        return False
    return array.dtype.kind != "O" or all(isinstance(v, (str, bytes)) for v in array.reshape(-1).tolist())


class TextArray:
    """Strings for the text layers (TextVectorization, StringLookup, Hashing): torch has no string tensors, so they
    stay a NumPy array in host memory and each batch is a NumPy array of its rows."""

    def __init__(self, array):
        self.array = array
        self.shape = array.shape

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        return self.array[index.cpu().numpy() if torch.is_tensor(index) else index]


class StreamedArray:
    """A memory-mapped array read a batch at a time with positioned reads of just the rows asked for.

    Reading through the mapping itself would map whole runs of the file into the process (the kernel maps pages
    around each one touched), so memory would grow towards the file's size; reads into a fresh buffer keep it
    near one batch whatever the file's size.
    """

    def __init__(self, array, device):
        self.array = array
        self.device = device
        self.shape = array.shape
        self._file = _RowFile.open(array)

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        if torch.is_tensor(index):
            index = index.cpu().numpy()
        if self._file is not None:
            rows = self._file.read(index)
        else:  # rows not stored contiguously in the file: read through the mapping
            rows = np.array(self.array[index])
        tensor = to_tensor(rows, "x")
        if self.device.type == "cuda":
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)


class _RowFile:
    """Positioned reads of whole rows of an `np.memmap` whose rows lie contiguously in its file."""

    def __init__(self, array, descriptor, first_row):
        self.dtype = array.dtype
        self.row_shape = array.shape[1:]
        self.row_bytes = array.strides[0]
        self.row_size = array.dtype.itemsize * math.prod(self.row_shape)
        self.count = len(array)
        self.descriptor = descriptor
        self.first_row = first_row
        weakref.finalize(self, os.close, descriptor)

    @classmethod
    def open(cls, array):
        mapping = getattr(array, "_mmap", None)
        filename = getattr(array, "filename", None)
        if mapping is None or filename is None or array.ndim == 0 or not array[:1].flags.c_contiguous:
            return None
        mapped_at = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
        mapped_from = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
        return cls(array, os.open(filename, os.O_RDONLY), array.ctypes.data - mapped_at + mapped_from)

    def read(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.count)
            index = np.arange(start, stop, step)
        index = np.asarray(index, dtype=np.int64)
        order = np.argsort(index, kind="stable")
        wanted = index[order]
        out = np.empty((len(index),) + self.row_shape, dtype=self.dtype)
        sorted_rows = out.reshape(len(index), -1).view(np.uint8)
        run_start = 0
        for i in range(1, len(wanted) + 1):  # one read per run of consecutive rows
            if i == len(wanted) or wanted[i] != wanted[i - 1] + 1 or self.row_bytes != self.row_size:
                self._read_run(wanted[run_start], sorted_rows[run_start:i])
                run_start = i
        result = np.empty_like(out)
        result[order] = out
        return result

    def _read_run(self, row, buffer):
        position = self.first_row + int(row) * self.row_bytes
        target = memoryview(buffer).cast("B")
        while len(target):
            count = os.preadv(self.descriptor, [target], position)
            if count == 0:
                raise OSError(f"{self.descriptor}: the memory-mapped file ended before row {row}.")
            target, position = target[count:], position + count


def _prefetched(batches, depth=2):
    """Yield from `batches` while a background thread reads the next ones; stopping early stops the thread."""
    ready, stop, done = queue.Queue(maxsize=depth), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for batch in batches:
                if not put(batch):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)
            return
        put(done)

    threading.Thread(target=produce, daemon=True).start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


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
    return weights if sample_weight is None else weights * sample_weight.to(weights.device)
