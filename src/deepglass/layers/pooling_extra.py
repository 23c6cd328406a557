"""Pooling that Keras lacks: sum pooling, L^p (power) pooling, and max pooling that also returns where each maximum
came from, with the max-unpooling that puts the maxima back (SegNet's decoder)."""
import math
import numbers

import torch
import torch.nn.functional as F

from deepglass.layers.convolutional import (
    check_rank, from_torch_layout, layout, pad_argument, rank_hint, same_padding, spatial_shape,
    standardize_data_format, standardize_padding, standardize_tuple, to_torch_layout,
)
from deepglass.layers.input_spec import _describe
from deepglass.layers.layer import Layer
from deepglass.layers.pooling import BasePooling, _pool_doc
from deepglass.layers.symbolic import KerasTensor


# ------------------------------------------------------------------------------------------------------ sum pooling
class SumPooling1D(BasePooling):
    __doc__ = _pool_doc("Sum pooling over steps: `(batch, steps, channels)` -> `(batch, new_steps, channels)`.", 1,
                        "`output[b, i, c] = sum_j input[b, i * strides + j, c]` over the real inputs of the window "
                        "(\"same\" padding adds nothing).",
                        ">>> deepglass.layers.SumPooling1D(2)(torch.ones(4, 10, 3))[0, 0]\n"
                        "        tensor([2., 2., 2.])")

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 1, "sum", padding, data_format, name=name, **kwargs)


class SumPooling2D(BasePooling):
    __doc__ = _pool_doc("Sum pooling over images: `(batch, height, width, channels)` -> `(batch, new_height, "
                        "new_width, channels)`.", 2,
                        "Each output is the sum of the real inputs in its `pool_size` window: average pooling times "
                        "the window size, except at \"same\"-padded borders.",
                        ">>> deepglass.layers.SumPooling2D()(torch.ones(4, 28, 28, 8)).shape\n"
                        "        torch.Size([4, 14, 14, 8])")

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 2, "sum", padding, data_format, name=name, **kwargs)


class SumPooling3D(BasePooling):
    __doc__ = _pool_doc("Sum pooling over volumes: `(batch, depth, height, width, channels)` -> `(batch, new_depth, "
                        "new_height, new_width, channels)`.", 3,
                        "Each output is the sum of the real inputs in its `pool_size` window.",
                        ">>> deepglass.layers.SumPooling3D()(torch.ones(2, 8, 8, 8, 4)).shape\n"
                        "        torch.Size([2, 4, 4, 4, 4])")

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 3, "sum", padding, data_format, name=name, **kwargs)


# ------------------------------------------------------------------------------------------------------- L^p pooling
class BaseLPPooling(BasePooling):
    """The p-norm of each window, `(sum |x|^p)^(1/p)`, the work behind LPPooling1D-3D: sum pooling of `|x|^p`, then
    the p-th root.

    torch's `F.lp_poolNd` is not used: it raises `x` (not `|x|`) to the power p, so windows whose odd powers sum
    to a negative number give NaN, it has no padding, and it needs the zero-window care done here. A window of zeros
    gives 0 with gradient 0 (the p-th root's slope there is infinite; 0 is the subgradient used).
    """

    def __init__(self, p, pool_size, strides, pool_dimensions, padding="valid", data_format=None, **kwargs):
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not math.isfinite(p) or p < 1:
            raise ValueError(f"Received an invalid value for `p`, expected a finite number >= 1 (2 for L2 pooling; "
                             f"use MaxPooling for p=inf). Received: p={p!r}")
        super().__init__(pool_size, strides, pool_dimensions, "sum", padding, data_format, **kwargs)
        self.p = p

    def call(self, inputs):
        p = self.p
        powers = inputs.square() if p == 2 else inputs.abs() if p == 1 else inputs.abs().pow(p)
        sums = super().call(powers)
        if p == 1:
            return sums
        positive = sums > 0
        return torch.where(positive, torch.where(positive, sums, 1.0).pow(1.0 / p), 0.0)

    def get_config(self):
        return {**super().get_config(), "p": self.p}

    def extra_repr(self):
        return f"p={self.p}, {super().extra_repr()}"


def _lp_doc(rank, shape, example):
    what = f"L^p pooling (the p-norm of each window): `{layout(rank, 'channels_last')}` -> the same with pooled sizes."
    formula = ("`output = (sum over the window's real inputs of |x|^p)^(1/p)`; p=2 is square-sum (L2) pooling,\n"
               "    p=1 sums absolute values, large p approaches max pooling of |x|.")
    doc = _pool_doc(what, rank, formula, f">>> deepglass.layers.LPPooling{rank}D(2)(torch.ones({shape})).shape\n"
                                         f"        torch.Size([{example}])")
    return doc.replace("    Arguments:\n", "    Arguments:\n        p: the norm's power, a number >= 1 (default 2).\n")


class LPPooling1D(BaseLPPooling):
    __doc__ = _lp_doc(1, "4, 10, 3", "4, 5, 3")

    def __init__(self, p=2, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(p, pool_size, strides, 1, padding, data_format, name=name, **kwargs)


class LPPooling2D(BaseLPPooling):
    __doc__ = _lp_doc(2, "4, 28, 28, 8", "4, 14, 14, 8")

    def __init__(self, p=2, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(p, pool_size, strides, 2, padding, data_format, name=name, **kwargs)


class LPPooling3D(BaseLPPooling):
    __doc__ = _lp_doc(3, "2, 8, 8, 8, 4", "2, 4, 4, 4, 4")

    def __init__(self, p=2, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(p, pool_size, strides, 3, padding, data_format, name=name, **kwargs)


# ------------------------------------------------------------------------------------ max pooling with its indices
class BaseMaxPoolingWithIndices(BasePooling):
    """Max pooling that also returns where each maximum came from, the work behind MaxPooling1D-3DWithIndices.

    The output is a tuple `(pooled, indices)` of equal shapes: `pooled` is exactly MaxPooling's output and
    `indices` (int64) holds, for each output, the flat position of its maximum within its sample's and channel's
    input plane: `(d * height + h) * width + w` for 3-D, `h * width + w` for 2-D, the step for 1-D (torch's
    convention, whatever the data format). MaxUnpooling puts the maxima back with it.
    """

    def __init__(self, pool_size, strides, pool_dimensions, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, pool_dimensions, "max", padding, data_format, **kwargs)

    def call(self, inputs):
        x = to_torch_layout(inputs, self._channels_last, self._lift)
        size, strides, sizes = self._torch_pool_size, self._torch_strides, tuple(x.shape[2:])
        pads = [same_padding(n, k, s) if self.padding == "same" else (0, 0) for n, k, s in zip(sizes, size, strides)]
        if all(before == after for before, after in pads):  # torch's own padding keeps indices in the input's plane
            pooled, indices = self._pool(x, size, strides, tuple(b for b, _ in pads), return_indices=True)
        else:
            padded = F.pad(x, pad_argument(pads), value=float("-inf"))
            pooled, indices = self._pool(padded, size, strides, 0, return_indices=True)
            indices = _unpad_indices(indices, padded.shape[2:], [b for b, _ in pads], sizes)
        return (from_torch_layout(pooled, self._channels_last, self._lift),
                from_torch_layout(indices, self._channels_last, self._lift))

    def compute_output_shape(self, input_shape):
        shape = super().compute_output_shape(input_shape)
        return shape, shape

    def compute_output_spec(self, inputs):
        shape = super().compute_output_shape(inputs.shape)
        return KerasTensor(shape, self._dtype), KerasTensor(shape, torch.int64)


def _unpad_indices(indices, padded_sizes, befores, sizes):
    """Flat positions in a padded plane -> the same positions in the unpadded plane (no maximum is padding)."""
    coordinates, rest = [], indices
    for n in reversed(padded_sizes):
        coordinates.append(rest % n)
        rest = rest // n
    flat = torch.zeros_like(indices)
    for coordinate, before, n in zip(reversed(coordinates), befores, sizes):
        flat = flat * n + (coordinate - before)
    return flat


def _with_indices_doc(rank):
    return _pool_doc(f"Max pooling that also returns the position of each maximum: `{layout(rank, 'channels_last')}` "
                     "-> `(pooled, indices)`.", rank,
                     f"`pooled` is MaxPooling{rank}D's output; `indices` (int64, same shape) holds each maximum's flat "
                     "position in its input plane (torch's convention), for MaxUnpooling to put it back.",
                     f">>> pooled, indices = deepglass.layers.MaxPooling{rank}DWithIndices()(x)\n"
                     f"        >>> restored = deepglass.layers.MaxUnpooling{rank}D()([pooled, indices])")


class MaxPooling1DWithIndices(BaseMaxPoolingWithIndices):
    __doc__ = _with_indices_doc(1)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 1, padding, data_format, name=name, **kwargs)


class MaxPooling2DWithIndices(BaseMaxPoolingWithIndices):
    __doc__ = _with_indices_doc(2)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 2, padding, data_format, name=name, **kwargs)


class MaxPooling3DWithIndices(BaseMaxPoolingWithIndices):
    __doc__ = _with_indices_doc(3)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 3, padding, data_format, name=name, **kwargs)


# -------------------------------------------------------------------------------------------------- max unpooling
class BaseMaxUnpooling(Layer):
    """Max unpooling, the work behind MaxUnpooling1D-3D: `[pooled, indices]` (from MaxPoolingNDWithIndices) -> a
    zero tensor of the pre-pooling size with each pooled value at its index.

    The output size per axis is the inverse of the pooling: `(n - 1) * strides + pool_size` for "valid" and
    `n * strides` for "same" (`n` the pooled size). An input whose size the pooling did not divide evenly has
    another size: pass the tensor that was pooled (or any tensor of its spatial size) as a third input,
    `[pooled, indices, reference]`, and the output takes its spatial size, so that each maximum lands where it
    came from. The values are scattered (`Tensor.scatter`, what `F.max_unpoolNd` does) straight in the data
    format's layout, for any output size.
    """

    def __init__(self, pool_size, strides, pool_dimensions, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self._rank = pool_dimensions
        self.pool_size = standardize_tuple(pool_size, pool_dimensions, "pool_size")
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, pool_dimensions, "strides")
        self.padding = standardize_padding(padding, ("valid", "same"))
        self.data_format = standardize_data_format(data_format)
        self._channels_last = self.data_format == "channels_last"

    def build(self, input_shape):
        self._check_shapes(input_shape)

    def _check_shapes(self, shapes):
        """Raise unless `shapes` is `[pooled, indices]` or `[pooled, indices, reference]` with matching shapes."""
        if not isinstance(shapes, (list, tuple)) or len(shapes) not in (2, 3) or \
                not all(isinstance(s, (list, tuple)) for s in shapes):
            raise ValueError(f"{_describe(self)} expects a list [pooled, indices] (or [pooled, indices, reference]) "
                             f"from MaxPooling{self._rank}DWithIndices; got {_shape_text(shapes)}.")
        for shape in shapes:
            check_rank(self, tuple(shape), self._rank, self.data_format)
        if tuple(shapes[0]) != tuple(shapes[1]):
            raise ValueError(f"{_describe(self)} expects pooled values and indices of the same shape; got "
                             f"{tuple(shapes[0])} and {tuple(shapes[1])}: pass both outputs of the same "
                             f"MaxPooling{self._rank}DWithIndices call.")

    def _input_hint(self, shape, spec):
        return rank_hint(self, shape, self._rank, self.data_format)

    def _output_sizes(self, pooled_shape, reference_shape):
        if reference_shape is not None:
            return spatial_shape(reference_shape, self.data_format)
        return tuple(None if n is None else (n - 1) * s + k if self.padding == "valid" else n * s
                     for n, k, s in zip(spatial_shape(pooled_shape, self.data_format), self.pool_size, self.strides))

    def call(self, inputs):
        pooled, indices = inputs[0], inputs[1]
        sizes = self._output_sizes(pooled.shape, inputs[2].shape if len(inputs) > 2 else None)
        batch = pooled.shape[0]
        if self._channels_last:
            channels = pooled.shape[-1]
            flat = pooled.new_zeros((batch, math.prod(sizes), channels))
            flat = flat.scatter(1, indices.reshape(batch, -1, channels), pooled.reshape(batch, -1, channels))
            return flat.view((batch,) + tuple(sizes) + (channels,))
        channels = pooled.shape[1]
        flat = pooled.new_zeros((batch, channels, math.prod(sizes)))
        flat = flat.scatter(2, indices.reshape(batch, channels, -1), pooled.reshape(batch, channels, -1))
        return flat.view((batch, channels) + tuple(sizes))

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        pooled = tuple(input_shape[0])
        sizes = self._output_sizes(pooled, tuple(input_shape[2]) if len(input_shape) > 2 else None)
        return (pooled[0],) + sizes + (pooled[-1],) if self._channels_last else pooled[:2] + sizes

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape([t.shape for t in inputs]), inputs[0].dtype)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}

    def extra_repr(self):
        return f"name={self.name!r}, pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}"


def _shape_text(shapes):
    try:
        return "shapes " + str([tuple(s) for s in shapes])
    except TypeError:
        return f"shape {tuple(shapes) if isinstance(shapes, (list, tuple)) else shapes}"


def _unpool_doc(rank):
    return f"""Max unpooling: `[pooled, indices]` from MaxPooling{rank}DWithIndices -> zeros of the pre-pooling size
    with each maximum back at its position (SegNet's decoder upsampling).

    `output.flat[indices[i]] = pooled[i]` per sample and channel, zeros elsewhere. The output's spatial size is the
    pooling's inverse (`(n - 1) * strides + pool_size` for "valid", `n * strides` for "same"), or the spatial size
    of an optional third input `[pooled, indices, reference]`: pass the tensor that was pooled when the pooling
    did not divide its size evenly.

    Arguments:
        pool_size, strides, padding: those of the pooling being undone (strides default to pool_size).
        data_format: `"channels_last"` (inputs `{layout(rank, "channels_last")}`) or `"channels_first"`; default
            `deepglass.config.image_data_format()`.

    Example:
        >>> pooled, indices = deepglass.layers.MaxPooling{rank}DWithIndices()(x)
        >>> deepglass.layers.MaxUnpooling{rank}D()([pooled, indices]).shape == x.shape
        True
    """


class MaxUnpooling1D(BaseMaxUnpooling):
    __doc__ = _unpool_doc(1)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 1, padding, data_format, name=name, **kwargs)


class MaxUnpooling2D(BaseMaxUnpooling):
    __doc__ = _unpool_doc(2)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 2, padding, data_format, name=name, **kwargs)


class MaxUnpooling3D(BaseMaxUnpooling):
    __doc__ = _unpool_doc(3)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, 3, padding, data_format, name=name, **kwargs)
