"""Each process's share of the data, so that every sample is seen once per epoch across the processes.

- Arrays and tensors, torch Datasets and map-style DataLoaders: `batch_size` is the global batch. Rank 0 draws the
  epoch's order exactly as a single process would (and sends it to the others); each global batch is split
  rank-strided: rank `r` of `N` takes its samples `r, r + N, r + 2N, ...`. Nothing is padded or dropped: when the
  last global batch does not divide by `N`, the processes take shares of different sizes (possibly none), and
  `loss_scale` (the share's size times `N` over the global batch's size) makes the averaged gradient that of the
  whole global batch.
- Generators, PyDatasets, iterable datasets and DataLoaders with their own batch sampler: their batches are
  dealt out in turn (rank `r` takes batches `r, r + N, ...`), so a global step is `N` of their batches. In
  training the processes agree at each step (one small all-reduce) on whether any still has a batch.

Every sharded source has `loss_scale`, set for the batch it has just yielded; 0 means this process's share is
empty and it takes part in the step only to join the gradient all-reduce.
"""
import itertools
import math

import torch
from torch.utils.data import BatchSampler, DataLoader, IterableDataset, Sampler

from deepglass.distribution import process_group
from deepglass.training.array_data import ArrayData, _prefetched
from deepglass.training.data_adapters import BatchStream, _PyDatasetSource
from deepglass.utils import tree


def shard(data, distribution, training):
    """This process's share of an adapter's data (see the module's docstring); `training` keeps empty shares."""
    rank, world = process_group.process_id(), process_group.num_processes()
    if not distribution.auto_shard_dataset:  # each process was given its own part already
        return AgreedBatches(data, world) if training else data
    if isinstance(data, ArrayData):
        check_global_batch(data.batch_size, data.num_samples, rank, world)
        return ShardedArrays(data, rank, world, training)
    if _map_style(data.source):
        check_global_batch(data.source.batch_size, len(data.source.sampler), rank, world)
        return ShardedLoader(data, rank, world, training)
    if isinstance(data.source, _PyDatasetSource):
        strided = BatchStream(StridedPyDataset(data.source.dataset, data.source.shuffle, rank, world), data.kind,
                              data.device, data.class_weight)
    else:
        strided = StridedStream(data, rank, world)
    return AgreedBatches(strided, world) if training else strided


def check_global_batch(batch_size, num_samples, rank, world):
    """Refuse a global batch (or a data set) too small to give every process a share."""
    if batch_size < world:
        raise ValueError(f"Rank {rank}: batch_size={batch_size} is smaller than the number of processes ({world}). "
                         "With DataParallel, batch_size is the global batch, split between the processes; pass "
                         f"batch_size={world} or more (a multiple of {world} gives every process the same share).")
    if num_samples < world:
        raise ValueError(f"Rank {rank}: the data has {num_samples} samples, fewer than the {world} processes that "
                         "share it; give it at least one sample per process.")


def _map_style(loader):
    return isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset) and \
        type(loader.batch_sampler) is BatchSampler and loader.batch_size is not None


def _rank_zero_order(draw, count):
    """`draw()` (a list or tensor of `count` integers) on rank 0, sent to every rank as a CPU tensor."""
    order = torch.as_tensor(draw(), dtype=torch.int64) if process_group.process_id() == 0 else \
        torch.empty(count, dtype=torch.int64)
    return process_group.broadcast(order.cpu())


def empty_like(batch):
    """A batch with the structure, shapes and devices of `batch` but no samples."""
    return tree.map_structure(lambda a: None if a is None else a[:0], batch)


class ShardedArrays:
    """`ArrayData` split as the module's docstring says: each global batch rank-strided between the processes."""

    replayable = True

    def __init__(self, data, rank, world, training):
        self.data, self.rank, self.world, self.training = data, rank, world, training
        self.steps, self.num_samples, self.batch_size = data.steps, data.num_samples, data.batch_size
        self.loss_scale = 1.0

    def first_batch(self):
        return self.data.first_batch()

    def first_labels(self):
        return self.data.first_labels()

    def count_nans(self, wait=True):
        return self.data.count_nans(wait)

    def explain(self, error, index, x):
        return error

    def _plan(self):
        """This process's part of each global batch of the epoch, as (index, loss scale) pairs."""
        n, size, shuffle, device = self.num_samples, self.batch_size, self.data.shuffle, self.data.device
        if shuffle is True:  # the same draw as one process's ArrayData, on rank 0
            order = _rank_zero_order(lambda: torch.randperm(n, device=device), n).to(device)
        starts = range(0, n, size)
        if shuffle == "batch":
            starts = (_rank_zero_order(lambda: torch.randperm(self.steps), self.steps) * size).tolist()
        plan = []
        for start in starts:
            count = min(size, n - start)
            part = slice(start + self.rank, start + count, self.world)
            plan.append((order[part] if shuffle is True else part, len(range(*part.indices(n))) * self.world / count))
        return plan

    def epoch(self):
        plan = [(index, scale) for index, scale in self._plan() if scale or self.training]
        batches = (self.data._take(index) for index, _ in plan)
        if self.data.streamed:
            batches = _prefetched(batches)
        for batch, (_, scale) in zip(batches, plan):
            self.loss_scale = scale
            yield batch

    batches = ArrayData.batches
    _endless = ArrayData._endless


class _EmptyShare:
    """What a rank's collate function returns for an empty share (a DataLoader cannot make an empty batch)."""


class _CollateShare:
    """The loader's collate function, except for an empty share (picklable, for worker processes)."""

    def __init__(self, collate_fn):
        self.collate_fn = collate_fn

    def __call__(self, samples):
        return _EmptyShare() if len(samples) == 0 else self.collate_fn(samples)


class GlobalBatchSampler(Sampler):
    """Rank `rank`'s share of each global batch of `sampler`'s order, drawn on rank 0 and sent to every rank."""

    def __init__(self, sampler, batch_size, drop_last, rank, world):
        self.sampler, self.batch_size, self.drop_last, self.rank, self.world = \
            sampler, batch_size, drop_last, rank, world

    def __len__(self):
        count = len(self.sampler)
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def __iter__(self):
        order = _rank_zero_order(lambda: list(self.sampler), len(self.sampler)).tolist()
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch[self.rank::self.world]


def _rebuilt(loader, batch_sampler):
    """`loader` with `batch_sampler` in place of its own (every other setting kept)."""
    settings = dict(num_workers=loader.num_workers, collate_fn=_CollateShare(loader.collate_fn),
                    pin_memory=loader.pin_memory, timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
                    multiprocessing_context=loader.multiprocessing_context, generator=loader.generator,
                    persistent_workers=loader.persistent_workers, pin_memory_device=loader.pin_memory_device,
                    in_order=loader.in_order)
    if loader.num_workers:
        settings["prefetch_factor"] = loader.prefetch_factor
    return DataLoader(loader.dataset, batch_sampler=batch_sampler, **settings)


class ShardedLoader(BatchStream):
    """A map-style DataLoader whose `batch_size` is the global batch, split between the processes."""

    def __init__(self, stream, rank, world, training):
        loader = stream.source
        self.sampler = GlobalBatchSampler(loader.sampler, loader.batch_size, loader.drop_last, rank, world)
        super().__init__(_rebuilt(loader, self.sampler), stream.kind, stream.device, stream.class_weight)
        self.rank, self.world, self.training = rank, world, training
        self.loss_scale = 1.0
        self._empty = None

    def _iterator(self):
        return enumerate(iter(self.source))  # the batch's place in the pass gives its global size

    def first_labels(self):
        batch = self._first()[1]  # after its index
        return None if isinstance(batch, _EmptyShare) else self._tensors(batch)[1]  # an empty share has none

    def _convert(self, item):
        index, batch = item
        if isinstance(batch, _EmptyShare):
            if self._empty is None:
                self._empty = empty_like(self.first_batch())
            self.loss_scale = 0.0
            return self._empty
        count = min(self.sampler.batch_size, len(self.sampler.sampler) - index * self.sampler.batch_size)
        self.loss_scale = len(range(self.rank, count, self.world)) * self.world / count
        return super()._convert(batch)

    def batches(self, steps=None):
        for batch in super().batches(steps):
            if self.loss_scale or self.training:
                yield batch


class StridedStream(BatchStream):
    """A generator, iterable dataset or DataLoader with its own batch sampler: rank `r` takes batches r, r+N, ..."""

    def __init__(self, stream, rank, world):
        super().__init__(stream.source, stream.kind, stream.device, stream.class_weight)
        self.rank, self.world = rank, world
        if self.steps is not None:
            self.steps = len(range(rank, self.steps, world))

    def _iterator(self):
        return itertools.islice(iter(self.source), self.rank, None, self.world)

    def first_batch(self):
        try:
            return super().first_batch()
        except ValueError as error:  # no batch at all for this process
            raise ValueError(f"Rank {self.rank} got no batch from the {self.kind}: it gives fewer batches than the "
                             f"{self.world} processes; give it at least one batch per process.") from error


class StridedPyDataset(_PyDatasetSource):
    """A PyDataset's batches dealt out in turn; each process prepares only its own, in rank 0's order."""

    def __init__(self, dataset, shuffle, rank, world):
        super().__init__(dataset, shuffle)
        self.rank, self.world = rank, world

    def __len__(self):
        return len(range(self.rank, len(self.dataset), self.world))

    def _order(self):
        order = _rank_zero_order(super()._order, len(self.dataset)).tolist()
        return order[self.rank::self.world]


class AgreedBatches:
    """Training batches of a source whose batch count may differ between processes.

    Before each step the processes agree, in one all-reduce of two numbers, on whether any still has a batch and
    on the step's global number of samples; a process that has run out takes an empty step, so that
    DistributedDataParallel's gradient all-reduce always has every process. `loss_scale` makes the averaged
    gradient that of all the step's samples together.
    """

    def __init__(self, data, world):
        self.data, self.world = data, world
        self.loss_scale = 1.0
        self._empty = None

    def __getattr__(self, name):  # steps, first_batch, count_nans, explain, ... are the source's
        return getattr(self.__dict__["data"], name)

    def batches(self, steps=None):
        batches = self.data.batches(steps)
        while True:
            batch = next(batches, None)
            size = 0 if batch is None else len(tree.flatten(batch[0])[0])
            agreed = process_group.all_reduce(torch.tensor([float(batch is not None), float(size)],
                                                           dtype=torch.float64))
            if agreed[0] == 0:
                return
            if batch is None:
                if self._empty is None:
                    self._empty = empty_like(self.data.first_batch())
                batch, self.loss_scale = self._empty, 0.0
            else:
                self.loss_scale = size * self.world / float(agreed[1])
            yield batch
