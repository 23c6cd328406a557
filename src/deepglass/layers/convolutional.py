"""Convolution layers: Conv1D, Conv2D, Conv3D (one base class does the work) and Keras 1's Convolution1D/2D/3D.

Helpers shared with the pooling layers (argument checks, Keras's "same" padding, input-shape messages) live here too.
"""
import numbers
import warnings

import torch
import torch.nn.functional as F

from deepglass import activations, config, naming
from deepglass.layers.core import ActivationAttribute, activate, kernel_config, set_kernel_arguments
from deepglass.layers.input_spec import InputSpec, _describe
from deepglass.layers.layer import Layer
from deepglass.layers.legacy import rename_legacy_kwargs
from deepglass.layers.padded_convolution import convolve_padded
from deepglass.user_frames import user_stacklevel

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_SPATIAL_AXES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_LEGACY_FORMATS = {"th": "channels_first", "tf": "channels_last", "default": None}
_LEGACY_CONV = {"nb_filter": "filters", "init": "kernel_initializer", "border_mode": "padding", "subsample": "strides",
                "subsample_length": "strides", "dim_ordering": "data_format", "atrous_rate": "dilation_rate",
                "W_regularizer": "kernel_regularizer", "b_regularizer": "bias_regularizer",
                "W_constraint": "kernel_constraint", "b_constraint": "bias_constraint", "bias": "use_bias"}
# Keras 1 gave the kernel size one keyword per axis.
_LEGACY_KERNEL_DIMS = {1: ("filter_length",), 2: ("nb_row", "nb_col"), 3: ("kernel_dim1", "kernel_dim2", "kernel_dim3")}
_warned_positional = set()


# --------------------------------------------------------------------------------------- shared with pooling layers
def standardize_tuple(value, n, name):
    """An int or a sequence of `n` positive ints -> a tuple of `n` ints; a ValueError naming `name` otherwise."""
    values = (value,) * n if isinstance(value, numbers.Integral) else value
    if not isinstance(values, (list, tuple)) or len(values) != n or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer or a tuple of {n} "
                         f"positive integers. Received: {name}={value!r}")
    return tuple(int(v) for v in values)


def standardize_data_format(value):
    """None -> `deepglass.config.image_data_format()`; otherwise `"channels_last"` or `"channels_first"`."""
    if value is None:
        return config.image_data_format()
    return naming.lookup("data_format", value, {"channels_last": "channels_last", "channels_first": "channels_first"})


def standardize_padding(value, allowed):
    """Lower-cased `value` if it is one of `allowed` (`"valid"`, `"same"`, `"causal"`); a ValueError otherwise."""
    return naming.lookup("padding", value, {name: name for name in allowed})


def from_dim_ordering(value):
    """Keras 1's `dim_ordering` ("th", "tf", "default") as a `data_format` (None for the configured default)."""
    return _LEGACY_FORMATS.get(value, value) if isinstance(value, str) else value


def rename_legacy(owner, kwargs, table):
    """`rename_legacy_kwargs`, with its warning attributed to the first caller outside deepglass: these layers are
    built through several `__init__`s, and a DeprecationWarning only shows when it points at the user's code."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        renamed = rename_legacy_kwargs(owner, kwargs, table)
    for warning in caught:
        warnings.warn(warning.message, warning.category, stacklevel=user_stacklevel())
    return renamed


def same_padding(size, window, stride):
    """Keras's (and TensorFlow's) "same" padding of one axis as (before, after): the output has
    `ceil(size / stride)` positions and an odd padding puts the extra element after."""
    total = max((-(-size // stride) - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def pad_argument(pads):
    """`F.pad`'s argument (last axis first) for per-spatial-axis (before, after) pairs."""
    return tuple(p for pair in reversed(pads) for p in pair)


def to_torch_layout(inputs, channels_last, lift):
    """Inputs in torch's `(batch, channels, *spatial)` order, as a view: channels-last data keeps its memory (which
    is then torch's channels-last format) and, with `lift`, 1-D data gains a leading spatial axis of size 1, because
    torch's 2-D kernels take channels-last memory without a copy and its 1-D ones do not."""
    x = inputs.unsqueeze(1) if lift else inputs
    return x.permute(_CHANNELS_FIRST[x.dim()]) if channels_last else x


def from_torch_layout(outputs, channels_last, lift):
    """Undo `to_torch_layout` on torch's outputs (a view again)."""
    y = outputs.permute(_CHANNELS_LAST[outputs.dim()]) if channels_last else outputs
    return y.squeeze(1) if lift else y


# The permutations between the two layouts by rank (`permute` costs less than `movedim`, which calls it).
_CHANNELS_FIRST = {n: (0, n - 1, *range(1, n - 1)) for n in range(2, 9)}
_CHANNELS_LAST = {n: (0, *range(2, n), 1) for n in range(2, 9)}


def spatial_shape(shape, data_format):
    return tuple(shape[1:-1]) if data_format == "channels_last" else tuple(shape[2:])


def check_rank(layer, shape, rank, data_format):
    """Raise when `shape` is not `rank + 2`-D, naming the layout expected and the likely fix."""
    if len(shape) != rank + 2:
        raise ValueError(f"{_describe(layer)} expects {rank + 2}-D input {layout(rank, data_format)}; got shape "
                         f"{shape}{rank_hint(layer, shape, rank, data_format)}.")


def layout(rank, data_format):
    """`"(batch, height, width, channels)"` for rank 2, channels last."""
    axes = _SPATIAL_AXES[rank]
    axes = axes + ("channels",) if data_format == "channels_last" else ("channels",) + axes
    return f"({', '.join(('batch',) + axes)})"


def rank_hint(layer, shape, rank, data_format):
    """The fix for an input of the wrong rank, as the end of an error message (without the full stop).

    One axis short is either one sample without its batch axis (its channels axis then looks like channels: 1, 3
    or 4) or a batch without a channels axis (`(60000, 28, 28)` for Conv2D).
    """
    ndim, family = len(shape), type(layer).__name__[:-2]
    if ndim == rank + 1:
        channels_last = data_format == "channels_last"
        if shape[0] is not None and (shape[-1] if channels_last else shape[0]) in (1, 3, 4):
            return f": add a batch axis or an Input({shape})"
        if shape[0] is None and channels_last and shape[-1] in (1, 3, 4):  # a sample whose first axis became batch
            other = f", or use {family}{rank - 1}D for {rank - 1}-D data" if rank > 1 else ""
            return f": add a batch axis (x[None] for a single sample){other}"
        fixed = shape + (1,) if channels_last else shape[:1] + (1,) + shape[1:]
        return f": add a channels axis ({'x[..., None]' if channels_last else 'x[:, None]'} or a Reshape layer) " \
               f"to get shape {fixed}"
    if 1 <= ndim - 2 <= 3:
        return f": use {family}{ndim - 2}D for {ndim - 2}-D data, or reshape the input"
    return ": reshape the input to that layout, e.g. with a Reshape layer"


def check_window_fits(layer, shape, data_format, spans, padding, what, argument):
    """With padding "valid", raise when a window spans more than the input along some axis (the output would be
    empty); `what` describes the window ("3x3 kernel"), `argument` names the argument to make smaller."""
    sizes = spatial_shape(shape, data_format)
    if padding == "valid" and any(n is not None and n < span for n, span in zip(sizes, spans)):
        size = "x".join("?" if n is None else str(n) for n in sizes)
        raise ValueError(f'{_describe(layer)} has a {what} but its input {shape} is only {size}, too small for '
                         f'padding="valid": use padding="same", a smaller {argument}, or a larger input.')


def output_size(size, span, stride, padding):
    """Positions along one axis: `floor((size - span) / stride) + 1` for "valid", `ceil(size / stride)` otherwise."""
    if size is None:
        return None
    return (size - span) // stride + 1 if padding == "valid" else -(-size // stride)


def store_kernel(weight, channels_innermost):
    """Store a torch-layout kernel `(out, in, *kernel_size)` with exactly the strides torch gives its gradient.

    With `channels_innermost` (for channels-last data) dimension 1 is innermost in memory, as torch wants a kernel
    for channels-last inputs (torch.channels_last / channels_last_3d for 2-D and 3-D); otherwise the kernel is
    contiguous. Either way the strides are torch's own for that format also along axes of size 1 (one input channel,
    one filter, a 1x1 kernel). `Tensor.contiguous()` leaves those as it finds them, since they do not change where
    the values lie, but torch creates gradients with its own, and a weight whose strides differ from its gradient's
    makes DistributedDataParallel warn "Grad strides do not match bucket view strides" and copy the gradient at
    every step. set_weights, optimizer steps and .to(device) keep strides, so torch never converts the kernel per
    call.
    """
    data = weight.data.movedim(1, -1) if channels_innermost else weight.data
    data = data.clone(memory_format=torch.contiguous_format)  # a fresh tensor: torch's strides on every axis
    weight.data = data.movedim(-1, 1) if channels_innermost else data


def channels_hint(shape, spec, data_format):
    """When the channels check fails on what looks like the other data format, say so (else nothing)."""
    (_, channels), = spec.axes.items()
    other = 1 if data_format == "channels_last" else -1
    if len(shape) == spec.ndim and shape[other] == channels:
        flag = "channels_first" if data_format == "channels_last" else "channels_last"
        return f"; the input looks {flag.replace('_', '-')}: pass data_format=\"{flag}\" or move its channels axis"
    return ""


# ------------------------------------------------------------------------------------------------- the convolutions
class BaseConv(Layer):
    """N-D convolution (cross-correlation, as in Keras), the work behind Conv1D, Conv2D and Conv3D.

    For rank 1 and channels-last data: `output[b, i, o] = bias[o] + sum_{j, c} input[b, i*s + j*d, c] *
    kernel[j, c, o]` (s the stride, d the dilation; with groups, each output channel sees its group's inputs only).

    The kernel has Keras's shape `(*kernel_size, in_channels // groups, filters)` in `get_weights()` and torch's
    `(filters, in_channels // groups, *kernel_size)` in `state_dict()`. With channels-last data (the default) the
    inputs are handed to torch as a permuted view, which *is* a channels-last-format tensor (1-D data as a 2-D one of
    height 1), and the kernel is stored with its channels innermost in memory (torch's channels-last format), so
    torch runs its channels-last kernels with no copy of either.
    """

    activation = ActivationAttribute()

    def __init__(self, rank, filters=None, kernel_size=None, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        owner = type(self).__name__
        legacy = rename_legacy(owner, kwargs, _LEGACY_CONV)
        dims = [rename_legacy(owner, kwargs, {name: "kernel_size"}) for name in _LEGACY_KERNEL_DIMS[rank]]
        if any(dims):
            if not all(dims):
                raise TypeError(f"{owner} needs all of {', '.join(_LEGACY_KERNEL_DIMS[rank])} or none; pass "
                                "kernel_size=(...) instead.")
            kernel_size = tuple(d["kernel_size"] for d in dims)
        filters = legacy.pop("filters", filters)
        padding = legacy.pop("padding", padding)
        strides = legacy.pop("strides", strides)
        data_format = from_dim_ordering(legacy.pop("data_format")) if "data_format" in legacy else data_format
        dilation_rate = legacy.pop("dilation_rate", dilation_rate)
        use_bias = legacy.pop("use_bias", use_bias)
        kernel_initializer = legacy.pop("kernel_initializer", kernel_initializer)
        kernel_regularizer = legacy.pop("kernel_regularizer", kernel_regularizer)
        bias_regularizer = legacy.pop("bias_regularizer", bias_regularizer)
        kernel_constraint = legacy.pop("kernel_constraint", kernel_constraint)
        bias_constraint = legacy.pop("bias_constraint", bias_constraint)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.rank = rank
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"Received an invalid value for `filters`, expected a positive integer. Received: "
                             f"filters={filters!r}")
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups <= 0 or filters % groups:
            raise ValueError(f"Received an invalid value for `groups`, expected a positive integer dividing "
                             f"filters={filters}. Received: groups={groups!r}")
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Received strides={self.strides} and dilation_rate={self.dilation_rate}; strides > 1 "
                             "cannot be combined with dilation_rate > 1: set one of them to 1.")
        self.padding = standardize_padding(padding, ("valid", "same", "causal") if rank == 1 else ("valid", "same"))
        self.data_format = standardize_data_format(data_format)
        set_kernel_arguments(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)
        self._channels_last = self.data_format == "channels_last"
        self._plan_call()

    def _plan_call(self):
        """Decide once what `call` hands torch.

        Channels-last 1-D data runs as a 2-D convolution over a `(batch, 1, steps, channels)` view (see
        `to_torch_layout`), hence the leading 1s. Padding is torch's own where symmetric amounts suffice, `F.pad`
        with fixed amounts (causal, or "same" with an even span), or amounts found per call ("same" with strides,
        where they depend on the input size).
        """
        self._lift = self.rank == 1 and self._channels_last
        lead = (1,) if self._lift else ()
        self._conv = _CONV[self.rank + len(lead)]
        self._torch_kernel_size, self._torch_strides, self._torch_dilation = \
            lead + self.kernel_size, lead + self.strides, lead + self.dilation_rate
        spans = lead + self._spans()
        self._padding, self._pad, self._same_per_call = (0,) * len(spans), None, False
        if self.padding == "causal":
            self._pad = pad_argument([(0, 0)] * len(lead) + [(spans[-1] - 1, 0)])
        elif self.padding == "same" and max(self.strides) > 1:
            self._same_per_call = True
        elif self.padding == "same":
            pads = [same_padding(1, span, 1) for span in spans]  # with stride 1 the amounts do not depend on size
            if all(before == after for before, after in pads):
                self._padding = tuple(before for before, _ in pads)
            else:
                self._pad = pad_argument(pads)

    def _spans(self):
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate))

    def build(self, input_shape):
        channels = self._input_channels(tuple(input_shape))
        if channels % self.groups:
            raise ValueError(f"{_describe(self)} splits its input channels into groups={self.groups}, but the input "
                             f"{tuple(input_shape)} has {channels} channels: choose groups dividing {channels}.")
        rank = self.rank
        self.add_weight(self.kernel_size + (channels // self.groups, self.filters), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name="kernel",
                        layout=(rank + 1, rank) + tuple(range(rank)))
        store_kernel(self.kernel, self._channels_last)
        self._add_bias(self.filters)

    def _input_channels(self, shape):
        """Check an input shape before weights are made; return its channel count and set `input_spec` to it."""
        self._check_input(shape)
        channels = shape[-1 if self._channels_last else 1]
        if channels is None:
            raise ValueError(f"{_describe(self)} needs a known number of input channels; got input shape {shape}.")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1 if self._channels_last else 1: channels})
        return channels

    def _add_bias(self, size):
        if self.use_bias:
            self.add_weight((size,), self.bias_initializer, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None

    def _check_input(self, shape):
        check_rank(self, shape, self.rank, self.data_format)
        kernel = "x".join(map(str, self.kernel_size))
        spans = self._spans()
        what = f"{kernel} kernel" if spans == self.kernel_size else \
            f"{kernel} kernel dilated to span {'x'.join(map(str, spans))}"
        check_window_fits(self, shape, self.data_format, spans, self.padding, what, "kernel_size")

    def _input_hint(self, shape, spec):
        if len(shape) != spec.ndim:
            return rank_hint(self, shape, self.rank, self.data_format)
        return channels_hint(shape, spec, self.data_format)

    def call(self, inputs):
        x = to_torch_layout(inputs, self._channels_last, self._lift)
        return activate(self, self._convolve(x, self._torch_kernel(), self.bias), self._to_keras_layout)

    def _to_keras_layout(self, outputs):
        return from_torch_layout(outputs, self._channels_last, self._lift)

    def _channels_first_mode(self):
        return "image" if self._channels_last and not self._lift and type(self).call is BaseConv.call else None

    def _call_channels_first(self, inputs, training=None):
        return activate(self, self._convolve(inputs, self._torch_kernel(), self.bias))

    def _torch_kernel(self):
        """The kernel as torch's convolution takes it (1-D kernels lifted to 2-D with `_lift`)."""
        return self.kernel.unsqueeze(2) if self._lift else self.kernel

    def _convolve(self, x, kernel, bias):
        """torch's convolution of `x` (in torch's layout) with Keras's padding."""
        padding, uneven = self._padding, self._pad
        if self._same_per_call:
            sizes = zip(x.shape[2:], self._torch_kernel_size, self._torch_strides)
            pads = [same_padding(n, k, s) for n, k, s in sizes]
            if all(before == after for before, after in pads):
                padding = tuple(before for before, _ in pads)
            else:
                uneven = pad_argument(pads)
        arguments = (kernel, bias, self._torch_strides, padding, self._torch_dilation, self.groups)
        if uneven is not None:
            return convolve_padded(self._conv, x, uneven, *arguments)
        return self._conv(x, *arguments)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        self._check_input(shape)
        sizes = spatial_shape(shape, self.data_format)
        padding = "valid" if self.padding == "valid" else "same"  # causal output sizes are "same"'s
        spatial = tuple(output_size(n, span, s, padding) for n, span, s in zip(sizes, self._spans(), self.strides))
        if self._channels_last:
            return (shape[0],) + spatial + (self.filters,)
        return (shape[0], self.filters) + spatial

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                **kernel_config(self)}

    def extra_repr(self):
        parts = [f"name={self.name!r}", f"filters={self.filters}", f"kernel_size={self.kernel_size}"]
        for name, default in (("strides", (1,) * self.rank), ("padding", "valid"), ("dilation_rate", (1,) * self.rank),
                              ("groups", 1), ("data_format", "channels_last")):
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)!r}")
        if self._activation_fn is not None:
            parts.append(f"activation={activations.serialize(self.activation)!r}")
        return ", ".join(parts)


_ARGUMENTS = """
    Arguments:
        filters: the number of output channels.
        kernel_size: the window size, an int or a tuple of {rank} ints.
        strides: the step between windows, an int or a tuple of {rank} ints; strides > 1 cannot be combined with
            dilation_rate > 1.
        padding: `"valid"` (no padding: the output shrinks by `kernel_size - 1`), `"same"` (zeros around the input
            so that the output has `ceil(size / strides)` positions; an odd amount puts the extra zero after, as in
            Keras){causal}.
        data_format: `"channels_last"` (inputs `{last}`) or `"channels_first"` (`{first}`); default
            `deepglass.config.image_data_format()`.
        dilation_rate: the spacing between kernel taps (atrous convolution).
        groups: split the input channels into this many groups, each convolved with `filters // groups` filters.
        activation: an activation name or function applied to the output; None means linear.
        use_bias: whether to add a bias per filter.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
            bias_constraint, activity_regularizer: as in Keras (defaults: Glorot uniform kernel, zero bias).
"""


def _arguments(rank):
    causal = ', or `"causal"` (zeros before the input only: `output[t]` depends on `input[:t + 1]`)' \
        if rank == 1 else ""
    return _ARGUMENTS.format(rank=rank, causal=causal, last=layout(rank, "channels_last"),
                             first=layout(rank, "channels_first"))


class Conv1D(BaseConv):
    __doc__ = """1-D convolution over steps: `(batch, steps, channels)` -> `(batch, new_steps, filters)`.

    `output[b, i, o] = activation(bias[o] + sum_{j, c} input[b, i * strides + j * dilation_rate, c] *
    kernel[j, c, o])`: a cross-correlation, as Keras computes it.
    """ + _arguments(1) + """
    Example:
        >>> layer = deepglass.layers.Conv1D(8, 3, padding="causal")
        >>> layer(torch.ones(4, 10, 2)).shape
        torch.Size([4, 10, 8])
    """

    def __init__(self, filters=None, kernel_size=None, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        if "input_dim" in kwargs and "input_shape" not in kwargs:  # Keras 1/2: input_dim is the channel count here
            kwargs["input_shape"] = (kwargs.pop("input_length", None), kwargs.pop("input_dim"))
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2D(BaseConv):
    __doc__ = """2-D convolution over images: `(batch, height, width, channels)` -> `(batch, new_height, new_width,
    filters)`.

    `output[b, i, j, o] = activation(bias[o] + sum_{u, v, c} input[b, i * s + u * d, j * s + v * d, c] *
    kernel[u, v, c, o])`: a cross-correlation, as Keras computes it. Parameters: `(kh * kw * in / groups + 1) *
    filters`.
    """ + _arguments(2) + """
    Example:
        >>> layer = deepglass.layers.Conv2D(32, 3, activation="relu")
        >>> layer(torch.ones(4, 28, 28, 1)).shape
        torch.Size([4, 26, 26, 32])
    """

    def __init__(self, filters=None, kernel_size=None, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3D(BaseConv):
    __doc__ = """3-D convolution over volumes: `(batch, depth, height, width, channels)` -> `(batch, new_depth,
    new_height, new_width, filters)`.

    A cross-correlation, as Keras computes it, of a `(kd, kh, kw, in / groups, filters)` kernel with the input.
    """ + _arguments(3) + """
    Example:
        >>> layer = deepglass.layers.Conv3D(8, 3, padding="same")
        >>> layer(torch.ones(2, 16, 16, 16, 1)).shape
        torch.Size([2, 16, 16, 16, 8])
    """

    def __init__(self, filters=None, kernel_size=None, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


# ------------------------------------------------------------------------------------------- Keras 1's spellings
def _keras1_positional(owner, rank, args, new=None):
    """Keras 1 gave the kernel one positional int per axis (`Convolution2D(32, 3, 3)`); turn that into Keras 3's
    `(filters, kernel_size)` for the Keras 3 class `new` (default `Conv{rank}D`). Anything else is read in Keras 3's
    order."""
    if rank == 1 or len(args) < rank + 1 or not all(isinstance(a, numbers.Integral) for a in args[1:rank + 1]):
        return args
    if len(args) > rank + 1:
        raise TypeError(f"{owner}: after the filters and the {rank} kernel sizes, pass the remaining arguments by "
                        f"keyword (e.g. {owner}({', '.join(map(str, args[:rank + 1]))}, activation=...)).")
    if owner not in _warned_positional:
        _warned_positional.add(owner)
        sizes = ", ".join(map(str, args[1:]))
        warnings.warn(f"{owner}({args[0]}, {sizes}) is Keras 1's spelling of {new or f'Conv{rank}D'}({args[0]}, "
                      f"({sizes})); use that instead.", DeprecationWarning, stacklevel=user_stacklevel())
    return (args[0], tuple(int(a) for a in args[1:]))


class Convolution1D(Conv1D):
    """Keras 1's name for `Conv1D`, accepting its arguments (`nb_filter`, `filter_length`, `border_mode`,
    `subsample_length`, `init`, `W_regularizer`, ...) with a warning."""


class Convolution2D(Conv2D):
    """Keras 1's name for `Conv2D`: `Convolution2D(32, 3, 3, border_mode="same")` is `Conv2D(32, (3, 3),
    padding="same")`; Keras 1's keywords (`nb_filter`, `nb_row`, `nb_col`, `subsample`, `dim_ordering`, `init`,
    `W_regularizer`, `W_constraint`, `bias`, ...) are accepted with a warning."""

    def __init__(self, *args, **kwargs):
        super().__init__(*_keras1_positional(type(self).__name__, 2, args), **kwargs)


class Convolution3D(Conv3D):
    """Keras 1's name for `Conv3D`: `Convolution3D(16, 3, 3, 3)` is `Conv3D(16, (3, 3, 3))`; Keras 1's keywords
    (`kernel_dim1`..`kernel_dim3`, `border_mode`, `subsample`, `dim_ordering`, ...) are accepted with a warning."""

    def __init__(self, *args, **kwargs):
        super().__init__(*_keras1_positional(type(self).__name__, 3, args), **kwargs)
