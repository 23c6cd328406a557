"""Fully sharded data parallelism: `FullyShardedDataParallel`, PyTorch's FSDP2 (`fully_shard`) under deepglass's fit.

Everything `DataParallel` does stays as it is (the global batch and its sharding, summed metrics, rank-0-only
output, stopping together, the start check); what changes is where the weights live while batches train. At the
first training step of each epoch, every module that directly owns weights becomes an FSDP unit (those owning
fewer than `min_weights_per_unit` values join the unit of the model itself), so each process keeps only its
`1/N` share (dim 0) of each weight, of its gradient and of the optimizer's state for it; a unit's weights are
all-gathered just before it runs (and again for the backward pass when `reshard_after_forward`), and its gradients
are reduce-scattered, so that each process receives the average over the processes of its own share.

Between epochs the model is the user's again. When the epoch's last batch has trained, the shares are gathered
into the model's own parameter objects (with the strides they had), FSDP's hooks and classes leave the modules,
and the optimizer is rebuilt over those parameters with its state gathered whole. So validation, epoch-end
callbacks (`ModelCheckpoint`, `EarlyStopping`, `BackupAndRestore`), `evaluate`, `predict`, `get_weights`, `save`
and `summary` see a plain model, exactly as in one process, and `save` on rank 0 alone writes what one process
would. The optimizer state goes back into shards at the next epoch's first step, so training continues exactly.
The price is one all-gather of the weights and the optimizer state per epoch, and a whole model on each device
between epochs (where it was before fit: deepglass builds models on the device).

The weight penalties (`kernel_regularizer`, ...) are computed in the layer's forward pass, while its weights are
whole: a copy of each penalised weight is kept for the backward pass.
"""
import gc

import torch

from deepglass import optimizers
from deepglass.distribution import distribution_lib, process_group, training_run
from deepglass.utils import tree


def _fsdp():
    """torch's FSDP2 functions, or a clear error on a torch without them."""
    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard
        from torch.distributed.tensor import DTensor, distribute_tensor
    except ImportError:
        raise RuntimeError(f"FullyShardedDataParallel needs torch.distributed.fsdp.fully_shard (PyTorch 2.6 or "
                           f"newer); this is PyTorch {torch.__version__}. Upgrade PyTorch, or train with "
                           "DataParallel.") from None
    return init_device_mesh, fully_shard, DTensor, distribute_tensor


class FullyShardedDataParallel(distribution_lib.DataParallel):
    """Data-parallel training in which each process holds only its share of the weights, of their gradients and of
    the optimizer's state while it trains (PyTorch's FSDP, `torch.distributed.fsdp.fully_shard`).

    It trains exactly as `DataParallel` does (the same steps as one process with the same global `batch_size`), with
    less memory per process during training: about `1/N` of the weights, gradients and optimizer state, plus the
    weights of the unit being computed. Between epochs, and after `fit`, every process holds the whole model again,
    so `evaluate`, `predict`, `get_weights` and `save` work as in one process (see docs/scaling.md).

    Arguments:
        device_mesh, devices, auto_shard_dataset, backend: as for `DataParallel`.
        reshard_after_forward: True frees each unit's gathered weights after its forward pass and gathers them again
            for the backward pass (least memory, ZeRO-3); False keeps them until the backward pass (one all-gather
            less per unit and step, ZeRO-2-like).
        min_weights_per_unit: a module that directly owns at least this many weight values (its own, not its
            sublayers') is an FSDP unit of its own, gathered only while it computes; smaller ones join the unit of
            the model, gathered for the whole step. 0 (the default): every module that owns weights.

    Example:
    >>> deepglass.distribution.set_distribution(deepglass.distribution.FullyShardedDataParallel())
    >>> model.fit(x, y, batch_size=256)   # torchrun --nproc-per-node 4 train.py
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True, backend=None,
                 reshard_after_forward=True, min_weights_per_unit=0):
        _fsdp()
        if isinstance(min_weights_per_unit, bool) or not isinstance(min_weights_per_unit, int) or \
                min_weights_per_unit < 0:
            raise ValueError("Received an invalid value for `min_weights_per_unit`, expected an integer >= 0. "
                             f"Received: min_weights_per_unit={min_weights_per_unit!r}")
        super().__init__(device_mesh, devices, auto_shard_dataset, backend)
        self.reshard_after_forward = bool(reshard_after_forward)
        self.min_weights_per_unit = min_weights_per_unit
        self._mesh = None

    def parallel_run(self, model):
        """The `ShardedRun` of one fit, evaluate or predict call on `model`."""
        return ShardedRun(self, model)

    def mesh(self):
        """The one-axis torch DeviceMesh of all the processes (made once, after `connect`)."""
        if self._mesh is None:
            self._mesh = _fsdp()[0](self.device.type, (self.num_processes,))
        return self._mesh

    def get_config(self):
        return {**super().get_config(), "reshard_after_forward": self.reshard_after_forward,
                "min_weights_per_unit": self.min_weights_per_unit}


class ShardedRun(training_run.ParallelRun):
    """One call of fit, evaluate or predict under `FullyShardedDataParallel`: the model is sharded from the first
    training step of an epoch until the epoch's metrics are read (evaluate and predict use the whole model)."""

    def __init__(self, distribution, model):
        super().__init__(distribution, model)
        self.shards = None

    def start_training(self, train):
        _check_supported(self.model, self.rank)
        training_run.check_same_start(self.model, train, self.rank, self.distribution.auto_shard_dataset)
        self.train_data = train

    def train_step(self, x, y, sample_weight, call_kwargs):
        if self.shards is None:
            self.shards = ShardedModel(self.model, self.distribution)
            self.wrapped = self.model  # its FSDP hooks gather and scatter
        self.shards.begin_step()
        super().train_step(x, y, sample_weight, call_kwargs)

    def weight_penalties(self):
        return self.shards.penalties()

    def metric_results(self):
        self._gather()  # the epoch has ended: the model is whole again before anyone looks at it
        return super().metric_results()

    def finish(self):
        self._gather()
        super().finish()

    def _gather(self):
        if self.shards is not None:
            shards, self.shards, self.wrapped = self.shards, None, None
            shards.gather()


def _check_supported(model, rank):
    """Refuse what FSDP cannot train as one process would, before training, naming the rank."""
    if isinstance(model.optimizer, optimizers.LossScaleOptimizer):
        raise ValueError(f"Rank {rank}: FullyShardedDataParallel does not support loss scaling (a "
                         "LossScaleOptimizer, which compile adds for the mixed_float16 policy): each process would "
                         "check only its own share of the gradients. Train this model with DataParallel.")
    if model._constrained:
        raise ValueError(f"Rank {rank}: FullyShardedDataParallel does not support weight constraints "
                         "(kernel_constraint=...): they apply to whole weights, and each process holds only a share "
                         "while training. Train this model with DataParallel.")
    if model._track_rng:
        raise ValueError(f"Rank {rank}: FullyShardedDataParallel backs up at the end of epochs only: the weights "
                         "are sharded in the middle of an epoch. Use BackupAndRestore(save_freq='epoch').")


class ShardedModel:
    """A model sharded with `fully_shard` for one epoch's training steps, and `gather()` to make it whole again.

    The model's own parameter objects are kept (emptied while sharded) and get the gathered values back; FSDP's
    hooks, state and class changes are undone on each module, so that the model can be sharded again later."""

    def __init__(self, model, distribution):
        init_device_mesh, fully_shard, self.DTensor, self.distribute = _fsdp()
        self.model = model
        state = model.optimizer.state_dict()
        # The model's own parameters, their layouts (strides), and the modules that hold them.
        self.owned = [(module, name, param, tuple(param.shape), param.stride())
                      for module in model.modules() for name, param in module._parameters.items()
                      if param is not None]
        self.hooks = self._watch_penalties()
        units = [m for m in reversed(list(model.modules())) if m is not model and _own_size(m) and
                 _own_size(m) >= distribution.min_weights_per_unit] + [model]
        self.saved = {unit: _module_record(unit) for unit in units}
        self.hooks += [unit.register_forward_hook(_gather_for_side_outputs) for unit in units]
        for _, _, param, _, _ in self.owned:  # FSDP shards standard strides only (convolution kernels are
            if not param.is_contiguous():      # channels-last); `gather` gives each weight its strides back
                param.data = param.data.contiguous()
        mesh = distribution.mesh()
        for unit in units:  # children first: a unit manages the weights under it that no inner unit took
            fully_shard(unit, mesh=mesh, reshard_after_forward=distribution.reshard_after_forward
                        if unit is not model else False)  # the model's own are needed right after its forward
        for _, _, param, _, _ in self.owned:
            param.data = param.data.new_empty(0)  # the shares hold the values now
        self._rebuild_optimizer(state, self._shard)

    # ------------------------------------------------------------------------------------------- weight penalties
    def _watch_penalties(self):
        """Forward hooks that compute the weight penalties while the weights are whole (registered before
        `fully_shard`, so they run before its hook frees the gathered weights)."""
        entries = self.model._penalties_in_use
        self.values = {}
        hooks = []
        for layer in dict.fromkeys(layer for layer, _, _ in entries):
            indices = [i for i, (owner, _, _) in enumerate(entries) if owner is layer]
            hooks.append(layer.register_forward_hook(self._penalty_hook(indices)))
        return hooks

    def _penalty_hook(self, indices):
        def compute(layer, args, outputs):
            for index in indices:
                if index not in self.values:  # a layer called twice is penalised once, as in one process
                    _, name, penalty = self.model._penalties_in_use[index]
                    # A copy: the gathered weight's storage may be freed before the backward pass reads it.
                    self.values[index] = penalty(getattr(layer, name).clone())
        return compute

    def begin_step(self):
        """Forget the last step's penalties, and give every process rank 0's buffers (as DistributedDataParallel
        does before each forward pass)."""
        self.values = {}
        for buffer in self.model.buffers():
            process_group.broadcast(buffer)

    def penalties(self):
        """This step's weight penalties, in the order of `model._penalties_in_use`."""
        entries = self.model._penalties_in_use
        missing = [entries[i][0].name for i in range(len(entries)) if i not in self.values]
        if missing:
            raise RuntimeError(f"Layer '{missing[0]}' has a weight regularizer but was not called in this training "
                               "step; under FullyShardedDataParallel a penalty is computed while its layer runs. "
                               "Call every regularized layer in the model's forward pass, or use DataParallel.")
        return [self.values[i] for i in range(len(entries))]

    # --------------------------------------------------------------------------------------------------- gathering
    def gather(self):
        """Make the model whole again: the shares into the model's own parameters, FSDP undone, the optimizer
        rebuilt over them with its state gathered (every process calls this at the same point)."""
        state = self.model.optimizer.state_dict()
        full = {}
        for module, name, param, shape, stride in self.owned:
            sharded = module._parameters[name]
            if id(param) not in full:  # a parameter held by two modules is gathered once
                full[id(param)] = sharded.full_tensor() if isinstance(sharded, self.DTensor) else sharded.detach()
        for hook in self.hooks:
            hook.remove()
        for unit, record in self.saved.items():
            _undo_fully_shard(unit, record)
        for module, name, param, shape, stride in self.owned:
            if param.shape != shape:  # not restored yet (a parameter held by two modules comes twice)
                param.data = torch.empty_strided(shape, stride, dtype=param.dtype, device=param.device)
                param.data.copy_(full[id(param)])
            module._parameters[name] = param
        self._rebuild_optimizer(state, self._whole)
        gc.collect()  # FSDP's state holds reference cycles: free the shards now

    # --------------------------------------------------------------------------------------------------- optimizer
    def _rebuild_optimizer(self, state, convert):
        """Build the optimizer over the model's current parameters and load `state` into it, each tensor of a
        parameter's shape converted by `convert(tensor, parameter)`."""
        optimizer = self.model.optimizer
        optimizer.build(self.model._named_trainable_weights())
        params = [p for group in optimizer.torch_optimizer.param_groups for p in group["params"]]
        state = dict(state)
        if state.get("torch") is not None:
            torch_state = dict(state["torch"])
            torch_state["state"] = {index: {key: convert(value, params[index]) for key, value in values.items()}
                                    for index, values in torch_state["state"].items()}
            state["torch"] = torch_state
        for key in ("ema", "accumulators"):
            if state.get(key) is not None:
                state[key] = [convert(value, param) for value, param in zip(state[key], optimizer._params)]
        optimizer.load_state_dict(state)

    def _shard(self, tensor, param):
        """This process's share of a whole tensor of `param`'s shape, laid out as the sharded `param`."""
        if not torch.is_tensor(tensor) or isinstance(tensor, self.DTensor) or tensor.shape != param.shape:
            return tensor
        return self.distribute(tensor.detach(), param.device_mesh, param.placements, src_data_rank=None)

    def _whole(self, tensor, param):
        return tensor.full_tensor() if isinstance(tensor, self.DTensor) else tensor


def _gather_for_side_outputs(unit, args, outputs):
    """Let tensors that leave a unit beside its outputs gather its weights for the backward pass, as its outputs do:
    the logits a softmax output carries (`_keras_logits`, which the cross-entropy uses) and the losses its layers
    added. FSDP watches the outputs only; a gradient reaching the weights another way would find them freed."""
    beside = [value for output in tree.flatten(outputs) if torch.is_tensor(output)
              for value in output.__dict__.values() if torch.is_tensor(value) and value.requires_grad]
    beside += [loss for layer in unit.modules() for loss in getattr(layer, "_losses", ())
               if torch.is_tensor(loss) and loss.requires_grad]
    if beside:
        gather = unit._get_fsdp_state()._pre_backward  # what FSDP registers on the outputs (it gathers once)
        for tensor in beside:
            tensor.register_hook(gather)


def _own_size(module):
    return sum(p.numel() for p in module._parameters.values() if p is not None)


_HOOK_DICTS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks", "_forward_hooks_with_kwargs",
               "_forward_hooks_always_called", "_backward_pre_hooks", "_backward_hooks", "_state_dict_hooks",
               "_state_dict_pre_hooks", "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")


def _module_record(module):
    """What `fully_shard` changes on a module: its class, its attributes, its hooks."""
    return type(module), set(module.__dict__), {name: set(getattr(module, name, {})) for name in _HOOK_DICTS}


def _undo_fully_shard(module, record):
    """Put a module back as `_module_record` saw it: the class, the attributes and the hooks FSDP added removed,
    and its entry in torch's registry of composable states (which refuses to shard a module twice) dropped."""
    from torch.distributed import _composable_state
    cls, attributes, hooks = record
    module.__class__ = cls
    for name in set(module.__dict__) - attributes:
        del module.__dict__[name]
    for name, keys in hooks.items():
        table = getattr(module, name, None)
        for key in set(table or ()) - keys:
            del table[key]
    _composable_state._module_state_mapping.pop(module, None)
