"""What one call of `fit`, `evaluate` or `predict` does differently when several processes train together.

The model stays the user's object; for training, `DistributedDataParallel` wraps it and averages the gradients.
Each process's loss is scaled by its sharded data's `loss_scale`, so that the averaged gradient is exactly the
gradient of the global batch, even when the processes' shares differ in size. The update is the model's own
(`Trainer._minimize`): under `mixed_float16` its LossScaleOptimizer multiplies the loss by the loss scale before the
backward pass, and as every process unscales the same averaged gradients, they all skip the same steps. Metrics are
summed over the processes whenever the fit loop reads them at an epoch's end (batch-level logs stay each process's
own, as reading them is never synchronised between processes).
"""
import gc

import torch
from torch.nn.parallel import DistributedDataParallel

from deepglass.callbacks.callback import Callback
from deepglass.distribution import distribution_lib, process_group, sharding
from deepglass.utils import tree


def begin(model):
    """A `ParallelRun` for one call on `model` when a multi-process distribution is active, else None."""
    distribution = distribution_lib.distribution()
    if distribution is None or distribution.num_processes == 1:
        return None
    distribution.connect()
    return distribution.parallel_run(model)


class ParallelRun:
    """One call of fit, evaluate or predict on several processes.

    Attributes:
        device: this process's device.
        is_chief: whether this process is rank 0 (it prints progress and writes files).
    """

    def __init__(self, distribution, model):
        self.distribution, self.model = distribution, model
        self.rank, self.world = process_group.process_id(), process_group.num_processes()
        self.device = distribution.device
        self.is_chief = self.rank == 0
        self.wrapped = None
        self.train_data = None

    def shard(self, data, training=False):
        """This process's share of an adapter's data (see `sharding`)."""
        return sharding.shard(data, self.distribution, training)

    # ----------------------------------------------------------------------------------------------------- training
    def start_training(self, train):
        """Check that every process starts alike, then wrap the model for the gradient all-reduce."""
        check_same_start(self.model, train, self.rank, self.distribution.auto_shard_dataset)
        self.train_data = train
        trainable = any(p.requires_grad for p in self.model.parameters())
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        self.wrapped = DistributedDataParallel(self.model, device_ids=device_ids) if trainable else self.model

    def stop_agreement(self):
        """The callback that makes the processes stop training together (see `StopTogether`)."""
        return StopTogether()

    def finish(self):
        """Drop the DistributedDataParallel wrapper, so that its gradient hooks leave the model now."""
        if self.wrapped is not None:
            self.wrapped = self.train_data = None
            gc.collect()  # the wrapper holds reference cycles: collect them rather than wait

    def train_step(self, x, y, sample_weight, call_kwargs):
        """The fit loop's train step, on this process's share of a global batch."""
        model, scale = self.model, self.train_data.loss_scale
        y_pred = model._loss_outputs(self.wrapped(x, **call_kwargs))
        penalties = self.weight_penalties()
        if scale == 0.0:  # no samples here: only the weight penalties, which every process adds to the average
            model._minimize(sum(t.sum() for t in tree.flatten(y_pred)) * 0.0 + sum(penalties, torch.zeros(())))
            return
        y = model._targets(y)
        loss, parts = model._compiled_loss(y, y_pred, sample_weight)
        total = model._add_penalties(loss, penalties)
        model._step_loss = total.detach()
        # The batch-dependent terms (data loss, layer losses) weigh this share's part of the global batch; weight
        # penalties are the same on every process and are averaged as they are. The update is fit's own (loss
        # scaling included); the wrapper's hooks average the gradients during its backward pass.
        model._minimize(total if scale == 1.0 else total + (loss + _layer_losses(model)) * (scale - 1.0))
        model._update_metrics(total, parts, y, y_pred, sample_weight)

    def weight_penalties(self):
        """This step's weight penalties (`kernel_regularizer`, ...), in the order of `model._penalties_in_use`."""
        return self.model._weight_penalties()

    # ------------------------------------------------------------------------------------------------------ metrics
    @torch.no_grad()
    def metric_results(self):
        """The metrics' values over every process's samples (their states summed over the processes). In fit, read
        when an epoch's batches are done, the buffers (BatchNormalization's moving statistics) become rank 0's on
        every process first: the epoch's last step updated each process's own, after the wrapper's last broadcast."""
        model = self.model
        if self.train_data is not None:
            for buffer in model.buffers():
                process_group.broadcast(buffer)
        variables = [v for metric in model.metrics for v in metric.variables]
        if not variables:
            return model._metric_results()
        local = [v.clone() for v in variables]
        total = process_group.all_reduce(torch.cat([v.detach().reshape(-1).double() for v in variables]))
        for variable, part in zip(variables, total.split([v.numel() for v in variables])):
            variable.copy_(part.view_as(variable))
        try:
            return {name: torch.as_tensor(value).clone() for name, value in model._metric_results().items()}
        finally:  # the local sums again, so that reading twice never counts twice
            for variable, value in zip(variables, local):
                variable.copy_(value)

    # ------------------------------------------------------------------------------------------------------ predict
    def gather_predictions(self, data, chunks):
        """Every process's outputs (`chunks`: per batch, the flat list of outputs) as full tensors, in the order of
        the data; each process returns them all. Unsharded data (auto_shard_dataset=False) stays local."""
        if not self.distribution.auto_shard_dataset:
            return [torch.cat(parts) for parts in zip(*chunks)]
        interleaved = isinstance(data, (sharding.ShardedArrays, sharding.ShardedLoader))
        counts = [int(c) for c in process_group.all_gather(torch.tensor([len(chunks)]))]
        if min(counts) == 0:
            raise ValueError(f"predict() gave rank {counts.index(0)} no batch (seen from rank {self.rank}): the data "
                             f"has fewer batches than the {self.world} processes; give it at least one per process.")
        sizes = torch.zeros(max(counts), dtype=torch.int64)
        sizes[:len(chunks)] = torch.tensor([len(chunk[0]) for chunk in chunks], dtype=torch.int64)
        sizes = [s.tolist() for s in process_group.all_gather(sizes)]
        rows = max(sum(s) for s in sizes)
        leaves = []
        for leaf in zip(*chunks):
            mine = torch.cat(leaf)
            padded = torch.cat([mine, mine.new_zeros((rows - len(mine),) + tuple(mine.shape[1:]))])
            parts = [list(g[:sum(s)].split(s)) for g, s in zip(process_group.all_gather(padded), sizes)]
            leaves.append(_assemble(parts, counts, interleaved, self.world))
        return leaves


class StopTogether(Callback):
    """The last callback of a fit on several processes: after each batch and each epoch the processes agree (one
    all-reduce of a flag, through gloo) to stop when any of them was asked to, for instance by a callback reading its
    own batch's loss, so that none is left waiting for the others in the next gradient all-reduce."""

    def on_train_batch_end(self, batch, logs=None):
        self._agree()

    def on_epoch_end(self, epoch, logs=None):
        self._agree()

    def _agree(self):
        asked = process_group.all_reduce(torch.tensor([float(bool(self.model.stop_training))]))
        self.model.stop_training = bool(asked[0])


def _assemble(parts, counts, interleaved, world):
    """The global order from every rank's per-batch outputs: each global batch's shares interleaved sample by
    sample (rank-strided shares), or the batches taken in turn (dealt-out batches)."""
    batches = []
    for index in range(max(counts)):
        shares = [(rank, parts[rank][index]) for rank in range(world) if index < counts[rank]]
        if interleaved:
            whole = shares[0][1].new_empty((sum(len(s) for _, s in shares),) + tuple(shares[0][1].shape[1:]))
            for rank, share in shares:
                whole[rank::world] = share
            batches.append(whole)
        else:
            batches.extend(share for _, share in shares)
    return torch.cat(batches)


def _layer_losses(model):
    return sum((added for layer in model._loss_layers for added in layer._losses), torch.zeros(()))


def check_same_start(model, data, rank, sharded):
    """Refuse to train when the processes' weights (or, for sharded data, their data sizes or batch sizes) differ,
    naming the first rank that differs from rank 0; one all-gather of a few numbers."""
    weights = list(model.state_dict().items())
    prints = torch.stack([_fingerprint(t) for _, t in weights]).cpu() if weights else torch.zeros(0, dtype=torch.int64)
    facts = [len(weights), int(prints.sum()), *_data_facts(data, sharded)]
    gathered = [g.tolist() for g in process_group.all_gather(torch.tensor(facts, dtype=torch.int64))]
    chief = gathered[0]
    for other, theirs in enumerate(gathered):
        if theirs[2:] != chief[2:]:
            field = next(i for i in range(2, len(chief)) if theirs[i] != chief[i]) - 2
            what = ("uses batch_size={}", "has {} samples", "has {} batches per epoch")[field]
            raise ValueError(f"Rank {other} {what.format(theirs[field + 2])}, but rank 0 "
                             f"{what.format(chief[field + 2])} (seen from rank {rank}): give every process the same "
                             "data and batch_size; deepglass splits them between the processes.")
        if theirs[0] != chief[0]:
            raise ValueError(f"The model on rank {other} has {theirs[0]} weight tensors, but rank 0's has "
                             f"{chief[0]}: every process must build the same model (seen from rank {rank}).")
    if any(theirs[1] != chief[1] for theirs in gathered):
        per_tensor = process_group.all_gather(prints)
        other = next(r for r, p in enumerate(per_tensor) if not torch.equal(p, per_tensor[0]))
        name = weights[int((per_tensor[other] != per_tensor[0]).nonzero()[0, 0])][0]
        raise ValueError(f"The model's weights on rank {other} differ from rank 0's before training (first: "
                         f"'{name}'; seen from rank {rank}): every process must start from the same weights. Call "
                         "deepglass.utils.set_random_seed(seed) with the same seed on every process before building "
                         "the model, or load the same weights on each.")


def _fingerprint(tensor):
    """An exact, order-independent checksum of a tensor's bits (integer sums wrap the same on every process)."""
    flat = tensor.detach().reshape(-1)
    if flat.is_complex():
        flat = torch.view_as_real(flat).reshape(-1)
    if flat.dtype.is_floating_point:
        flat = flat.view({8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.int8}[flat.element_size()])
    return flat.sum(dtype=torch.int64)


def _data_facts(data, sharded):
    if not sharded:
        return [-1, -1, -1]
    if isinstance(data, sharding.ShardedArrays):
        return [data.batch_size, data.num_samples, data.steps]
    if isinstance(data, sharding.ShardedLoader):
        return [data.sampler.batch_size, len(data.sampler.sampler), data.steps]
    return [-1, -1, -1]  # batches dealt out in turn: each process's count is its own
