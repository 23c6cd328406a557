"""How a layer's dtype policy acts when the layer is called: `torch.autocast` for mixed policies.

A layer with the default policy (float32, created under a float32 global policy) is a plain torch module: calling
it costs nothing more. Any other layer has `Layer._policy_forward` as its `forward`, which
- for a mixed policy, runs the layer under `torch.autocast(dtype=compute_dtype)`, unless that scope is already open
  (inside a mixed model, whose own call opens it once, a mixed layer only checks);
- for a plain float policy (a float32 layer inside a mixed model, a float64 layer), closes autocast and casts float
  inputs to the layer's dtype, as Keras's layers cast their inputs;
- for layers that keep float32 under a mixed policy (normalization statistics; `autocast=False`), closes autocast
  and leaves the inputs as they are: those layers compute in float32 and return the inputs' type.
"""
import torch

from deepglass import config
from deepglass.mixed_precision import policy as policies
from deepglass.utils import tree

_HALF = (torch.float16, torch.bfloat16)


def configure(layer, explicit):
    """Set up `layer` for its `_dtype_policy`; `explicit`: the policy was asked for (not the global default)."""
    policy = layer._dtype_policy
    compute = config.standardize_dtype(policy.compute_dtype)
    layer._compute = compute
    if not compute.is_floating_point:
        _set(layer, False)
        return
    mixed = policies.is_mixed(policy)
    # A float32 layer made while a mixed policy is global is one meant to stay float32 inside a mixed model.
    _set(layer, mixed or policy.compute_dtype != config.floatx() or (
        explicit and policies.is_mixed(policies.dtype_policy())))


def watch_inputs(layer, inputs):
    """Called when `layer` is built: half-precision inputs to a layer that computes in another type (a float32 layer
    after a mixed one) are cast from then on, as Keras casts them."""
    if "forward" in layer.__dict__ or not layer._compute.is_floating_point:
        return
    if any(getattr(t, "dtype", None) in _HALF and t.dtype != layer._compute for t in tree.flatten(inputs)):
        _set(layer, True)


def _set(layer, active):
    if active:
        layer.__dict__["forward"] = layer._policy_forward
    else:
        layer.__dict__.pop("forward", None)


def _is_float(value):
    dtype = getattr(value, "dtype", None)
    return isinstance(dtype, torch.dtype) and dtype.is_floating_point


def policy_forward(layer, args, kwargs):
    """`layer`'s forward under its policy (see the module docstring)."""
    forward = type(layer).forward
    device_type = _device_type(layer, args, kwargs)
    enabled = torch.is_autocast_enabled(device_type)
    mixed = layer._compute != layer._dtype
    if mixed and layer.autocast and not layer._computes_in_float32:
        if enabled and torch.get_autocast_dtype(device_type) == layer._compute:
            return forward(layer, *args, **kwargs)
        with torch.autocast(device_type, dtype=layer._compute):
            return forward(layer, *args, **kwargs)
    if not mixed and layer.autocast:
        cast = lambda t: _cast(t, layer._compute) if _is_float(t) and t.dtype != layer._compute else t  # noqa: E731
        args, kwargs = tree.map_structure(cast, args), tree.map_structure(cast, kwargs)
    if not enabled:
        return forward(layer, *args, **kwargs)
    with torch.autocast(device_type, enabled=False):
        return forward(layer, *args, **kwargs)


def _device_type(layer, args, kwargs):
    if args and isinstance(args[0], torch.Tensor):  # the common case, without walking the arguments
        return args[0].device.type
    for value in tree.flatten((args, kwargs)):
        if isinstance(value, torch.Tensor):
            return value.device.type
    first = next(iter(layer.parameters()), None)
    return first.device.type if first is not None else "cpu"


def float32_outputs(outputs):
    """A model's half-precision outputs as float32, for the loss and the metrics; probabilities keep the logits
    they remember (`_keras_logits`), cast too, so that cross-entropy still works from them."""
    def cast(value):
        if isinstance(value, torch.Tensor) and value.dtype in _HALF:
            return _cast(value, torch.float32)
        return value
    return tree.map_structure(cast, outputs)


def _cast(tensor, dtype):
    """`tensor.to(dtype)` keeping what it carries (its mask `_keras_mask`, the logits `_keras_logits`), half-precision
    logits cast along."""
    result = tensor.to(dtype)
    for name, attached in tensor.__dict__.items():
        if isinstance(attached, torch.Tensor) and attached.dtype in _HALF and dtype not in _HALF:
            attached = attached.to(dtype)
        result.__dict__[name] = attached
    return result


def has_half(outputs):
    """Whether any of `outputs` is float16 or bfloat16."""
    return any(isinstance(t, torch.Tensor) and t.dtype in _HALF for t in tree.flatten(outputs))
