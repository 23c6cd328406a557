"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose (one base class, on BaseConv) and the
Keras 1/2 names Deconvolution2D and Deconvolution3D."""
import numbers
import warnings

import torch.nn.functional as F

from deepglass.layers.convolutional import (
    BaseConv, _keras1_positional, check_rank, layout, spatial_shape, standardize_padding, store_kernel,
)
from deepglass.layers.input_spec import _describe
from deepglass.user_frames import user_stacklevel

_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_warned_names = set()


def transpose_crops(kernel, stride, dilation, padding, output_padding):
    """Keras's output-size rule for one axis, as the (before, after) amounts to cut from the full transposed
    convolution, whose output has `(size - 1) * stride + span` positions (span = `dilation * (kernel - 1) + 1`);
    a negative amount after means zeros added there.

    "valid": `(size - 1) * stride + max(span, stride)` positions, or `(size - 1) * stride + span + output_padding`.
    "same": `size * stride` positions, or `(size - 1) * stride + span % 2 + output_padding`; the cut is split as
    Keras (and TensorFlow, for the convolution this one inverts) splits it: the extra element after.
    """
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return 0, -(max(span, stride) - span if output_padding is None else output_padding)
    total = stride + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
    kept_before = min(total - total // 2, span - 1)
    return span - 1 - kept_before, span - 1 - (total - kept_before)


class BaseConvTranspose(BaseConv):
    """N-D transposed convolution, the work behind Conv1DTranspose, Conv2DTranspose and Conv3DTranspose.

    The gradient of a convolution with respect to its input, used as a layer: each input position adds
    `input[b, i, c] * kernel[:, o, c]` into the output window starting at `i * strides` (taps `dilation_rate`
    apart), then the bias is added. The output size follows Keras (`transpose_crops`); `output_padding` picks
    one of the `strides` sizes that all convolve back to the input's size.

    The kernel has Keras's shape `(*kernel_size, filters, in_channels)` in `get_weights()` and torch's
    `(in_channels, filters, *kernel_size)` in `state_dict()`; torch's `conv_transpose` computes the output, with
    channels-last data handed over as a view as in BaseConv.
    """

    output_padding = None  # BaseConv's __init__ plans the call before this class has checked output_padding

    def __init__(self, rank, filters=None, kernel_size=None, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(rank, filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        self.padding = standardize_padding(self.padding, ("valid", "same"))
        if output_padding is not None:
            self.output_padding = _standardize_output_padding(output_padding, self.strides)
        self._plan_call()

    def _plan_call(self):
        self._plan_crops(self._keras_crops())

    def _keras_crops(self):
        return [transpose_crops(k, s, d, self.padding, None if self.output_padding is None else p)
                for k, s, d, p in zip(self.kernel_size, self.strides, self.dilation_rate,
                                      self.output_padding or (0,) * self.rank)]

    def _plan_crops(self, crops):
        """torch's `padding` cuts the same amount from both ends and its `output_padding` extends the end; what
        they cannot express (more cut after than before, as "same" with an odd kernel and even strides needs) is
        sliced off the result, a view."""
        self._crops = tuple(crops)
        self._lift = self.rank == 1 and self._channels_last
        lead = (1,) if self._lift else ()
        self._conv = _CONV_TRANSPOSE[self.rank + len(lead)]
        self._torch_strides, self._torch_dilation = lead + self.strides, lead + self.dilation_rate
        both = [max(min(before, after), 0) for before, after in crops]
        self._padding = (0,) * len(lead) + tuple(both)
        self._output_padding = (0,) * len(lead) + tuple(max(-after, 0) for _, after in crops)
        cuts = [(before - p, max(after, 0) - p) for (before, after), p in zip(crops, both)]
        self._slices = None
        if any(before or after for before, after in cuts):
            self._slices = (slice(None),) * (2 + len(lead)) + tuple(slice(before, -after or None)
                                                                    for before, after in cuts)

    def build(self, input_shape):
        channels = self._input_channels(tuple(input_shape))
        rank = self.rank
        self.add_weight(self.kernel_size + (self.filters, channels), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name="kernel",
                        layout=(rank + 1, rank) + tuple(range(rank)))
        store_kernel(self.kernel, self._channels_last)
        self._add_bias(self.filters)

    def _check_input(self, shape):
        check_rank(self, shape, self.rank, self.data_format)  # any input size has an output

    def _convolve(self, x, kernel, bias):
        outputs = self._conv(x, kernel, bias, self._torch_strides, self._padding, self._output_padding, 1,
                             self._torch_dilation)
        return outputs if self._slices is None else outputs[self._slices]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        self._check_input(shape)
        spatial = tuple(None if n is None else (n - 1) * s + d * (k - 1) + 1 - before - after
                        for n, k, s, d, (before, after) in zip(spatial_shape(shape, self.data_format), self.kernel_size,
                                                               self.strides, self.dilation_rate, self._crops))
        if self._channels_last:
            return (shape[0],) + spatial + (self.filters,)
        return (shape[0], self.filters) + spatial

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        config["output_padding"] = None if self.output_padding is None else list(self.output_padding)
        return config

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.output_padding is None else f"{text}, output_padding={self.output_padding}"


def _standardize_output_padding(value, strides):
    values = (value,) * len(strides) if isinstance(value, numbers.Integral) else value
    valid = isinstance(values, (list, tuple)) and len(values) == len(strides) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v < s for v, s in zip(values, strides))
    if not valid:
        raise ValueError(f"Received an invalid value for `output_padding`, expected a non-negative integer or a tuple "
                         f"of {len(strides)} of them, each smaller than the stride along its axis (strides={strides}). "
                         f"Received: output_padding={value!r}")
    return tuple(int(v) for v in values)


_ARGUMENTS = """
    Arguments:
        filters: the number of output channels.
        kernel_size: the window size, an int or a tuple of {rank} ints.
        strides: the upsampling factor, an int or a tuple of {rank} ints; strides > 1 cannot be combined with
            dilation_rate > 1.
        padding: `"valid"`: `(size - 1) * strides + max(kernel_size, strides)` outputs per axis; `"same"`:
            `size * strides` outputs per axis.
        output_padding: None, or an int or a tuple of {rank} ints each smaller than its stride: the output then has
            `(size - 1) * strides + kernel_size + output_padding` positions with `"valid"` and
            `(size - 1) * strides + kernel_size % 2 + output_padding` with `"same"` (kernel_size dilated).
        data_format: `"channels_last"` (inputs `{last}`) or `"channels_first"` (`{first}`); default
            `deepglass.config.image_data_format()`.
        dilation_rate: the spacing between kernel taps.
        activation: an activation name or function applied to the output; None means linear.
        use_bias: whether to add a bias per filter.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
            bias_constraint, activity_regularizer: as in Keras (defaults: Glorot uniform kernel, zero bias).
"""


def _doc(what, rank, example):
    return f"{what}\n\n    The kernel has Keras's shape `(*kernel_size, filters, in_channels)`.\n" + _ARGUMENTS.format(
        rank=rank, last=layout(rank, "channels_last"), first=layout(rank, "channels_first")) + \
        f"\n    Example:\n        {example}\n    "


class Conv1DTranspose(BaseConvTranspose):
    __doc__ = _doc("1-D transposed convolution (upsampling steps): `(batch, steps, channels)` -> `(batch, new_steps, "
                   "filters)`.", 1, ">>> deepglass.layers.Conv1DTranspose(8, 3, strides=2, padding=\"same\")"
                   "(torch.ones(4, 10, 2)).shape\n        torch.Size([4, 20, 8])")

    def __init__(self, filters=None, kernel_size=None, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2DTranspose(BaseConvTranspose):
    __doc__ = _doc("2-D transposed convolution (learned upsampling of images): `(batch, height, width, channels)` -> "
                   "`(batch, new_height, new_width, filters)`.", 2,
                   ">>> deepglass.layers.Conv2DTranspose(16, 3, strides=2, padding=\"same\")"
                   "(torch.ones(4, 7, 7, 32)).shape\n        torch.Size([4, 14, 14, 16])")

    def __init__(self, filters=None, kernel_size=None, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3DTranspose(BaseConvTranspose):
    __doc__ = _doc("3-D transposed convolution (upsampling volumes): `(batch, depth, height, width, channels)` -> "
                   "`(batch, new_depth, new_height, new_width, filters)`.", 3,
                   ">>> deepglass.layers.Conv3DTranspose(4, 2, strides=2)(torch.ones(2, 4, 4, 4, 8)).shape\n"
                   "        torch.Size([2, 8, 8, 8, 4])")

    # Keras puts data_format before output_padding here, unlike the 1-D and 2-D layers.
    def __init__(self, filters=None, kernel_size=None, strides=(1, 1, 1), padding="valid", data_format=None,
                 output_padding=None, dilation_rate=(1, 1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


# Keras 3's other names for the same classes.
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = \
    Conv1DTranspose, Conv2DTranspose, Conv3DTranspose


# ------------------------------------------------------------------------------------------- Keras 1/2's names
def _warn_renamed(old, new):
    if old not in _warned_names:
        _warned_names.add(old)
        warnings.warn(f"{old} is the Keras 1/2 name of {new}; use {new} instead.", DeprecationWarning,
                      stacklevel=user_stacklevel())


class Deconvolution2D(Conv2DTranspose):
    """Keras 1/2's name for `Conv2DTranspose`, with a warning: `Deconvolution2D(3, 3, 3, output_shape=(None, 14, 14,
    3), subsample=(2, 2), border_mode="same")` is `Conv2DTranspose(3, (3, 3), strides=2, padding="same")` on a 7x7
    input. Keras 1's keywords (`nb_filter`, `nb_row`, `nb_col`, `subsample`, `border_mode`, `dim_ordering`, `init`,
    `W_regularizer`, ...) are accepted too.

    Keras 1's `output_shape` (a full shape, batch axis first) is honoured: the output gets those spatial sizes,
    positioned as TensorFlow's `conv2d_transpose` positions them; sizes that strides and padding cannot produce
    from the input are an error when the layer is built. None entries keep Keras's size.
    """

    def __init__(self, *args, output_shape=None, **kwargs):
        if len(args) == 4 and isinstance(args[3], (list, tuple)):  # Keras 1: nb_filter, nb_row, nb_col, output_shape
            args, output_shape = args[:3], args[3]
        _warn_renamed(type(self).__name__, "Conv2DTranspose")
        super().__init__(*_keras1_positional(type(self).__name__, 2, args, "Conv2DTranspose"), **kwargs)
        if output_shape is not None and (not isinstance(output_shape, (list, tuple)) or len(output_shape) != 4):
            raise ValueError(f"Received an invalid value for `output_shape`, expected a 4-tuple such as (None, 14, 14, "
                             f"3) (batch axis first). Received: output_shape={output_shape!r}")
        self.requested_output_shape = None if output_shape is None else tuple(output_shape)

    def build(self, input_shape):
        if self.requested_output_shape is not None:
            self._plan_crops(self._crops_for(tuple(input_shape)))
        super().build(input_shape)

    def _crops_for(self, shape):
        """The cuts that give the requested sizes: those of TensorFlow's conv2d_transpose, whose output is the
        input of the "valid"/"same" convolution with the same kernel, strides and padding."""
        crops = self._keras_crops()
        wanted = spatial_shape(self.requested_output_shape, self.data_format)
        for axis, (n, target) in enumerate(zip(spatial_shape(shape, self.data_format), wanted)):
            if n is None or target is None:
                continue
            full = (n - 1) * self.strides[axis] + self.dilation_rate[axis] * (self.kernel_size[axis] - 1) + 1
            low = full if self.padding == "valid" else (n - 1) * self.strides[axis] + 1
            high = full + self.strides[axis] - 1 if self.padding == "valid" else n * self.strides[axis]
            if not low <= target <= high:
                raise ValueError(f"{_describe(self)} cannot make output_shape {self.requested_output_shape} from input "
                                 f"{shape}: with strides={self.strides} and padding=\"{self.padding}\" axis {axis + 1} "
                                 f"can have {low} to {high} positions; change output_shape or the strides.")
            before = max(full - target, 0) // 2 if self.padding == "same" else 0
            crops[axis] = (before, full - target - before)
        return crops

    def get_config(self):
        shape = self.requested_output_shape
        return {**super().get_config(), "output_shape": None if shape is None else list(shape)}


class Deconvolution3D(Conv3DTranspose):
    """Keras 2's name for `Conv3DTranspose` (same arguments), with a warning."""

    def __init__(self, *args, **kwargs):
        _warn_renamed(type(self).__name__, "Conv3DTranspose")
        super().__init__(*args, **kwargs)


# Keras 2's short names.
Deconv2D, Deconv3D = Deconvolution2D, Deconvolution3D
