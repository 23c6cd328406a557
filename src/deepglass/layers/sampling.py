"""Upsampling layers: UpSampling1D, UpSampling2D (nearest, bilinear or bicubic) and UpSampling3D."""
import torch.nn.functional as F

from deepglass import naming
from deepglass.layers.convolutional import (
    check_rank, from_dim_ordering, rank_hint, rename_legacy, standardize_data_format, standardize_tuple,
)
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer

# Keras's names; "bilinear" and "bicubic" use half-pixel centres (torch's align_corners=False), as Keras does.
_INTERPOLATIONS = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic"}
_LANCZOS = ("lanczos3", "lanczos5")
# Keras 1 spellings: UpSampling1D(length=2), UpSampling2D(size, dim_ordering="th").
_LEGACY = {1: {"length": "size"}, 2: {"dim_ordering": "data_format"}, 3: {"dim_ordering": "data_format"}}


def repeat_axes(x, factors):
    """Nearest-neighbour upsampling by integer factors: element `i` of axis `a` repeated `factors[a]` times.

    One copy for all axes (each axis viewed as `(n, 1)`, expanded to `(n, factor)`, merged), exact for any factor,
    unlike `F.interpolate(mode="nearest")`, whose source index `floor(i * in / out)` is computed in floating point.
    """
    view, expanded, merged = [], [], []
    for axis, n in enumerate(x.shape):
        factor = factors.get(axis, 1)
        view += [n, 1]
        expanded += [n, factor]
        merged.append(n * factor)
    return x.reshape(view).expand(expanded).reshape(merged)


class BaseUpSampling(Layer):
    """Repeats (or interpolates) the spatial axes by integer factors `size`: the work behind UpSampling1D-3D."""

    def __init__(self, rank, size, data_format, interpolation, **kwargs):
        legacy = rename_legacy(type(self).__name__, kwargs, _LEGACY[rank])
        size = legacy.get("size", size)
        data_format = from_dim_ordering(legacy["data_format"]) if "data_format" in legacy else data_format
        super().__init__(**kwargs)
        self._rank = rank
        self.size = standardize_tuple(size, rank, "size")
        self.data_format = standardize_data_format(data_format)
        if isinstance(interpolation, str) and interpolation.lower() in _LANCZOS:
            raise ValueError(f"Received interpolation={interpolation!r}, which is not supported (nor by Keras on "
                             "its torch backend); use 'bilinear' or 'bicubic'.")
        self.interpolation = naming.lookup("interpolation", interpolation, _INTERPOLATIONS)
        first = 1 if self.data_format == "channels_last" else 2
        self._factors = {first + i: s for i, s in enumerate(self.size)}
        self.input_spec = InputSpec(ndim=rank + 2)

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), self._rank, self.data_format)

    def _input_hint(self, shape, spec):
        return rank_hint(self, shape, self._rank, self.data_format)

    def call(self, inputs):
        if self.interpolation == "nearest":
            return repeat_axes(inputs, self._factors)
        channels_last = self.data_format == "channels_last"
        # A channels-last tensor viewed as (batch, channels, ...) is torch's channels-last format: no copy.
        x = inputs.movedim(-1, 1) if channels_last else inputs
        size = [n * s for n, s in zip(x.shape[2:], self.size)]
        y = F.interpolate(x, size=size, mode=self.interpolation, align_corners=False)
        return y.movedim(1, -1) if channels_last else y

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        check_rank(self, tuple(shape), self._rank, self.data_format)
        for axis, factor in self._factors.items():
            shape[axis] = None if shape[axis] is None else shape[axis] * factor
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format}

    def extra_repr(self):
        extra = "" if self.data_format == "channels_last" else f", data_format={self.data_format!r}"
        return f"name={self.name!r}, size={self.size}{extra}"


class UpSampling1D(BaseUpSampling):
    """Repeats each step `size` times: `(batch, steps, features)` -> `(batch, steps * size, features)`.

    `output[b, i, c] = input[b, i // size, c]`.

    Arguments:
        size: the upsampling factor, a positive integer.

    Example:
        >>> deepglass.layers.UpSampling1D(2)(torch.tensor([[[1.0], [2.0]]]))[0, :, 0]
        tensor([1., 1., 2., 2.])
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(1, size, "channels_last", "nearest", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return {**config, "size": self.size[0]}


class UpSampling2D(BaseUpSampling):
    """Upsamples images by integer factors: `(batch, height, width, channels)` -> `(batch, height * size[0],
    width * size[1], channels)`.

    `"nearest"` repeats each pixel (`output[b, i, j, c] = input[b, i // size[0], j // size[1], c]`); `"bilinear"`
    and `"bicubic"` interpolate with half-pixel centres, as Keras does (`F.interpolate(..., align_corners=False)`;
    "bicubic" uses torch's cubic kernel, a = -0.75, as Keras on its torch backend, where TensorFlow uses a = -0.5).

    Arguments:
        size: the factors for height and width, an int or a tuple of 2 ints.
        data_format: `"channels_last"` or `"channels_first"`; default `deepglass.config.image_data_format()`.
        interpolation: `"nearest"` (default), `"bilinear"` or `"bicubic"`.

    Example:
        >>> deepglass.layers.UpSampling2D((2, 3))(torch.ones(4, 7, 5, 8)).shape
        torch.Size([4, 14, 15, 8])
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(2, size, data_format, interpolation, **kwargs)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}

    def extra_repr(self):
        extra = "" if self.interpolation == "nearest" else f", interpolation={self.interpolation!r}"
        return super().extra_repr() + extra


class UpSampling3D(BaseUpSampling):
    """Repeats each voxel: `(batch, d1, d2, d3, channels)` -> `(batch, d1 * size[0], d2 * size[1], d3 * size[2],
    channels)`.

    Arguments:
        size: the factors for the three spatial axes, an int or a tuple of 3 ints.
        data_format: `"channels_last"` or `"channels_first"`; default `deepglass.config.image_data_format()`.

    Example:
        >>> deepglass.layers.UpSampling3D()(torch.ones(2, 1, 2, 3, 4)).shape
        torch.Size([2, 2, 4, 6, 4])
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(3, size, data_format, "nearest", **kwargs)
