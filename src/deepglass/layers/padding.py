"""Layers that add or remove borders of the spatial axes: ZeroPadding1D/2D/3D and Cropping1D/2D/3D."""
import numbers

import torch.nn.functional as F

from deepglass.layers.convolutional import (
    _SPATIAL_AXES, check_rank, from_dim_ordering, layout, rank_hint, rename_legacy, standardize_data_format,
)
from deepglass.layers.input_spec import InputSpec, _describe
from deepglass.layers.layer import Layer

_FORMS = {1: "an int or a pair (before, after)",
          2: "an int, a pair (symmetric height, symmetric width), or a pair of pairs ((top, bottom), (left, right))",
          3: "an int, a triple (one symmetric amount per axis), or a triple of pairs ((before, after), ...)"}


def _is_count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def standardize_borders(value, rank, name):
    """Keras's padding or cropping argument -> one `(before, after)` pair of non-negative ints per spatial axis.

    For rank 1 a pair is `(before, after)`; for ranks 2 and 3 a sequence holds one entry per axis, each an int
    (the same on both sides) or a pair.
    """
    if _is_count(value):
        return ((int(value), int(value)),) * rank
    entries = [value] if rank == 1 else value
    pairs = []
    if isinstance(entries, (list, tuple)) and len(entries) == rank:
        for entry in entries:
            pair = (entry, entry) if rank > 1 and _is_count(entry) else entry
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(_is_count(v) for v in pair):
                pairs.append((int(pair[0]), int(pair[1])))
    if len(pairs) != rank:
        raise ValueError(f"Received an invalid value for `{name}`, expected non-negative integers as {_FORMS[rank]}. "
                         f"Received: {name}={value!r}")
    return tuple(pairs)


class BaseBorders(Layer):
    """Adds zeros around (`ZeroPadding`) or removes borders from (`Cropping`) the spatial axes."""

    _argument = None  # "padding" or "cropping"

    def __init__(self, rank, borders, data_format, **kwargs):
        legacy = rename_legacy(type(self).__name__, kwargs, {"dim_ordering": "data_format"})
        data_format = from_dim_ordering(legacy["data_format"]) if "data_format" in legacy else data_format
        super().__init__(**kwargs)
        self._rank = rank
        self.data_format = standardize_data_format(data_format)
        setattr(self, self._argument, standardize_borders(borders, rank, self._argument))
        self._first = 1 if self.data_format == "channels_last" else 2
        self.input_spec = InputSpec(ndim=rank + 2)

    @property
    def _borders(self):
        return getattr(self, self._argument)

    def build(self, input_shape):
        self.compute_output_shape(tuple(input_shape))

    def _input_hint(self, shape, spec):
        return rank_hint(self, shape, self._rank, self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        check_rank(self, tuple(shape), self._rank, self.data_format)
        for i, (before, after) in enumerate(self._borders):
            axis = self._first + i
            if shape[axis] is not None:
                shape[axis] = self._new_size(tuple(input_shape), i, shape[axis], before + after)
        return tuple(shape)

    def _shown(self):
        """The borders as Keras shows them: one pair for rank 1, a pair per axis otherwise."""
        return self._borders[0] if self._rank == 1 else self._borders

    def get_config(self):
        borders = [list(pair) for pair in self._borders]
        return {**super().get_config(), self._argument: borders[0] if self._rank == 1 else borders,
                "data_format": self.data_format}

    def extra_repr(self):
        extra = "" if self.data_format == "channels_last" else f", data_format={self.data_format!r}"
        return f"name={self.name!r}, {self._argument}={self._shown()}{extra}"


class BaseZeroPadding(BaseBorders):
    """Adds `padding` zeros before and after each spatial axis (`F.pad` with a constant 0)."""

    _argument = "padding"

    def __init__(self, rank, padding, data_format, **kwargs):
        super().__init__(rank, padding, data_format, **kwargs)
        pairs = list(self.padding) + ([(0, 0)] if self.data_format == "channels_last" else [])
        self._pad = tuple(p for pair in reversed(pairs) for p in pair)  # F.pad lists the last axis first

    def call(self, inputs):
        return F.pad(inputs, self._pad)

    def _channels_first_mode(self):
        return "image" if self._first == 1 and type(self).call is BaseZeroPadding.call else None

    def _call_channels_first(self, inputs, training=None):
        return F.pad(inputs, self._pad[2:])  # without the (0, 0) of the channels axis, which F.pad lists first

    def _new_size(self, shape, index, size, total):
        return size + total


class BaseCropping(BaseBorders):
    """Removes `cropping` entries from the start and the end of each spatial axis (a slice, no copy)."""

    _argument = "cropping"

    def __init__(self, rank, cropping, data_format, **kwargs):
        super().__init__(rank, cropping, data_format, **kwargs)
        spatial = tuple(slice(before, -after if after else None) for before, after in self.cropping)
        self._index = (slice(None),) * self._first + spatial
        self._limits = tuple((self._first + i, before + after) for i, (before, after) in enumerate(self.cropping))

    def call(self, inputs):
        self._check_fits(inputs.shape)
        return inputs[self._index]

    def _channels_first_mode(self):
        return "image" if self._first == 1 and type(self).call is BaseCropping.call else None

    def _call_channels_first(self, inputs, training=None):
        shape = inputs.shape
        self._check_fits((shape[0], *shape[2:], shape[1]))  # the shape in Keras's layout, as errors name it
        return inputs[(slice(None),) + self._index]  # the spatial axes one further on

    def _check_fits(self, shape):
        for axis, total in self._limits:
            if shape[axis] <= total:  # the slice would silently give an empty tensor
                self._too_small(tuple(shape), axis - self._first)

    def _new_size(self, shape, index, size, total):
        if size <= total:
            self._too_small(shape, index)
        return size - total

    def _too_small(self, shape, index):
        total, size = sum(self.cropping[index]), shape[self._first + index]
        raise ValueError(f"{_describe(self)} crops {total} entries from the {_SPATIAL_AXES[self._rank][index]} axis "
                         f"of its input {shape}, which has only {size}: use a smaller `cropping` or a larger input. "
                         f"Received: cropping={self._shown()}")


_DOC = """{what} of `{shape}` inputs.

    Each spatial axis becomes {change}.

    Arguments:
        {argument}: {forms}.{data_format}

    Example:
        >>> deepglass.layers.{name}({example})(torch.ones({input})).shape
        torch.Size([{output}])
"""
_DATA_FORMAT = """
        data_format: `"channels_last"` or `"channels_first"`; default `deepglass.config.image_data_format()`."""


def _doc(name, example, input, output, data_format=_DATA_FORMAT):
    rank = int(name[-2])
    if name.startswith("Zero"):
        what, change, argument = "Adds zeros around the spatial axes", "longer by its padding on both sides", \
            "padding"
    else:
        what, change, argument = "Removes borders from the spatial axes", \
            "shorter by its cropping at both ends (at least one entry must remain)", "cropping"
    return _DOC.format(what=what, shape=layout(rank, "channels_last"), change=change, argument=argument,
                       forms=_FORMS[rank], data_format=data_format, name=name, example=example, input=input,
                       output=output)


class ZeroPadding1D(BaseZeroPadding):
    __doc__ = _doc("ZeroPadding1D", "(1, 2)", "2, 5, 3", "2, 8, 3")

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(1, padding, data_format, **kwargs)


class ZeroPadding2D(BaseZeroPadding):
    __doc__ = _doc("ZeroPadding2D", "((1, 0), 2)", "2, 5, 5, 3", "2, 6, 9, 3")

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(2, padding, data_format, **kwargs)


class ZeroPadding3D(BaseZeroPadding):
    __doc__ = _doc("ZeroPadding3D", "", "2, 4, 4, 4, 3", "2, 6, 6, 6, 3")

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(3, padding, data_format, **kwargs)


class Cropping1D(BaseCropping):
    __doc__ = _doc("Cropping1D", "(1, 2)", "2, 7, 3", "2, 4, 3", data_format="")

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(1, cropping, "channels_last", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class Cropping2D(BaseCropping):
    __doc__ = _doc("Cropping2D", "((2, 2), (4, 4))", "2, 28, 28, 3", "2, 24, 20, 3")

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(2, cropping, data_format, **kwargs)


class Cropping3D(BaseCropping):
    __doc__ = _doc("Cropping3D", "", "2, 5, 5, 5, 3", "2, 3, 3, 3, 3")

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(3, cropping, data_format, **kwargs)
