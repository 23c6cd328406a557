"""Every input form `fit`, `evaluate` and `predict` take, behind one interface.

An adapter has `steps` (batches per pass, or None when unknown), `first_batch()` and `first_labels()` (for the
checks before training), `count_nans()` and `batches(steps=None)`, which yields `(x, y, sample_weight)` on the device.
In-memory arrays and tensors use `ArrayData`; torch `DataLoader`s and `Dataset`s, `PyDataset`s and Python
generators or iterators use `BatchStream`.
"""
import concurrent.futures
import itertools
import random
import warnings

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from deepglass.training.array_data import (
    ArrayData, class_weights_to_sample_weights, count_nans, is_text, to_tensor,
)
from deepglass.utils import tree
from deepglass.utils.py_dataset import PyDataset


def is_array_data(x):
    """True for NumPy arrays, torch tensors, numbers in nested lists, and lists/tuples/dicts of arrays."""
    return all(isinstance(leaf, (np.ndarray, torch.Tensor, int, float, np.generic)) for leaf in tree.flatten(x))


def adapt(x, y=None, sample_weight=None, batch_size=None, shuffle=False, class_weight=None, device=None):
    """The adapter for `x`'s form; for non-array forms `y` and `sample_weight` must come from `x` itself."""
    if x is None:
        raise ValueError("No input data: pass x (arrays, tensors, a DataLoader, a Dataset, a PyDataset or a "
                         "generator).")
    if is_array_data(x):
        return ArrayData(x, y, sample_weight, 32 if batch_size is None else batch_size, shuffle, class_weight,
                         device)
    kind = _describe(x)
    if y is not None or sample_weight is not None:
        raise ValueError(f"With a {kind} as x, the targets and sample weights come from its batches; do not pass "
                         "y or sample_weight separately.")
    if isinstance(x, Dataset) and not isinstance(x, DataLoader):
        loader = DataLoader(x, batch_size=32 if batch_size is None else batch_size,
                            shuffle=bool(shuffle) and not isinstance(x, IterableDataset))
        return BatchStream(loader, "torch Dataset", device, class_weight)
    if batch_size is not None:
        raise ValueError(f"Do not pass batch_size with a {kind}: its batches are already made. Got "
                         f"batch_size={batch_size}.")
    if isinstance(x, PyDataset):
        return BatchStream(_PyDatasetSource(x, shuffle), kind, device, class_weight)
    if isinstance(x, DataLoader):
        return BatchStream(x, kind, device, class_weight)
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        return BatchStream(x, kind, device, class_weight)
    raise TypeError(f"Unrecognised data type for x: {type(x).__name__}. Expected NumPy arrays or torch tensors (or "
                    "lists / dicts of them), a torch DataLoader or Dataset, a deepglass.utils.PyDataset, or a "
                    "generator yielding (x, y) or (x, y, sample_weight) batches.")


def _describe(x):
    if isinstance(x, DataLoader):
        return "DataLoader"
    if isinstance(x, Dataset):
        return "torch Dataset"
    if isinstance(x, PyDataset):
        return "PyDataset"
    return "generator"


class _PyDatasetSource:
    """Iterating gives one epoch of a PyDataset's batches, prepared ahead in threads when it has workers."""

    def __init__(self, dataset, shuffle):
        self.dataset = dataset
        self.shuffle = shuffle

    def __len__(self):
        return len(self.dataset)

    def __iter__(self):
        order = self._order()
        if self.dataset.workers == 1:
            yield from (self.dataset[i] for i in order)
        else:
            yield from self._prefetched(order)
        self.dataset.on_epoch_end()

    def _order(self):
        """The indices of this epoch's batches, shuffled when asked."""
        order = list(range(len(self.dataset)))
        if self.shuffle:
            random.shuffle(order)
        return order

    def _prefetched(self, order):
        with concurrent.futures.ThreadPoolExecutor(self.dataset.workers) as pool:
            pending = [pool.submit(self.dataset.__getitem__, i) for i in order[:self.dataset.max_queue_size]]
            for upcoming in order[self.dataset.max_queue_size:] + [None] * self.dataset.max_queue_size:
                if not pending:
                    break
                batch = pending.pop(0).result()
                if upcoming is not None:
                    pending.append(pool.submit(self.dataset.__getitem__, upcoming))
                yield batch


class BatchStream:
    """Batches from a source that makes them itself: a DataLoader, PyDataset, generator or iterator.

    A re-iterable source (DataLoader, PyDataset) starts a new pass each epoch; a generator is consumed once, and
    with `steps_per_epoch` each epoch takes the next batches. Each batch goes to the device as it is used.
    """

    def __init__(self, source, kind, device, class_weight=None):
        self.source = source
        self.kind = kind
        self.device = device
        self.class_weight = class_weight
        # A DataLoader is never its own iterator; asking it would start its workers and draw its order.
        self.one_shot = not isinstance(source, DataLoader) and iter(source) is source
        self.replayable = not self.one_shot  # each pass can be drawn again from the same random state
        try:
            self.steps = len(source)
        except TypeError:
            self.steps = None
        self._stream = None
        self._peeked = None

    def first_batch(self):
        return self._convert(self._first())

    def first_labels(self):
        """The first batch's labels as the source made them (on the host, usually), for checking their values: see
        `ArrayData.first_labels`."""
        return self._tensors(self._first())[1]

    def _first(self):
        if self._peeked is None:
            preview = self._preview_loader()
            iterator = iter(preview) if preview is not None else self._iterator()
            self._peeked = self._next(iterator, 0)
            if self._peeked is None:
                raise ValueError(f"The {self.kind} yielded no batches.")
            if self.one_shot:
                self._stream = itertools.chain([self._peeked], iterator)
        return self._peeked

    def _preview_loader(self):
        """For a DataLoader with worker processes over a map-style dataset: the same dataset read in order in this
        process, so that looking at the first batch starts no workers (each epoch starts its own) and draws no
        random numbers. None where the source itself is read."""
        loader = self.source
        if (isinstance(loader, DataLoader) and loader.num_workers > 0 and loader.batch_size is not None
                and not isinstance(loader.dataset, IterableDataset)):
            return DataLoader(loader.dataset, batch_size=loader.batch_size, collate_fn=loader.collate_fn)
        return None

    def count_nans(self, wait=True):
        """NaN values in the first batch's inputs (the stream cannot be scanned ahead): see `count_nans`."""
        return count_nans(self.first_batch()[0], wait)

    def _iterator(self):
        return iter(self.source)

    def _next(self, iterator, index):
        try:
            return next(iterator)
        except StopIteration:
            return None
        except Exception as error:
            detail = f"{type(error).__name__}: {error}".rstrip(": ")
            if isinstance(error, (EOFError, ConnectionError)) and getattr(self.source, "num_workers", 0):
                # A worker that dies while it hands over a batch leaves only a closed connection behind.
                detail += " (a DataLoader worker process ended while sending a batch: it was killed or crashed)"
            raise RuntimeError(f"The {self.kind} failed while producing batch {index}: {detail}") from error

    def batches(self, steps=None):
        """One epoch's batches: the whole pass, or `steps` batches continuing where the last epoch stopped."""
        if self.one_shot or steps is not None:
            if self._stream is None:
                self._stream = self._iterator()
            iterator, limit = self._stream, steps
        else:
            iterator, limit = self._iterator(), None
        index = 0
        while limit is None or index < limit:
            batch = self._next(iterator, index)
            if batch is None:
                if steps is not None and not self.one_shot:  # a re-iterable source: start the next pass
                    self._stream = iterator = self._iterator()
                    batch = self._next(iterator, index)
                if batch is None:
                    if index == 0 or steps is not None:
                        warnings.warn(f"The {self.kind} ran out of data after {index} batches of this epoch; pass "
                                      "steps_per_epoch that it can supply, or use a source that can be iterated "
                                      "again (a DataLoader or PyDataset).", stacklevel=4)
                    return
            yield self._convert(batch)
            index += 1

    def _tensors(self, batch):
        """`(x, y, sample_weight)` of a batch as the source made it, as tensors where they were (text inputs stay
        NumPy: see TextArray)."""
        if isinstance(batch, dict) or not isinstance(batch, (tuple, list)):
            x, y, sample_weight = batch, None, None
        elif len(batch) in (1, 2, 3):
            x, y, sample_weight = (tuple(batch) + (None, None))[:3]
        else:
            raise ValueError(f"Each batch from the {self.kind} must be x, (x,), (x, y) or (x, y, sample_weight); "
                             f"got a sequence of {len(batch)} items.")
        tensor = lambda a: None if a is None else to_tensor(a, "batch")  # noqa: E731
        x = tree.map_structure(lambda a: a if is_text(a) else tensor(a), x)
        return x, tree.map_structure(tensor, y), tensor(sample_weight)

    def _convert(self, batch):
        """A batch on the device, with the class weights in its sample weights."""
        x, y, sample_weight = self._tensors(batch)
        if self.class_weight is not None and y is not None:  # before the move: reading host labels costs no wait
            sample_weight = class_weights_to_sample_weights(self.class_weight, y, sample_weight, warn=False)
        move = lambda a: None if a is None else a.to(self.device, non_blocking=True)  # noqa: E731
        x = tree.map_structure(lambda a: a if is_text(a) else move(a), x)
        return x, tree.map_structure(move, y), move(sample_weight)

    def explain(self, error, index, x):
        """A clearer error when batch `index` failed because its shape differs from the first batch's."""
        shapes = [tuple(a.shape) for a in tree.flatten(x)]
        first = [tuple(a.shape) for a in tree.flatten(self.first_batch()[0])]
        if [s[1:] for s in shapes] == [s[1:] for s in first]:
            return error
        shapes, first = (shapes[0], first[0]) if len(shapes) == 1 else (shapes, first)
        return ValueError(f"Batch {index} from the {self.kind} has inputs of shape {shapes}, but the first batch "
                          f"had {first}; every batch must have the same shape apart from its size. ({error})")
