"""The model's last checked forward pass, so that fit, evaluate and predict do not check the same inputs twice."""
import operator

import torch


class LastCheck:
    """The outputs of the last checked forward pass (see `Trainer._checked_few`), with what they depend on.

    A check depends on the kind of its inputs (their nesting, and the shapes, dtypes and device of the samples it
    ran on) and on the model's layers, weights and dtype policies. While none of those changes, a new check would
    pass again and give outputs of the same shapes and dtypes, so the remembered ones serve instead. The layers,
    weights and policies are compared by identity: adding a layer, rebuilding one or giving it a new policy makes
    the next call check again. On a GPU a check costs as much as a few training steps, which a loop of short `fit`,
    `evaluate` or `predict` calls would pay at every call.
    """

    def __init__(self):
        self._kind = None
        self._parts = ()
        self._outputs = None

    def outputs(self, model, x_few):
        """The remembered outputs if `x_few` is of the kind last checked on this same model, else None."""
        if self._kind is None or self._kind != input_kind(x_few):
            return None
        parts = model_parts(model)
        if len(parts) != len(self._parts) or not all(map(operator.is_, parts, self._parts)):
            return None
        return self._outputs

    def remember(self, model, x_few, outputs):
        self._kind = input_kind(x_few)
        self._parts = model_parts(model) if self._kind is not None else ()
        self._outputs = outputs if self._kind is not None else None


def input_kind(x):
    """A hashable description of `x`'s nesting and of each tensor's shape, dtype and device;
    None when a leaf is not a tensor (text arrays, for instance), which is then checked at every call."""
    if isinstance(x, (list, tuple)):
        kinds = tuple(input_kind(item) for item in x)
        return None if None in kinds else (type(x), kinds)
    if isinstance(x, dict):
        kinds = tuple((key, input_kind(item)) for key, item in x.items())
        return None if any(kind is None for _, kind in kinds) else (dict, kinds)
    if type(x) is not torch.Tensor:
        return None
    return tuple(x.shape), x.dtype, x.device


def model_parts(model):
    """The model's layers, weights and dtype policies, which a check's outputs depend on (not the model itself,
    whose reference here would make a cycle that only the garbage collector frees)."""
    modules = [m for m in model.modules() if m is not model]
    return modules + list(model.parameters()) + [getattr(m, "_dtype_policy", None) for m in [model, *modules]]
