"""Pooling layers: max, average (and sum) pooling over windows (1-D to 3-D) and over whole inputs (global
pooling)."""
import functools

import torch.nn.functional as F

from deepglass.layers.convolutional import (
    check_rank, check_window_fits, from_dim_ordering, from_torch_layout, layout, output_size, pad_argument, rank_hint,
    rename_legacy, same_padding, spatial_shape, standardize_data_format, standardize_padding, standardize_tuple,
    to_torch_layout,
)
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer


def _sum_pool1d(x, size, strides, padding):
    """Sum pooling of `(batch, channels, steps)` data, as 2-D pooling of height 1 (avg_pool1d has no
    divisor_override)."""
    padding = (0,) + ((padding,) if isinstance(padding, int) else tuple(padding))
    return F.avg_pool2d(x.unsqueeze(2), (1,) + tuple(size), (1,) + tuple(strides), padding, count_include_pad=True,
                        divisor_override=1).squeeze(2)


_POOL = {
    "max": {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d},
    # count_include_pad=False: a window over the border averages only the real inputs, as Keras's "same" does.
    "average": {rank: functools.partial(fn, count_include_pad=False)
                for rank, fn in {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}.items()},
    # divisor_override=1 makes torch's average the window's sum (to which padding zeros add nothing).
    "sum": {1: _sum_pool1d,
            **{rank: functools.partial(fn, count_include_pad=True, divisor_override=1)
               for rank, fn in {2: F.avg_pool2d, 3: F.avg_pool3d}.items()}},
}
_LEGACY = {"border_mode": "padding", "dim_ordering": "data_format", "pool_length": "pool_size", "stride": "strides"}


def _legacy_arguments(owner, kwargs, **current):
    """The `current` arguments, overridden by their Keras 1 spellings in `kwargs` (`border_mode`, `dim_ordering`,
    and 1-D pooling's `pool_length`, `stride`), which are renamed with a warning."""
    legacy = rename_legacy(owner, kwargs, {old: new for old, new in _LEGACY.items() if new in current})
    if "data_format" in legacy:
        legacy["data_format"] = from_dim_ordering(legacy["data_format"])
    return {**current, **legacy}


class BasePooling(Layer):
    """Max, average or sum pooling over windows of `pool_size`, the work behind MaxPooling1D-3D, AveragePooling1D-3D
    and SumPooling1D-3D.

    `padding="same"` follows Keras (and TensorFlow): the output has `ceil(size / strides)` positions, an odd amount
    of padding goes after the input, max pooling ignores the padding (it pads with -inf), average pooling divides
    each window's sum by the number of real inputs in it and sum pooling adds the real inputs only.
    """

    def __init__(self, pool_size, strides, pool_dimensions, pool_mode="max", padding="valid", data_format=None,
                 **kwargs):
        args = _legacy_arguments(type(self).__name__, kwargs, pool_size=pool_size, strides=strides, padding=padding,
                                 data_format=data_format)
        super().__init__(**kwargs)
        self._rank = pool_dimensions
        self.pool_mode = pool_mode
        self.pool_size = standardize_tuple(args["pool_size"], pool_dimensions, "pool_size")
        strides = args["strides"]
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, pool_dimensions, "strides")
        self.padding = standardize_padding(args["padding"], ("valid", "same"))
        self.data_format = standardize_data_format(args["data_format"])
        self._channels_last = self.data_format == "channels_last"
        self._lift = pool_dimensions == 1 and self._channels_last  # see to_torch_layout
        lead = (1,) if self._lift else ()
        self._pool = _POOL[pool_mode][pool_dimensions + len(lead)]
        self._torch_pool_size, self._torch_strides = lead + self.pool_size, lead + self.strides
        self.input_spec = InputSpec(ndim=pool_dimensions + 2)

    def build(self, input_shape):
        self._check_input(tuple(input_shape))

    def _check_input(self, shape):
        check_rank(self, shape, self._rank, self.data_format)
        check_window_fits(self, shape, self.data_format, self.pool_size, self.padding,
                          f"{'x'.join(map(str, self.pool_size))} pooling window", "pool_size")

    def _input_hint(self, shape, spec):
        return rank_hint(self, shape, self._rank, self.data_format)

    def call(self, inputs):
        x = to_torch_layout(inputs, self._channels_last, self._lift)
        return from_torch_layout(self._call_channels_first(x), self._channels_last, self._lift)

    def _channels_first_mode(self):
        return "image" if self._channels_last and not self._lift and type(self).call is BasePooling.call else None

    def _call_channels_first(self, inputs, training=None):
        if self.padding == "valid":
            return self._pool(inputs, self._torch_pool_size, self._torch_strides, 0)
        return self._pool_same(inputs)

    def _pool_same(self, x):
        size, strides = self._torch_pool_size, self._torch_strides
        pads = [same_padding(n, k, s) for n, k, s in zip(x.shape[2:], size, strides)]
        if all(before == after for before, after in pads):  # torch's own padding is ignored by both modes
            return self._pool(x, size, strides, tuple(before for before, _ in pads))
        pads = pad_argument(pads)
        if self.pool_mode == "max":
            return self._pool(F.pad(x, pads, value=float("-inf")), size, strides, 0)
        if self.pool_mode == "sum":
            return self._pool(F.pad(x, pads), size, strides, 0)
        # Zero padding adds nothing to a window's sum; pooling ones padded alike gives the share of real inputs.
        ones = x.new_ones((1, 1) + tuple(x.shape[2:]))
        return self._pool(F.pad(x, pads), size, strides, 0) / self._pool(F.pad(ones, pads), size, strides, 0)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        self._check_input(shape)
        sizes = spatial_shape(shape, self.data_format)
        spatial = tuple(output_size(n, k, s, self.padding) for n, k, s in zip(sizes, self.pool_size, self.strides))
        return (shape[0],) + spatial + (shape[-1],) if self._channels_last else shape[:2] + spatial

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding,
                "strides": list(self.strides), "data_format": self.data_format}

    def extra_repr(self):
        parts = [f"name={self.name!r}", f"pool_size={self.pool_size}"]
        if self.strides != self.pool_size:
            parts.append(f"strides={self.strides}")
        if self.padding != "valid":
            parts.append(f"padding={self.padding!r}")
        if not self._channels_last:
            parts.append(f"data_format={self.data_format!r}")
        return ", ".join(parts)


_POOLING_ARGUMENTS = """
    Arguments:
        pool_size: the window size, an int or a tuple of {rank} ints.
        strides: the step between windows; None means `pool_size` (windows side by side).
        padding: `"valid"` (windows inside the input only) or `"same"` (the output has `ceil(size / strides)`
            positions; windows over the border use the real inputs only, as in Keras).
        data_format: `"channels_last"` (inputs `{last}`) or `"channels_first"`; default
            `deepglass.config.image_data_format()`.
"""


def _pool_doc(what, rank, formula, example):
    arguments = _POOLING_ARGUMENTS.format(rank=rank, last=layout(rank, "channels_last"))
    return f"{what}\n\n    {formula}\n{arguments}\n    Example:\n        {example}\n    "


class MaxPooling1D(BasePooling):
    __doc__ = _pool_doc("Max pooling over steps: `(batch, steps, channels)` -> `(batch, new_steps, channels)`.", 1,
                        "`output[b, i, c] = max_j input[b, i * strides + j, c]` for `j < pool_size`.",
                        ">>> deepglass.layers.MaxPooling1D(2)(torch.ones(4, 10, 3)).shape\n"
                        "        torch.Size([4, 5, 3])")

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 1, "max", padding, data_format, name=name, **kwargs)


class MaxPooling2D(BasePooling):
    __doc__ = _pool_doc("Max pooling over images: `(batch, height, width, channels)` -> `(batch, new_height, "
                        "new_width, channels)`.", 2,
                        "`output[b, i, j, c] = max_{u, v} input[b, i * sh + u, j * sw + v, c]` over the window.",
                        ">>> deepglass.layers.MaxPooling2D()(torch.ones(4, 28, 28, 8)).shape\n"
                        "        torch.Size([4, 14, 14, 8])")

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 2, "max", padding, data_format, name=name, **kwargs)


class MaxPooling3D(BasePooling):
    __doc__ = _pool_doc("Max pooling over volumes: `(batch, depth, height, width, channels)` -> `(batch, new_depth, "
                        "new_height, new_width, channels)`.", 3,
                        "Each output is the largest input in its `pool_size` window.",
                        ">>> deepglass.layers.MaxPooling3D()(torch.ones(2, 8, 8, 8, 4)).shape\n"
                        "        torch.Size([2, 4, 4, 4, 4])")

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 3, "max", padding, data_format, name=name, **kwargs)


class AveragePooling1D(BasePooling):
    __doc__ = _pool_doc("Average pooling over steps: `(batch, steps, channels)` -> `(batch, new_steps, channels)`.",
                        1, "`output[b, i, c] = mean_j input[b, i * strides + j, c]` over the real inputs of the "
                        "window.", ">>> deepglass.layers.AveragePooling1D(2)(torch.ones(4, 10, 3)).shape\n"
                        "        torch.Size([4, 5, 3])")

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 1, "average", padding, data_format, name=name, **kwargs)


class AveragePooling2D(BasePooling):
    __doc__ = _pool_doc("Average pooling over images: `(batch, height, width, channels)` -> `(batch, new_height, "
                        "new_width, channels)`.", 2,
                        "Each output is the mean of the real inputs in its `pool_size` window.",
                        ">>> deepglass.layers.AveragePooling2D()(torch.ones(4, 28, 28, 8)).shape\n"
                        "        torch.Size([4, 14, 14, 8])")

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 2, "average", padding, data_format, name=name, **kwargs)


class AveragePooling3D(BasePooling):
    __doc__ = _pool_doc("Average pooling over volumes: `(batch, depth, height, width, channels)` -> `(batch, "
                        "new_depth, new_height, new_width, channels)`.", 3,
                        "Each output is the mean of the real inputs in its `pool_size` window.",
                        ">>> deepglass.layers.AveragePooling3D()(torch.ones(2, 8, 8, 8, 4)).shape\n"
                        "        torch.Size([2, 4, 4, 4, 4])")

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 3, "average", padding, data_format, name=name, **kwargs)


# ---------------------------------------------------------------------------------------------------- global pooling
class BaseGlobalPooling(Layer):
    """The maximum or mean over all spatial positions, per channel: the work behind the GlobalPooling layers."""

    def __init__(self, pool_dimensions, pool_mode="max", data_format=None, keepdims=False, **kwargs):
        args = _legacy_arguments(type(self).__name__, kwargs, data_format=data_format)
        super().__init__(**kwargs)
        self._rank = pool_dimensions
        self.pool_mode = pool_mode
        self.data_format = standardize_data_format(args["data_format"])
        self.keepdims = bool(keepdims)
        first = 1 if self.data_format == "channels_last" else 2
        self._axes = tuple(range(first, first + pool_dimensions))
        self._channels_first_axes = tuple(range(2, 2 + pool_dimensions))
        self.input_spec = InputSpec(ndim=pool_dimensions + 2)

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), self._rank, self.data_format)

    def _input_hint(self, shape, spec):
        return rank_hint(self, shape, self._rank, self.data_format)

    def call(self, inputs):
        return self._pool(inputs, self._axes)

    def _pool(self, inputs, axes):
        if self.pool_mode == "max":
            return inputs.amax(dim=axes, keepdim=self.keepdims)
        return inputs.mean(dim=axes, keepdim=self.keepdims)

    def _channels_first_mode(self):
        return "image" if self.data_format == "channels_last" and type(self).call is BaseGlobalPooling.call else None

    def _call_channels_first(self, inputs, training=None):
        return self._pool(inputs, self._channels_first_axes)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        check_rank(self, shape, self._rank, self.data_format)
        if self.keepdims:
            return tuple(1 if axis in self._axes else d for axis, d in enumerate(shape))
        return tuple(d for axis, d in enumerate(shape) if axis not in self._axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}

    def extra_repr(self):
        extra = "" if self.data_format == "channels_last" else f", data_format={self.data_format!r}"
        return f"name={self.name!r}{extra}" + (", keepdims=True" if self.keepdims else "")


_GLOBAL_ARGUMENTS = """
    Arguments:
        data_format: `"channels_last"` (inputs `{last}`) or `"channels_first"`; default
            `deepglass.config.image_data_format()`.
        keepdims: keep the pooled axes with size 1 (`{kept}`) instead of dropping them.

    Example:
        >>> deepglass.layers.{name}()(torch.ones({example})).shape
        torch.Size([2, 3])
"""


def _global_doc(name, rank, what):
    shape = layout(rank, "channels_last")
    kept = "(batch, " + "1, " * rank + "channels)"
    example = ", ".join(["2"] + ["5"] * rank + ["3"])
    return f"{what} of each channel over all positions: `{shape}` -> `(batch, channels)`.\n" + \
        _GLOBAL_ARGUMENTS.format(last=shape, kept=kept, name=name, example=example)


class GlobalMaxPooling1D(BaseGlobalPooling):
    __doc__ = _global_doc("GlobalMaxPooling1D", 1, "The maximum")

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, "max", data_format, keepdims, **kwargs)


class GlobalMaxPooling2D(BaseGlobalPooling):
    __doc__ = _global_doc("GlobalMaxPooling2D", 2, "The maximum")

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, "max", data_format, keepdims, **kwargs)


class GlobalMaxPooling3D(BaseGlobalPooling):
    __doc__ = _global_doc("GlobalMaxPooling3D", 3, "The maximum")

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(3, "max", data_format, keepdims, **kwargs)


class GlobalAveragePooling1D(BaseGlobalPooling):
    __doc__ = _global_doc("GlobalAveragePooling1D", 1, "The mean")

    _passes_masks = True
    _creates_masks = False

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, "average", data_format, keepdims, **kwargs)

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        # The mean over the unmasked steps only, as Keras does for padded sequences.
        weights = mask.unsqueeze(2 if self.data_format == "channels_last" else 1).to(inputs.dtype)
        total = (inputs * weights).sum(dim=self._axes, keepdim=self.keepdims)
        return total / weights.sum(dim=self._axes, keepdim=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None  # the time axis is pooled away


class GlobalAveragePooling2D(BaseGlobalPooling):
    __doc__ = _global_doc("GlobalAveragePooling2D", 2, "The mean")

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, "average", data_format, keepdims, **kwargs)


class GlobalAveragePooling3D(BaseGlobalPooling):
    __doc__ = _global_doc("GlobalAveragePooling3D", 3, "The mean")

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(3, "average", data_format, keepdims, **kwargs)


# Keras's short names for the same classes.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, \
    GlobalAveragePooling3D
