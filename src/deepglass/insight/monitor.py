"""Monitor: per-layer gradient, weight, update and activation statistics, sampled every few training steps."""
import dataclasses
import functools
import math
import statistics

import torch
from torch import nn

from deepglass import activations
from deepglass.callbacks.callback import Callback
from deepglass.insight.findings import Finding
from deepglass.layers.layer import Layer
from deepglass.naming import lookup

MONITOR_FINDINGS = ("exploding_gradients", "vanishing_gradients", "dead_layers", "bad_initialisation")
STATISTICS = ("grad_norm", "weight_norm", "update_ratio", "activation_mean", "activation_std", "dead_fraction",
              "saturated_fraction")
_KINDS = ((activations.relu, "relu"), (activations.relu6, "relu"), (activations.sigmoid, "sigmoid"),
          (activations.hard_sigmoid, "sigmoid"), (activations.tanh, "tanh"))
_INIT_ADVICE = ("initialise ReLU layers with kernel_initializer=\"he_normal\" and sigmoid/tanh layers with "
                "\"glorot_uniform\", scale the inputs to about unit variance, or add BatchNormalization")


@dataclasses.dataclass
class MonitorThresholds:
    """The numbers `Monitor.findings` compares its statistics with.

    Gradient sizes are compared as root-mean-square values per parameter (the norm over the square root of the
    parameter count), so that layers of different sizes compare fairly.

    Arguments:
        vanishing: the first layer's gradient RMS below this fraction of the last layer's means vanishing
            gradients; the layers below it are named.
        exploding: the first layer's gradient RMS above this multiple of the last layer's, or the whole
            gradient norm growing by this factor during training, means exploding gradients.
        dead: ReLU layers whose fraction of units that never fire in a sampled batch reaches this are dead.
        saturated: sigmoid / tanh layers with this fraction of their outputs in the flat tails at the first
            sample point to a bad initialisation...
        saturation_margin: ...where an output within this distance of the function's limits is in a tail.
        activation_collapse: at the first sample, the deepest hidden layer's activation std below this fraction
            of the first hidden layer's (or above its inverse) points to a bad initialisation.

    Example:
    >>> monitor = deepglass.insight.Monitor(thresholds=deepglass.insight.MonitorThresholds(dead=0.8))
    """

    vanishing: float = 1e-3
    exploding: float = 1e3
    dead: float = 0.5
    saturated: float = 0.5
    saturation_margin: float = 0.02
    activation_collapse: float = 1e-2


@dataclasses.dataclass
class _Target:
    """One watched layer: its module, its trainable parameters, and the activation it applies."""
    name: str
    module: nn.Module
    params: list
    kind: str
    channel_axis: int


class Monitor(Callback):
    """Records per-layer training statistics every `every_n_steps` steps, on the device, and reads them as findings.

    On a sampled step it records, for each layer: the gradient norm (over all the layer's trainable weights),
    the weight norm, the update-to-weight ratio `||w_after - w_before|| / ||w_before||` (about 1e-3 is healthy),
    the mean and standard deviation of the layer's output, the fraction of dead ReLU units (units that output 0
    for every sample of the batch) and the fraction of saturated sigmoid / tanh outputs. Hooks exist only during
    sampled steps, so the other steps cost nothing; nothing is read from the device until `history` or
    `findings()` is asked for. `findings()` names the layers behind vanishing or exploding gradients, dead
    layers and a bad initialisation.

    Arguments:
        every_n_steps: the sampling period in training steps (step 0 is always sampled).
        layers: the layers to watch, as names or layer objects; default: every layer with trainable weights or a
            ReLU / sigmoid / tanh activation.
        thresholds: a `MonitorThresholds` for `findings()`.

    Attributes:
        history: plain data, `{"steps": [0, 50, ...], "layers": {name: {"kind": "relu", "parameters": 4160,
            "grad_norm": [...], "weight_norm": [...], ...}}}`, layers in the order the forward pass reaches them;
            a statistic that does not apply to a layer is None (NaN means a non-finite value, or a layer that did
            not run in that step).

    Example:
    >>> monitor = deepglass.insight.Monitor(every_n_steps=50)
    >>> model.fit(x, y, epochs=5, callbacks=[monitor])
    >>> for finding in monitor.findings():
    ...     print(finding)
    >>> deepglass.insight.plot_gradient_flow(monitor)
    """

    def __init__(self, every_n_steps=50, layers=None, thresholds=None):
        super().__init__()
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"Received an invalid value for `every_n_steps`, expected a positive integer. "
                             f"Received: every_n_steps={every_n_steps!r}")
        self.every_n_steps = every_n_steps
        self.layers = layers
        self.thresholds = thresholds or MonitorThresholds()
        self._targets = None
        self._order = []  # target indices in the order the forward pass reached them
        self._records = []  # (step, device tensor of shape (layers, statistics))
        self._step = 0
        self._sample = None
        self._cache = None
        self._index = None  # (weight owners, has-weights mask) on the device; see _layer_index

    # --------------------------------------------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        if self._targets is None:
            self._targets = _select(self.model, self.layers)

    def on_train_batch_begin(self, batch, logs=None):
        if self._step % self.every_n_steps == 0:
            self._arm()

    def on_train_batch_end(self, batch, logs=None):
        if self._sample is not None:
            self._collect()
        self._step += 1

    def on_train_end(self, logs=None):
        self._disarm()

    def _arm(self):
        params = [param for target in self._targets for param in target.params]
        sample = {"grad_norms": [None] * len(params), "outputs": [None] * len(self._targets), "handles": [],
                  "before": [param.detach().clone() for param in params]}
        for index, param in enumerate(params):
            sample["handles"].append(param.register_post_accumulate_grad_hook(
                functools.partial(_record_grad_norm, sample["grad_norms"], index)))
        for index, target in enumerate(self._targets):
            sample["handles"].append(target.module.register_forward_hook(
                functools.partial(self._record_output, sample["outputs"], index)))
        self._sample = sample

    def _record_output(self, outputs, index, module, inputs, output):
        tensor = output if torch.is_tensor(output) else next(
            (t for t in _flatten(output) if torch.is_tensor(t)), None)
        if tensor is None or not tensor.is_floating_point():
            return
        if index not in self._order:
            self._order.append(index)
        target = self._targets[index]
        outputs[index] = _activation_stats(tensor.detach(), target.kind, target.channel_axis,
                                           self.thresholds.saturation_margin)

    def _collect(self):
        sample = self._sample
        self._disarm()
        table = _statistics_table(self._targets, sample, self._layer_index)
        if table is not None:
            self._records.append((self._step, table))
            self._cache = None

    def _layer_index(self, device):
        """For `_statistics_table`, made once per device: the position of each watched weight's layer, and which
        layers have weights (made at every sample, they would be copied to a GPU, waiting for it each time)."""
        if self._index is None or self._index[0].device != device:
            self._index = (
                torch.tensor([i for i, target in enumerate(self._targets) for _ in target.params], device=device),
                torch.tensor([bool(target.params) for target in self._targets], device=device))
        return self._index

    def _disarm(self):
        if self._sample is not None:
            for handle in self._sample["handles"]:
                handle.remove()
            self._sample = None

    # ---------------------------------------------------------------------------------------------- read-outs
    @property
    def history(self):
        """The recorded statistics as plain data (read from the device once, when asked for)."""
        if self._cache is None:
            self._cache = self._plain_history()
        return self._cache

    def _plain_history(self):
        targets = self._targets or []
        order = self._order + [i for i in range(len(targets)) if i not in self._order]
        values = torch.stack([record for _, record in self._records]).cpu().tolist() if self._records else []
        layers = {}
        for index in order:
            target = targets[index]
            entry = {"kind": target.kind, "parameters": sum(p.numel() for p in target.params)}
            for column, name in enumerate(STATISTICS):
                applies = _applies(name, target)
                entry[name] = [step[index][column] if applies else None for step in values]
            layers[target.name] = entry
        return {"steps": [step for step, _ in self._records], "layers": layers}

    def findings(self):
        """Vanishing or exploding gradients, dead layers and a bad initialisation, with the layers concerned."""
        history, t = self.history, self.thresholds
        if not history["steps"]:
            return []
        checks = (_exploding, _vanishing, _dead_layers, _bad_initialisation)
        return [finding for finding in (check(history, t) for check in checks) if finding]

    def get_config(self):
        layers = None if self.layers is None else [getattr(layer, "name", layer) for layer in self.layers]
        return {"every_n_steps": self.every_n_steps, "layers": layers,
                "thresholds": dataclasses.asdict(self.thresholds)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        thresholds = config.pop("thresholds", None)
        return cls(thresholds=MonitorThresholds(**thresholds) if thresholds else None, **config)


# ------------------------------------------------------------------------------------------------ recording
# A sampled step's statistics take a few operators per layer and a few more for all the weights together (torch's
# multi-tensor `_foreach_norm`, as torch.optim uses it). On a GPU each operator costs a launch: computed weight by
# weight, the statistics gave the course CNN's sampled step 321 more operators, 4.6 times those of a plain step.


_WEIGHT_COLUMNS = STATISTICS.index("activation_mean")  # grad_norm, weight_norm, update_ratio; then the outputs'


def _record_grad_norm(norms, index, param):
    norms[index] = torch.linalg.vector_norm(param.grad.detach(), dtype=_norm_dtype([param]))


def _norm_dtype(tensors):
    """The dtype to compute norms in: float32, so that half-precision weights do not overflow, or None (their own)
    where a tensor is float64, which torch will not narrow."""
    return None if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _activation_stats(output, kind, channel_axis, margin):
    """[mean, std, dead fraction, saturated fraction] of one layer output, as a device tensor (NaN where a
    statistic does not apply)."""
    values = output.float()
    nan = values.new_full((), math.nan)
    # two reductions, not torch.std_mean: on the CPU that one runs 4 times slower than both (9 ms for a 3-million
    # value activation, against 2 ms)
    std, mean = values.std() if values.numel() > 1 else nan, values.mean()
    dead = saturated = nan
    if kind == "relu" and values.dim() >= 2:
        per_unit = values.movedim(channel_axis, -1).reshape(-1, values.shape[channel_axis]).amax(0)
        dead = (per_unit <= 0).float().mean()
    elif kind == "sigmoid":
        saturated = ((values < margin) | (values > 1 - margin)).float().mean()
    elif kind == "tanh":
        saturated = (values.abs() > 1 - margin).float().mean()
    return torch.stack([mean, std, dead, saturated])


def _statistics_table(targets, sample, layer_index):
    """The sampled step as a (layers, statistics) device tensor, in `STATISTICS` order; None when no watched layer
    has weights or ran. A weight no gradient reached (unused in the loss) counts as a zero gradient. `layer_index`:
    `Monitor._layer_index`."""
    params = [param.detach() for target in targets for param in target.params]
    outputs = sample["outputs"]
    device = params[0].device if params else next((o.device for o in outputs if o is not None), None)
    if device is None:
        return None
    nan = torch.full((len(STATISTICS),), math.nan, device=device)
    activations = _stacked([nan[_WEIGHT_COLUMNS:] if stats is None else stats for stats in outputs], device)
    if not params:
        return torch.cat([nan[:_WEIGHT_COLUMNS].expand(len(targets), _WEIGHT_COLUMNS), activations], 1)
    zero = torch.zeros((), device=device)
    grads = [zero if norm is None else norm for norm in sample["grad_norms"]]
    before = sample["before"]
    dtype = _norm_dtype(params)
    weight_norms = torch._foreach_norm(params, 2, dtype=dtype)
    before_norms = torch._foreach_norm(before, 2, dtype=dtype)
    update_norms = torch._foreach_norm(torch._foreach_sub(params, before), 2, dtype=dtype)
    # every weight's squared norms in one tensor, then summed per layer in one operator
    squares = torch.stack([_stacked(norms, device)
                           for norms in (grads, weight_norms, before_norms, update_norms)], 1).square()
    owners, has_weights = layer_index(device)
    per_layer = squares.new_zeros((len(targets), 4)).index_add_(0, owners, squares).sqrt()
    grad, weight, weight_before, update = per_layer.unbind(1)
    weights = torch.stack([grad, weight, update / weight_before], 1)
    weights = torch.where(has_weights.unsqueeze(1), weights, nan[:_WEIGHT_COLUMNS])
    return torch.cat([weights, activations], 1)


def _stacked(tensors, device):
    """`torch.stack(tensors)` on `device`, for tensors that may lie on several (a model split between devices)."""
    return torch.stack([t if t.device == device else t.to(device) for t in tensors])


def _applies(statistic, target):
    """Whether a statistic means anything for a layer (NaN values of one that does mean a non-finite result)."""
    if statistic in ("grad_norm", "weight_norm", "update_ratio"):
        return bool(target.params)
    if statistic == "dead_fraction":
        return target.kind == "relu"
    if statistic == "saturated_fraction":
        return target.kind in ("sigmoid", "tanh")
    return True


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in _flatten(item)]
    return [structure]


# ------------------------------------------------------------------------------------------ choosing layers
def _select(model, layers):
    """The layers to watch: those asked for, or every layer with trainable weights or a known activation."""
    entries = [(dotted, module) for dotted, module in model.named_modules() if module is not model]
    if layers is None:
        chosen = [(d, m) for d, m in entries if _own_params(m) or _activation_kind(m)]
    else:
        by_name = {_name(d, m).lower(): (d, m) for d, m in entries}
        chosen = [next(((d, m) for d, m in entries if m is layer), None) if isinstance(layer, nn.Module)
                  else lookup("layer", layer, by_name) for layer in layers]
        if any(entry is None for entry in chosen):
            raise ValueError(f"Monitor(layers=...) received a layer that is not part of the model "
                             f"{getattr(model, 'name', type(model).__name__)!r}; pass its layers or their names.")
    return [_Target(_name(d, m), m, _own_params(m), _activation_kind(m), _channel_axis(m)) for d, m in chosen]


def _name(dotted, module):
    name = getattr(module, "name", None)
    return name if isinstance(name, str) and name else dotted


def _own_params(module):
    return [p for p in module.parameters(recurse=False) if p.requires_grad]


def _activation_kind(module):
    """`"relu"`, `"sigmoid"`, `"tanh"` for layers that end in one of them (dead / saturated units), else None."""
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return "relu"
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    if isinstance(module, nn.Tanh):
        return "tanh"
    if type(module).__name__ == "ReLU" and not getattr(module, "negative_slope", 0) and \
            not getattr(module, "threshold", 0):
        return "relu"
    function = getattr(module, "activation", None)
    return next((kind for known, kind in _KINDS if function is known), None)


def _channel_axis(module):
    # deepglass layers use Keras's layouts (channels last by default); plain torch modules use channels first.
    if isinstance(module, Layer):
        return 1 if getattr(module, "data_format", None) == "channels_first" else -1
    return 1


# ------------------------------------------------------------------------------------------------- findings
def _finite(values):
    return [v for v in values if v is not None and math.isfinite(v)]


def _gradient_rms(history):
    """(layer name, median gradient RMS per parameter) for the layers with weights and gradients, in order."""
    result = []
    for name, entry in history["layers"].items():
        norms = _finite(entry["grad_norm"])
        if entry["parameters"] and norms:
            result.append((name, statistics.median(norms) / math.sqrt(entry["parameters"])))
    return result


def _vanishing(history, t):
    rms = _gradient_rms(history)
    if len(rms) < 2 or rms[-1][1] == 0:
        return None
    (first, first_rms), (last, last_rms) = rms[0], rms[-1]
    ratio = first_rms / last_rms
    if ratio >= t.vanishing:
        return None
    weak = [name for name, value in rms if value < t.vanishing * last_rms]
    return Finding(
        "vanishing_gradients", f"vanishing gradients: the gradients of {first} are {ratio:.1e} times those of "
        f"{last}", "use ReLU-family activations with he_normal initialisation, add BatchNormalization, or use "
        "residual connections", layers=weak,
        evidence={"first_layer_grad_rms": first_rms, "last_layer_grad_rms": last_rms, "ratio": ratio})


def _exploding(history, t):
    bad = [name for name, entry in history["layers"].items()
           if any(v is not None and not math.isfinite(v) for v in entry["grad_norm"])]
    advice = ("clip gradients (clipnorm=1.0), lower the learning rate, or add BatchNormalization; check the "
              "initialisation")
    if bad:
        return Finding("exploding_gradients", "exploding gradients: non-finite gradient norms", advice, layers=bad,
                       evidence={"layers_with_non_finite_gradients": len(bad)})
    rms = _gradient_rms(history)
    if len(rms) >= 2 and rms[-1][1] > 0 and rms[0][1] / rms[-1][1] > t.exploding:
        ratio = rms[0][1] / rms[-1][1]
        return Finding("exploding_gradients", f"exploding gradients: the gradients of {rms[0][0]} are "
                       f"{ratio:.1e} times those of {rms[-1][0]}", advice,
                       layers=[name for name, value in rms if value > t.exploding * rms[-1][1]],
                       evidence={"ratio": ratio})
    totals = _total_grad_norms(history)
    if len(totals) >= 2 and totals[0] > 0 and totals[-1] / totals[0] > t.exploding:
        growth = totals[-1] / totals[0]
        return Finding("exploding_gradients", f"exploding gradients: the gradient norm grew {growth:.1e} times "
                       "during training", advice, layers=list(history["layers"]),
                       evidence={"first_grad_norm": totals[0], "last_grad_norm": totals[-1], "growth": growth})
    return None


def _total_grad_norms(history):
    totals = []
    for step in range(len(history["steps"])):
        squares = [entry["grad_norm"][step] ** 2 for entry in history["layers"].values()
                   if entry["grad_norm"][step] is not None]
        if squares:
            totals.append(math.sqrt(sum(squares)))
    return totals


def _dead_layers(history, t):
    dead = []
    for name, entry in history["layers"].items():
        fraction = entry["dead_fraction"][-1]
        if entry["parameters"] and entry["grad_norm"][-1] == 0:
            dead.append((name, 1.0))  # no gradient reaches it at all
        elif fraction is not None and fraction >= t.dead:
            dead.append((name, fraction))
    if not dead:
        return None
    worst = max(dead, key=lambda item: item[1])
    return Finding(
        "dead_layers", f"dead layers: {len(dead)} layer(s) that no gradient reaches or where {t.dead:.0%} or more "
        f"of the ReLU units never fire (worst: {worst[1]:.0%} of {worst[0]})",
        "lower the learning rate, use he_normal initialisation, or LeakyReLU / ELU activations",
        layers=[name for name, _ in dead], evidence={"dead_layers": len(dead), "largest_dead_fraction": worst[1]})


def _bad_initialisation(history, t):
    first = {name: entry for name, entry in history["layers"].items()}
    saturated = _at_first(first, "saturated_fraction", t.saturated)
    dead = _at_first(first, "dead_fraction", t.dead)
    parts, evidence, layers = [], {}, []
    for key, what, found in (("saturated_layers", "sigmoid/tanh layer(s) start saturated", saturated),
                             ("dead_layers", f"ReLU layer(s) start with {t.dead:.0%} or more of their units dead", dead)):
        if found:
            largest = max(value for _, value in found)
            parts.append(f"{len(found)} {what} (up to {largest:.0%})")
            evidence[key] = len(found)
            layers += [name for name, _ in found if name not in layers]
    hidden = [(name, entry["activation_std"][0]) for name, entry in first.items()
              if entry["kind"] and _finite(entry["activation_std"][:1]) and entry["activation_std"][0] > 0]
    if len(hidden) >= 2:
        ratio = hidden[-1][1] / hidden[0][1]
        if ratio < t.activation_collapse or ratio > 1 / t.activation_collapse:
            parts.append(f"the output spread changes {ratio:.1e}-fold from {hidden[0][0]} to {hidden[-1][0]}")
            evidence["deepest_to_first_activation_std"] = ratio
            layers += [name for name, _ in (hidden[0], hidden[-1]) if name not in layers]
    if not parts:
        return None
    return Finding("bad_initialisation", "a bad initialisation: at the first step, " + "; ".join(parts),
                   _INIT_ADVICE, layers=layers, evidence=evidence)


def _at_first(layers, statistic, threshold):
    """(name, value) of the layers whose first sampled `statistic` reaches `threshold`."""
    return [(name, entry[statistic][0]) for name, entry in layers.items()
            if entry[statistic][0] is not None and entry[statistic][0] >= threshold]
