"""The explained summary: per layer, the arithmetic behind its output size, its parameter count, its receptive field,
its FLOPs and its activation memory, with the numbers filled in.

Conventions (per sample, i.e. for a batch of one):
- FLOPs count the multiply-adds of the weighted products (Dense, convolutions, transposed and depthwise /
  separable convolutions, recurrent cells) as 2 each: `FLOPs = 2 * multiply-adds`. Bias additions, activations,
  normalisation, pooling and merges are elementwise work and count 0; layers whose cost is not known (Lambda,
  wrapped torch modules, custom layers with weights) have `flops=None`.
- Activation memory is the size of the layer's outputs: output elements times the dtype's size in bytes.
- The receptive field is in input positions per spatial axis, along the path of the tensors:
  `r_out = r_in + (k_eff - 1) * j_in` and `j_out = j_in * stride`, with `k_eff = dilation * (k - 1) + 1`, from
  `r = j = 1` at the input. A merge takes the largest field of its inputs; a layer that mixes every position
  (Flatten then Dense, global pooling, recurrent layers) sees the whole input.
"""
import dataclasses
import math
from fractions import Fraction

from deepglass.layers.conv_transpose import BaseConvTranspose, Deconvolution2D
from deepglass.layers.convolutional import BaseConv, spatial_shape
from deepglass.layers.core import Dense, InputLayer
from deepglass.layers.depthwise_separable import BaseDepthwiseConv, BaseSeparableConv
from deepglass.layers.lambda_layer import Lambda
from deepglass.layers.normalization import BatchNormalization, GroupNormalization, LayerNormalization
from deepglass.layers.padding import BaseCropping, BaseZeroPadding
from deepglass.layers.pooling import BaseGlobalPooling, BasePooling
from deepglass.layers.reshaping import Flatten
from deepglass.layers.sampling import BaseUpSampling
from deepglass.layers.torch_wrapper import TorchModuleWrapper
from deepglass.utils.summary import readable_memory_size

WHOLE_INPUT, NOT_SPATIAL, UNKNOWN = "all", "-", "?"  # receptive-field states besides per-axis (r, j) pairs
_AXES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
# Recurrent layers by class name (gates per cell); they are looked up by name so that this module does not need them.
_RECURRENT_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


@dataclasses.dataclass
class LayerExplanation:
    """One layer of `explain_model`: its shapes and the arithmetic behind its size, parameters and cost.

    Arguments:
        name, class_name: the layer's name and type.
        input_shape, output_shape: the shapes of its (first) call, batch axis None; a list for several tensors.
        output_size: lines of output-size arithmetic (`"height, width: (28 - 3 + 2*0) / 1 + 1 = 26"`).
        params, trainable_params: its parameter counts.
        params_formula: how the count arises (`"(3*3*1 + 1) * 32 = 320"`), "" for layers without weights.
        receptive_field: input positions per spatial axis seen by one output position (a tuple of ints),
            `"all"` (the whole input), `"-"` (the input has no spatial axes) or `"?"` (not known).
        jump: the distance in input positions between neighbouring outputs, per spatial axis (Fractions after
            upsampling), or None.
        receptive_field_formula: lines such as `"r = 1 + (3 - 1) * 1 = 3, j = 1 * 1 = 1"`.
        flops: FLOPs per sample (`2 * multiply-adds`, over all the layer's calls), None when not known.
        flops_formula: how they arise (`"2 * 3*3*1 * 32 * 26*26 = 389,376"`).
        activation_bytes: bytes of its outputs per sample (over all its calls), None for unknown sizes.
        activation_formula: how they arise (`"26*26*32 * 4 B = 84.50 KB"`).
        calls: how many times the model calls the layer (a shared layer costs once per call).
        level: 0 for the model's layers, 1 for the layers of a nested model, ...

    Example:
    >>> row = deepglass.insight.explain_model(model)[0]
    >>> row.params_formula, row.flops
    ('(3*3*1 + 1) * 32 = 320', 389376)
    """

    name: str
    class_name: str
    input_shape: object = None
    output_shape: object = None
    output_size: list = dataclasses.field(default_factory=list)
    params: int = 0
    trainable_params: int = 0
    params_formula: str = ""
    receptive_field: object = NOT_SPATIAL
    jump: tuple = None
    receptive_field_formula: list = dataclasses.field(default_factory=list)
    flops: int = 0
    flops_formula: str = ""
    activation_bytes: int = 0
    activation_formula: str = ""
    calls: int = 1
    level: int = 0

    def to_dict(self):
        """The explanation as plain, JSON-safe data (Fractions become strings)."""
        data = dataclasses.asdict(self)
        data["jump"] = None if self.jump is None else [str(j) for j in self.jump]
        return data


def explain_model(model, expand_nested=False):
    """Explain each layer of `model`: output-size arithmetic, parameter formula, receptive field, FLOPs and
    activation memory per sample (see the module's conventions), in the order of `model.layers`.

    Works on Sequential and functional models (shapes from their graph) and on built subclassed models (shapes
    from each layer's build; the receptive field then follows `model.layers` as a chain while the shapes match).

    Arguments:
        model: a deepglass model.
        expand_nested: also list the layers of nested models (with `level` 1, 2, ...) after their model's row.

    Returns:
        A list of `LayerExplanation`; `explain_totals(rows)` adds them up.

    Example:
    >>> for row in deepglass.insight.explain_model(model):
    ...     print(row.name, row.params_formula, row.flops)
    """
    rows, _ = _walk(model, None, 0, expand_nested)
    return rows


explain_layers = explain_model


def explain_totals(rows):
    """Totals of `explain_model`'s top-level rows: `params`, `flops` (of the layers whose cost is known),
    `unknown_flops` (names of the others), `activation_bytes`, and the `receptive_field` of the last layer that
    widened it (a convolution or pooling), with the `receptive_field_layer` it belongs to.

    Example:
    >>> deepglass.insight.explain_totals(deepglass.insight.explain_model(model))["flops"]
    """
    top = [row for row in rows if row.level == 0]
    spatial = [row for row in top if isinstance(row.receptive_field, tuple) and row.receptive_field_formula]
    return {"params": sum(row.params for row in top),
            "flops": sum(row.flops for row in top if row.flops is not None),
            "unknown_flops": [row.name for row in top if row.flops is None],
            "activation_bytes": sum(row.activation_bytes or 0 for row in top),
            "unknown_activations": [row.name for row in top if row.activation_bytes is None],
            "receptive_field": spatial[-1].receptive_field if spatial else None,
            "receptive_field_layer": spatial[-1].name if spatial else None}


def format_count(value):
    """`451584` as `"451.6 K"`, `1.2e9` as `"1.2 G"` (powers of 1000)."""
    for unit in ("", " K", " M", " G", " T"):
        if abs(value) < 1000:
            return f"{value:.1f}{unit}" if unit else f"{value:g}"
        value /= 1000
    return f"{value:.1f} P"


def format_receptive_field(field):
    """`(5, 5)` as `"5x5"`; `"all"` as `"whole input"`; the other states as they are."""
    if isinstance(field, tuple):
        return "x".join(str(r) for r in field)
    return "whole input" if field == WHOLE_INPUT else field


# ------------------------------------------------------------------------------------------------- the walk
@dataclasses.dataclass
class _Call:
    layer: object
    in_shapes: list
    out_shapes: list
    out_dtypes: list
    in_keys: list
    out_keys: list


def _walk(model, input_states, level, expand_nested):
    """Rows for `model.layers` and the receptive-field states of the model's outputs, the inputs starting from
    `input_states` (one per model input; None: from their shapes)."""
    calls, inputs, outputs = _calls(model)
    states = {}
    for index, (key, shape) in enumerate(inputs):
        given = input_states[index] if input_states and index < len(input_states) else None
        states[key] = given if given is not None else _initial_state(shape)
    found = {}
    for call in calls:
        incoming = [states.get(key, UNKNOWN) for key in call.in_keys]
        row, rule, nested = _explain_call(call, incoming, level, expand_nested)
        state, formula = _apply_rule(rule, incoming, call)
        if nested is not None:
            state = nested[1]
        for key in call.out_keys:
            states[key] = state
        first = found.get(id(call.layer))
        if first is None:
            row.receptive_field, row.jump = _field(state), _jumps(state)
            row.receptive_field_formula = formula
            found[id(call.layer)] = (row, nested[0] if nested else [])
        else:
            _add_call(first[0], row)
    rows = []
    for layer in model.layers:
        row, inner = found.get(id(layer), (None, []))
        rows.append(row or _unexplained(layer, level))
        rows.extend(inner)
    return rows, [states.get(key, UNKNOWN) for key in outputs]


def _calls(model):
    """(calls in execution order, [(key, shape)] of the model's inputs, keys of its outputs)."""
    from deepglass.models.functional import _nodes_in_order
    inputs, outputs = list(getattr(model, "inputs", None) or []), list(getattr(model, "outputs", None) or [])
    if inputs and outputs and all(t._keras_history is not None for t in inputs + outputs):
        calls = []
        for node in _nodes_in_order(inputs, outputs):
            ins = node.output_tensors if isinstance(node.layer, InputLayer) else node.input_tensors
            calls.append(_Call(node.layer, [t.shape for t in ins], [t.shape for t in node.output_tensors],
                               [t.dtype for t in node.output_tensors], [id(t) for t in ins],
                               [id(t) for t in node.output_tensors]))
        return calls, [(id(t), t.shape) for t in inputs], [id(t) for t in outputs]
    return _chain_calls(model)


def _chain_calls(model):
    """A model without a graph (subclassed, or a Sequential built without an Input): its layers as a chain,
    shapes from each layer's build; past a layer whose input is not the previous output the field is unknown."""
    calls, previous, inputs = [], None, []
    for index, layer in enumerate(model.layers):
        try:
            shape = tuple(layer.input_shape)
        except (AttributeError, TypeError):
            shape = previous
        try:
            out = tuple(layer.compute_output_shape(shape)) if shape is not None else None
        except Exception:  # a layer that cannot tell its output shape
            out = None
        in_key = ("chain", index - 1) if shape is not None and shape == previous else ("start", index)
        if in_key[0] == "start":
            inputs.append((in_key, shape if index == 0 else None))  # None: an unknown receptive field
        dtype = getattr(layer, "compute_dtype", None)
        calls.append(_Call(layer, [shape], [out], [dtype], [in_key], [("chain", index)]))
        previous = out
    return calls, inputs, [("chain", len(calls) - 1)] if calls else []


def _initial_state(shape):
    if shape is None or not isinstance(shape, tuple) or not shape or isinstance(shape[0], tuple):
        return UNKNOWN
    return tuple((1, Fraction(1)) for _ in shape[2:]) if len(shape) >= 3 else NOT_SPATIAL


def _add_call(row, other):
    """A shared layer: its cost once per call."""
    row.calls += 1
    row.flops = None if row.flops is None or other.flops is None else row.flops + other.flops
    if row.activation_bytes is not None and other.activation_bytes is not None:
        row.activation_bytes += other.activation_bytes
    else:
        row.activation_bytes = None


def _unexplained(layer, level):
    """A layer the model never called (or unbuilt): its name and parameters only."""
    params, trainable = _counts(layer)
    return LayerExplanation(layer.name, type(layer).__name__, params=params, trainable_params=trainable,
                            receptive_field=UNKNOWN, flops=None, activation_bytes=None, level=level)


def _counts(layer):
    """(all, trainable) parameters; 0 for a layer whose weights do not exist yet."""
    try:
        total = layer.count_params()
    except (ValueError, AttributeError, RuntimeError):
        return 0, 0
    return total, sum(w.numel() for w in {id(w): w for w in layer.trainable_weights}.values())


# ---------------------------------------------------------------------------------------------- one call
def _explain_call(call, incoming, level, expand_nested):
    """(row, receptive-field rule, nested) for one call; `nested` is (inner rows, output state) for models."""
    from deepglass.models.model import Model
    layer = call.layer
    in_shape = call.in_shapes[0] if len(call.in_shapes) == 1 else call.in_shapes
    out_shape = call.out_shapes[0] if len(call.out_shapes) == 1 else call.out_shapes
    row = LayerExplanation(layer.name, type(layer).__name__, in_shape, out_shape, level=level)
    row.params, row.trainable_params = _counts(layer)
    row.activation_bytes, row.activation_formula = _activation(call)
    nested = None
    if isinstance(layer, Model):
        inner, states = _walk(layer, incoming, level + 1, expand_nested)
        own = [r for r in inner if r.level == level + 1]
        flops, memory = [r.flops for r in own], [r.activation_bytes for r in own]
        row.flops = None if None in flops else sum(flops)
        row.flops_formula = f"the sum over its layers = {row.flops:,}" if row.flops else ""
        row.params_formula = f"the sum over its layers = {row.params:,}" if row.params else ""
        row.activation_bytes = None if None in memory else sum(memory)  # what its layers output, inside it
        row.activation_formula = "" if row.activation_bytes is None else \
            f"the sum over its layers = {readable_memory_size(row.activation_bytes)}"
        nested = (inner if expand_nested else [], states[0] if len(states) == 1 else _merge(states))
        return row, "same", nested
    explain = _explainer(layer)
    rule = "default"
    known = bool(call.in_shapes) and call.in_shapes[0] is not None
    if explain is not None and known:
        rule = explain(row, layer, call)
    elif explain is None and known and not layer.weights and not isinstance(layer, (Lambda, TorchModuleWrapper)):
        row.flops = 0  # elementwise work, by the convention
    else:
        row.flops = None
    if row.params and not row.params_formula:
        row.params_formula = _weights_formula(layer)
    elif row.params_formula and _formula_value(row.params_formula) != f"{row.params:,}":
        row.params_formula = _weights_formula(layer)  # a variant the formula does not cover: the plain count
    return row, rule, nested


def _formula_value(formula):
    """The number after the first " = " of a formula."""
    parts = formula.split(" = ", 1)
    return parts[1].split()[0] if len(parts) == 2 else None


def _explainer(layer):
    name = type(layer).__name__
    if name == "Bidirectional":
        return _bidirectional
    if name in _RECURRENT_GATES:
        return _recurrent
    if name == "Embedding":
        return _embedding
    for cls, function in _EXPLAINERS:
        if isinstance(layer, cls):
            return function
    return None


def _conv_like(layer, call):
    """(axis names, input channels, input sizes, output sizes) of a convolution, pooling or resizing call."""
    shape, out = call.in_shapes[0], call.out_shapes[0]
    channels_last = layer.data_format == "channels_last"
    sizes, outs = spatial_shape(shape, layer.data_format), spatial_shape(out, layer.data_format)
    return _AXES[len(sizes)], shape[-1 if channels_last else 1], sizes, outs


def _conv(row, layer, call):
    axes, channels, sizes, outs = _conv_like(layer, call)
    spans = [d * (k - 1) + 1 for k, d in zip(layer.kernel_size, layer.dilation_rate)]
    row.output_size = _group_lines(axes, _dilated(layer.kernel_size, layer.dilation_rate, _window_texts(
        sizes, outs, spans, layer.strides, layer.padding)))
    kernel, per_group = _times(layer.kernel_size), channels // layer.groups
    inputs = f"{channels}/{layer.groups}" if layer.groups > 1 else f"{channels}"
    params = math.prod(layer.kernel_size) * per_group * layer.filters + (layer.filters if layer.use_bias else 0)
    row.params_formula = (f"({kernel}*{inputs} + 1) * {layer.filters}" if layer.use_bias
                          else f"{kernel}*{inputs} * {layer.filters}") + f" = {params:,}"
    _set_flops(row, math.prod(layer.kernel_size) * per_group * layer.filters, outs,
               f"2 * {kernel}*{inputs} * {layer.filters}")
    return ("window", list(zip(spans, layer.strides)))


def _depthwise(row, layer, call):
    axes, channels, sizes, outs = _conv_like(layer, call)
    spans = [d * (k - 1) + 1 for k, d in zip(layer.kernel_size, layer.dilation_rate)]
    row.output_size = _group_lines(axes, _dilated(layer.kernel_size, layer.dilation_rate, _window_texts(
        sizes, outs, spans, layer.strides, layer.padding)))
    kernel, multiplier = _times(layer.kernel_size), layer.depth_multiplier
    depthwise = math.prod(layer.kernel_size) * channels * multiplier
    if isinstance(layer, BaseSeparableConv):
        filters = layer.filters
        params = depthwise + channels * multiplier * filters + (filters if layer.use_bias else 0)
        pointwise = (f"({channels}*{multiplier} + 1) * {filters}" if layer.use_bias
                     else f"{channels}*{multiplier} * {filters}")
        row.params_formula = f"{kernel}*{channels}*{multiplier} + {pointwise} = {params:,}"
        _set_flops(row, depthwise + channels * multiplier * filters, outs,
                   f"2 * ({kernel}*{channels}*{multiplier} + {channels}*{multiplier}*{filters})")
    else:
        params = depthwise + (channels * multiplier if layer.use_bias else 0)
        row.params_formula = (f"({kernel} + 1) * {channels}*{multiplier}" if layer.use_bias
                              else f"{kernel} * {channels}*{multiplier}") + f" = {params:,}"
        _set_flops(row, depthwise, outs, f"2 * {kernel} * {channels}*{multiplier}")
    return ("window", list(zip(spans, layer.strides)))


def _transposed(row, layer, call):
    axes, channels, sizes, outs = _conv_like(layer, call)
    spans = [d * (k - 1) + 1 for k, d in zip(layer.kernel_size, layer.dilation_rate)]
    paddings = layer.output_padding or (None,) * len(sizes)
    texts = [_transposed_text(n, span, s, layer.padding, p, out)
             for n, span, s, p, out in zip(sizes, spans, layer.strides, paddings, outs)]
    if isinstance(layer, Deconvolution2D) and layer.requested_output_shape is not None:
        texts = [f"{out} (output_shape given)" for out in outs]
    row.output_size = _group_lines(axes, _dilated(layer.kernel_size, layer.dilation_rate, texts))
    kernel = _times(layer.kernel_size)
    params = math.prod(layer.kernel_size) * channels * layer.filters + (layer.filters if layer.use_bias else 0)
    row.params_formula = (f"({kernel}*{channels} + 1) * {layer.filters}" if layer.use_bias
                          else f"{kernel}*{channels} * {layer.filters}") + f" = {params:,}"
    # Each input position multiplies the whole kernel into the output: the cost scales with the input's size.
    _set_flops(row, math.prod(layer.kernel_size) * channels * layer.filters, sizes,
               f"2 * {kernel}*{channels} * {layer.filters}")
    return ("transposed", list(zip(spans, layer.strides)))


def _transposed_text(n, span, stride, padding, output_padding, out):
    if n is None:
        return "? (input size not fixed)"
    if padding == "valid" and output_padding is None:
        return f"({n} - 1) * {stride} + max({span}, {stride}) = {out}"
    if padding == "valid":
        return f"({n} - 1) * {stride} + {span} + {output_padding} = {out}"
    if output_padding is None:
        return f"same: {n} * {stride} = {out}"
    return f"same: ({n} - 1) * {stride} + ({span} mod 2) + {output_padding} = {out}"


def _pooling(row, layer, call):
    axes, _, sizes, outs = _conv_like(layer, call)
    row.output_size = _group_lines(axes, _window_texts(sizes, outs, layer.pool_size, layer.strides, layer.padding))
    row.flops = 0
    return ("window", list(zip(layer.pool_size, layer.strides)))


def _global_pooling(row, layer, call):
    _, _, sizes, _ = _conv_like(layer, call)
    row.output_size = [f"{_times(sizes)} positions -> 1 per channel"]
    row.flops = 0
    return WHOLE_INPUT


def _upsampling(row, layer, call):
    axes, _, sizes, outs = _conv_like(layer, call)
    texts = [_known(n, f"{n} * {u} = {out}") for n, u, out in zip(sizes, layer.size, outs)]
    row.output_size = _group_lines(axes, texts)
    row.flops = 0
    return ("upsample", list(layer.size))


def _borders(row, layer, call):
    axes, _, sizes, outs = _conv_like(layer, call)
    sign = "+" if isinstance(layer, BaseZeroPadding) else "-"
    row.output_size = _group_lines(axes, [_known(n, f"{n} {sign} {b} {sign} {a} = {out}")
                                          for n, (b, a), out in zip(sizes, layer._borders, outs)])
    row.flops = 0
    return "same"


def _dense(row, layer, call):
    shape = call.in_shapes[0]
    features, units = shape[-1], layer.units
    params = (features + 1) * units if layer.use_bias else features * units
    row.params_formula = (f"({features} + 1) * {units}" if layer.use_bias else f"{features} * {units}") + \
        f" = {params:,}"
    _set_flops(row, features * units, list(shape[1:-1]), f"2 * {features} * {units}")
    return "default"


def _flatten(row, layer, call):
    shape, out = call.in_shapes[0], call.out_shapes[0]
    if None not in shape[1:]:
        row.output_size = [f"{_times(shape[1:])} = {out[-1]:,}"]
    row.flops = 0
    return "default"


def _normalization(row, layer, call):
    vectors = [w for w in ("gamma", "beta", "moving_mean", "moving_variance") if getattr(layer, w, None) is not None]
    trainable = [w for w in vectors if w in ("gamma", "beta")]
    row.flops = 0
    if not vectors:
        return "default"
    size = getattr(layer, vectors[0]).numel()
    row.params_formula = f"{len(vectors)} * {size} = {len(vectors) * size:,}"
    if len(trainable) != len(vectors):
        row.params_formula += f" ({len(trainable)} * {size} trainable: {', '.join(trainable) or 'none'})"
    return "default"


def _embedding(row, layer, call):
    rows, width = layer.input_dim, layer.output_dim
    row.params_formula = f"{rows} * {width} = {rows * width:,}"
    row.flops = 0  # a table lookup
    return "embedding"


def _recurrent_parts(layer, shape):
    """(params formula, params, multiply-adds per step, its formula) of one recurrent layer."""
    gates, units, features = _RECURRENT_GATES[type(layer).__name__], layer.units, shape[-1]
    biases = (2 if getattr(layer, "reset_after", False) else 1) if getattr(layer, "use_bias", True) else 0
    lead = f"{gates} * " if gates > 1 else ""
    bias = f" + {biases}" if biases else ""
    params = gates * (features + units + biases) * units
    formula = f"{lead}({features} + {units}{bias}) * {units}"
    return formula, params, gates * (features + units) * units, f"{lead}({features} + {units}) * {units}"


def _recurrent(row, layer, call):
    shape = call.in_shapes[0]
    formula, params, macs, macs_formula = _recurrent_parts(layer, shape)
    row.params_formula = f"{formula} = {params:,}"
    _set_flops(row, macs, [shape[1]], f"2 * {macs_formula}")
    return WHOLE_INPUT


def _bidirectional(row, layer, call):
    shape = call.in_shapes[0]
    forward, backward = layer.forward_layer, layer.backward_layer
    if type(forward).__name__ not in _RECURRENT_GATES or type(backward).__name__ not in _RECURRENT_GATES:
        row.flops = None
        return WHOLE_INPUT
    parts = [_recurrent_parts(forward, shape), _recurrent_parts(backward, shape)]
    row.params_formula = f"{parts[0][0]} + {parts[1][0]} = {parts[0][1] + parts[1][1]:,}"
    _set_flops(row, parts[0][2] + parts[1][2], [shape[1]], f"2 * ({parts[0][3]} + {parts[1][3]})")
    return WHOLE_INPUT


def _no_cost(row, layer, call):
    row.flops = 0
    return "default"


# Most specific classes first: separable before depthwise before transposed before plain convolution.
_EXPLAINERS = [(BaseDepthwiseConv, _depthwise), (BaseConvTranspose, _transposed), (BaseConv, _conv),
               (BasePooling, _pooling), (BaseGlobalPooling, _global_pooling), (BaseUpSampling, _upsampling),
               (BaseZeroPadding, _borders), (BaseCropping, _borders), (Dense, _dense), (Flatten, _flatten),
               (BatchNormalization, _normalization), (LayerNormalization, _normalization),
               (GroupNormalization, _normalization), (InputLayer, _no_cost)]


# ----------------------------------------------------------------------------------------------- arithmetic
def _times(values):
    return "*".join(str(v) for v in values)


def _known(n, text):
    return "? (input size not fixed)" if n is None else text


def _group_lines(axes, texts):
    """One line for all axes when their arithmetic is the same, else one line per axis."""
    if len(set(texts)) == 1:
        return [f"{', '.join(axes)}: {texts[0]}"]
    return [f"{axis}: {text}" for axis, text in zip(axes, texts)]


def _dilated(kernel_size, dilation_rate, texts):
    """Per-axis texts preceded by the dilated kernel's span where the dilation is above 1."""
    return [text if d == 1 else f"k_eff = {d}*({k} - 1) + 1 = {d * (k - 1) + 1}; {text}"
            for k, d, text in zip(kernel_size, dilation_rate, texts)]


def _window_texts(sizes, outs, spans, strides, padding):
    """`⌊(n - k + 2*0) / s⌋ + 1` for "valid" (no floor sign when the division is exact), `⌈n / s⌉` for "same"
    and "causal", with the padding that gives it."""
    texts = []
    for n, out, k, s in zip(sizes, outs, spans, strides):
        if n is None:
            texts.append("? (input size not fixed)")
        elif padding == "valid":
            division = f"({n} - {k} + 2*0) / {s}"
            texts.append(f"{division if (n - k) % s == 0 else '⌊' + division + '⌋'} + 1 = {out}")
        elif padding == "causal":
            texts.append(f"causal, {k - 1} zeros before: ⌈{n} / {s}⌉ = {out}")
        else:
            total = max((out - 1) * s + k - n, 0)
            texts.append(f"same: ⌈{n} / {s}⌉ = {out} (padding {total // 2} + {total - total // 2})")
    return texts


def _set_flops(row, macs_per_position, positions, formula):
    """FLOPs = 2 * multiply-adds per output position * positions (None when a size is not fixed)."""
    if any(p is None for p in positions):
        row.flops, row.flops_formula = None, f"{formula} per position (size not fixed)"
        return
    row.flops = 2 * macs_per_position * math.prod(positions)
    where = f" * {_times(positions)}" if positions else ""
    row.flops_formula = f"{formula}{where} = {row.flops:,}"


def _activation(call):
    """(bytes, formula) of the call's outputs per sample."""
    total, parts = 0, []
    for shape, dtype in zip(call.out_shapes, call.out_dtypes):
        size = _itemsize(dtype)
        if not isinstance(shape, tuple) or not all(isinstance(d, int) for d in shape[1:]) or size is None:
            return None, ""
        elements = math.prod(shape[1:])
        total += elements * size
        parts.append(f"{_times(shape[1:]) or 1} * {size} B")
    return total, f"{' + '.join(parts)} = {readable_memory_size(total)}"


def _itemsize(dtype):
    import torch
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype.itemsize if isinstance(dtype, torch.dtype) else None


def _weights_formula(layer):
    """`3*3*1*32 + 32 = 320`: each weight's shape, for layers without a formula of their own."""
    weights = list({id(w): w for w in layer.weights}.values())
    if not weights:
        return ""
    terms = [_times(w.shape) or "1" for w in weights]
    return f"{' + '.join(terms)} = {sum(w.numel() for w in weights):,}"


# ---------------------------------------------------------------------------------------- receptive field
def _apply_rule(rule, incoming, call):
    """(output state, formula lines) of a call from its inputs' states."""
    if not incoming:
        return UNKNOWN, []
    state = incoming[0] if len(incoming) == 1 else _merge(incoming)
    if rule == "embedding":
        return ((1, Fraction(1)),) if state == NOT_SPATIAL else UNKNOWN, []
    if state in (UNKNOWN, NOT_SPATIAL, WHOLE_INPUT):
        return state, []
    if rule == WHOLE_INPUT:
        return WHOLE_INPUT, []
    if rule == "same":
        return state, []
    if rule == "default":
        return _default_rule(state, call), []
    kind, parameters = rule
    if len(parameters) != len(state):
        return UNKNOWN, []
    new, texts = [], []
    for (r, j), value in zip(state, parameters):
        if kind == "window":
            k, s = value
            new.append((r + (k - 1) * j, j * s))
            texts.append(f"r = {r} + ({k} - 1) * {j} = {r + (k - 1) * j}, j = {j} * {s} = {j * s}")
        elif kind == "transposed":
            k, s = value
            reach = -(-k // s)  # an output position gets contributions from at most ⌈k_eff / s⌉ inputs
            new.append((r + (reach - 1) * j, j / s))
            texts.append(f"r = {r} + (⌈{k} / {s}⌉ - 1) * {j} = {r + (reach - 1) * j}, "
                         f"j = {j} / {s} = {j / s}")
        else:  # upsample: every output position repeats (or interpolates near) one input position
            new.append((r, j / value))
            texts.append(f"r = {r}, j = {j} / {value} = {j / value}")
    axes = _AXES.get(len(state), tuple(f"axis {i + 1}" for i in range(len(state))))
    return tuple((math.ceil(r), j) for r, j in new), _group_lines(axes, texts)


def _default_rule(state, call):
    """Layers without a rule of their own keep the field when they keep the spatial axes (elementwise layers,
    Dense on the last axis, normalisation); mix everything when they drop them (Flatten); else it is unknown."""
    shape, out = call.in_shapes[0], call.out_shapes[0]  # a merge's inputs share their spatial sizes
    if shape is None or out is None:
        return UNKNOWN
    if not isinstance(out, tuple) or (out and isinstance(out[0], tuple)):
        return UNKNOWN
    if len(out) == 2:
        return WHOLE_INPUT
    if len(out) == len(shape) and (out[1:-1] == shape[1:-1] or out[2:] == shape[2:]):
        return state
    return UNKNOWN


def _merge(states):
    """A merge sees what each of its inputs sees: the largest field (per axis) of its inputs."""
    if UNKNOWN in states:
        return UNKNOWN
    if WHOLE_INPUT in states:
        return WHOLE_INPUT
    tuples = [s for s in states if isinstance(s, tuple)]
    if not tuples:
        return NOT_SPATIAL
    if len(tuples) != len(states) or len({len(s) for s in tuples}) != 1:
        return UNKNOWN
    return tuple((max(axis[0] for axis in axes), max(axis[1] for axis in axes)) for axes in zip(*tuples))


def _field(state):
    return tuple(r for r, _ in state) if isinstance(state, tuple) else state


def _jumps(state):
    return tuple(j for _, j in state) if isinstance(state, tuple) else None
