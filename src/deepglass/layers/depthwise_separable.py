"""Depthwise and depthwise-separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D (on BaseConv), and
Keras 1's SeparableConvolution2D."""
import numbers

from deepglass import activations, constraints, initializers, regularizers
from deepglass.layers.convolutional import (
    BaseConv, _keras1_positional, layout, rename_legacy, standardize_padding, store_kernel,
    to_torch_layout,
)
from deepglass.layers.core import _serialize_or_none, activate, kernel_config


def _grouped_view(kernel, lift):
    """A stored `(in, multiplier, *kernel_size)` kernel as torch's grouped convolution takes it, `(in * multiplier,
    1, *kernel_size)` (a view), lifted to 2-D for channels-last 1-D data (see `to_torch_layout`)."""
    kernel = kernel.flatten(0, 1).unsqueeze(1)
    return kernel.unsqueeze(2) if lift else kernel


def _check_positive(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer. Received: "
                         f"{name}={value!r}")
    return int(value)


class BaseDepthwiseConv(BaseConv):
    """Depthwise convolution, the work behind DepthwiseConv1D/2D (and the first step of SeparableConv1D/2D): each
    input channel `c` is convolved with its own `depth_multiplier` kernels, giving output channels
    `c * depth_multiplier + m`.

    The kernel has Keras's shape `(*kernel_size, in_channels, depth_multiplier)` in `get_weights()` and is stored
    as `(in_channels, depth_multiplier, *kernel_size)`, which torch's grouped convolution (groups = in_channels)
    takes as a view. Padding, strides and dilation work as in BaseConv.
    """

    def __init__(self, rank, kernel_size=None, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, filters=None, **kwargs):
        depth_multiplier = _check_positive("depth_multiplier", depth_multiplier)
        # BaseConv's kernel_* hold the depthwise kernel's settings; the output channels and the groups depend on
        # the input, so build sets `filters` (depthwise) and `groups`.
        super().__init__(rank, filters or depth_multiplier, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
                         bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        self.padding = standardize_padding(self.padding, ("valid", "same"))
        self.depth_multiplier = depth_multiplier

    # Keras's names for what BaseConv calls the kernel's initializer, regularizer and constraint.
    depthwise_initializer = property(lambda self: self.kernel_initializer)
    depthwise_regularizer = property(lambda self: self.kernel_regularizer)
    depthwise_constraint = property(lambda self: self.kernel_constraint)

    def build(self, input_shape):
        channels = self._input_channels(tuple(input_shape))
        self.filters, self.groups = channels * self.depth_multiplier, channels
        self._add_depthwise_kernel(channels, "kernel")
        self._add_bias(self.filters)

    def _add_depthwise_kernel(self, channels, name):
        rank = self.rank
        self.add_weight(self.kernel_size + (channels, self.depth_multiplier), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name=name,
                        layout=(rank, rank + 1) + tuple(range(rank)))
        # Contiguous also for channels-last data: the gradient of the grouped view comes back contiguous.
        store_kernel(getattr(self, name), channels_innermost=False)

    def _torch_kernel(self):
        return _grouped_view(self.kernel, self._lift)

    def _output_channels(self, channels):
        return None if channels is None else channels * self.depth_multiplier

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        out = list(super().compute_output_shape(shape))
        axis = -1 if self._channels_last else 1
        out[axis] = self._output_channels(shape[axis])
        return tuple(out)

    def get_config(self):
        return {**super(BaseConv, self).get_config(), "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "depth_multiplier": self.depth_multiplier,
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                **kernel_config(self, kernel="depthwise")}

    def extra_repr(self):
        parts = [f"name={self.name!r}", f"kernel_size={self.kernel_size}"]
        for name, default in (("depth_multiplier", 1), ("strides", (1,) * self.rank), ("padding", "valid"),
                              ("dilation_rate", (1,) * self.rank), ("data_format", "channels_last")):
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)!r}")
        if self._activation_fn is not None:
            parts.append(f"activation={activations.serialize(self.activation)!r}")
        return ", ".join(parts)


class BaseSeparableConv(BaseDepthwiseConv):
    """Depthwise-separable convolution, the work behind SeparableConv1D/2D: a depthwise convolution (no bias)
    followed by a pointwise (1x1) convolution to `filters` channels, the bias and the activation.

    Weights in Keras's order and shapes: `depthwise_kernel` `(*kernel_size, in_channels, depth_multiplier)`,
    `pointwise_kernel` `(1, ..., 1, in_channels * depth_multiplier, filters)`, `bias` `(filters,)`.
    """

    def __init__(self, rank, filters=None, kernel_size=None, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        # Keras 1 named the filters nb_filter and used one `init` for both kernels.
        legacy = rename_legacy(type(self).__name__, kwargs, {"nb_filter": "filters", "init": "initializer"})
        filters = _check_positive("filters", legacy.get("filters", filters))
        if "initializer" in legacy:
            depthwise_initializer = pointwise_initializer = legacy["initializer"]
        super().__init__(rank, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                         activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
                         bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint,
                         filters=filters, **kwargs)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._input_channels(tuple(input_shape))
        self.groups = channels
        self._add_depthwise_kernel(channels, "depthwise_kernel")
        rank = self.rank
        self.add_weight((1,) * rank + (channels * self.depth_multiplier, self.filters), self.pointwise_initializer,
                        regularizer=self.pointwise_regularizer, constraint=self.pointwise_constraint,
                        name="pointwise_kernel", layout=(rank + 1, rank) + tuple(range(rank)))
        store_kernel(self.pointwise_kernel, self._channels_last)
        self._add_bias(self.filters)

    def call(self, inputs):
        x = to_torch_layout(inputs, self._channels_last, self._lift)
        return activate(self, self._separable(x), self._to_keras_layout)

    def _channels_first_mode(self):
        fits = self._channels_last and not self._lift
        return "image" if fits and type(self).call is BaseSeparableConv.call else None

    def _call_channels_first(self, inputs, training=None):
        return activate(self, self._separable(inputs))

    def _separable(self, x):
        """The depthwise then the pointwise convolution of `x`, in torch's layout."""
        depthwise = self._convolve(x, _grouped_view(self.depthwise_kernel, self._lift), None)
        pointwise = self.pointwise_kernel.unsqueeze(2) if self._lift else self.pointwise_kernel
        return self._conv(depthwise, pointwise, self.bias)

    def _output_channels(self, channels):
        return self.filters

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "pointwise_regularizer": _serialize_or_none(regularizers, self.pointwise_regularizer),
                "pointwise_constraint": _serialize_or_none(constraints, self.pointwise_constraint)}

    def extra_repr(self):
        text = super().extra_repr()
        name, rest = text.split(", ", 1)
        return f"{name}, filters={self.filters}, {rest}"


_ARGUMENTS = """
    Arguments:{filters}
        kernel_size: the window size, an int or a tuple of {rank} ints.
        strides: the step between windows; strides > 1 cannot be combined with dilation_rate > 1.
        padding: `"valid"` (no padding) or `"same"` (zeros around the input so that the output has
            `ceil(size / strides)` positions; an odd amount puts the extra zero after, as in Keras).
        depth_multiplier: the number of depthwise kernels (output channels) per input channel.
        data_format: `"channels_last"` (inputs `{last}`) or `"channels_first"`; default
            `deepglass.config.image_data_format()`.
        dilation_rate: the spacing between kernel taps.
        activation: an activation name or function applied to the output; None means linear.
        use_bias: whether to add a bias per output channel.
        depthwise_initializer,{pointwise} bias_initializer, depthwise_regularizer, bias_regularizer,
            depthwise_constraint, bias_constraint, activity_regularizer: as in Keras (defaults: Glorot uniform
            kernels, zero bias).
"""


def _doc(what, formula, rank, example, separable=False):
    filters = "\n        filters: the number of output channels (of the pointwise convolution)." if separable else ""
    pointwise = " pointwise_initializer, pointwise_regularizer, pointwise_constraint," if separable else ""
    arguments = _ARGUMENTS.format(filters=filters, rank=rank, last=layout(rank, "channels_last"), pointwise=pointwise)
    return f"{what}\n\n    {formula}\n{arguments}\n    Example:\n        {example}\n    "


class DepthwiseConv1D(BaseDepthwiseConv):
    __doc__ = _doc("1-D depthwise convolution: `(batch, steps, channels)` -> `(batch, new_steps, channels * "
                   "depth_multiplier)`.", "`output[b, i, c * M + m] = bias[c * M + m] + sum_j input[b, i * s + j * d, "
                   "c] * kernel[j, c, m]` (M the depth multiplier).", 1,
                   ">>> deepglass.layers.DepthwiseConv1D(3, depth_multiplier=2)(torch.ones(4, 10, 3)).shape\n"
                   "        torch.Size([4, 8, 6])")

    def __init__(self, kernel_size=None, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(BaseDepthwiseConv):
    __doc__ = _doc("2-D depthwise convolution: `(batch, height, width, channels)` -> `(batch, new_height, new_width, "
                   "channels * depth_multiplier)`.", "Each input channel is convolved with its own `depth_multiplier` "
                   "kernels; parameters: `kh * kw * channels * depth_multiplier` (+ a bias per output channel).", 2,
                   ">>> deepglass.layers.DepthwiseConv2D(3, padding=\"same\")(torch.ones(4, 28, 28, 8)).shape\n"
                   "        torch.Size([4, 28, 28, 8])")

    def __init__(self, kernel_size=None, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class SeparableConv1D(BaseSeparableConv):
    __doc__ = _doc("1-D depthwise-separable convolution: `(batch, steps, channels)` -> `(batch, new_steps, "
                   "filters)`.", "A DepthwiseConv1D (no bias) then a pointwise convolution: `output[b, i, o] = "
                   "bias[o] + sum_k depthwise[b, i, k] * pointwise_kernel[0, k, o]`.", 1,
                   ">>> deepglass.layers.SeparableConv1D(8, 3)(torch.ones(4, 10, 3)).shape\n"
                   "        torch.Size([4, 8, 8])", separable=True)

    def __init__(self, filters=None, kernel_size=None, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConv2D(BaseSeparableConv):
    __doc__ = _doc("2-D depthwise-separable convolution: `(batch, height, width, channels)` -> `(batch, new_height, "
                   "new_width, filters)`.", "A DepthwiseConv2D (no bias) then a 1x1 convolution to `filters` channels; "
                   "parameters: `kh * kw * in * M + in * M * filters + filters` (M the depth multiplier).", 2,
                   ">>> deepglass.layers.SeparableConv2D(32, 3, activation=\"relu\")(torch.ones(4, 28, 28, 8)).shape"
                   "\n        torch.Size([4, 26, 26, 32])", separable=True)

    def __init__(self, filters=None, kernel_size=None, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConvolution2D(SeparableConv2D):
    """Keras's other name for `SeparableConv2D`, also accepting Keras 1's spelling with a warning:
    `SeparableConvolution2D(32, 3, 3, border_mode="same", init="he_normal")` is `SeparableConv2D(32, (3, 3),
    padding="same", depthwise_initializer="he_normal", pointwise_initializer="he_normal")` (Keras 1's `nb_filter`,
    `nb_row`, `nb_col`, `subsample`, `dim_ordering`, `b_regularizer`, `b_constraint`, `bias` too)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*_keras1_positional(type(self).__name__, 2, args, "SeparableConv2D"), **kwargs)


SeparableConvolution1D = SeparableConv1D  # Keras's other name (Keras 1 had no 1-D one)
