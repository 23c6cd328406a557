"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax, and Maxout (a maxout unit, which Keras lacks)."""
import torch

from deepglass import activations, constraints, initializers, regularizers
from deepglass.layers.core import _serialize_or_none
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer
from deepglass.layers.legacy import rename_legacy_kwargs


def _check_non_negative(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a number >= 0"
                         f"{' or None' if allow_none else ''}. Received: {name}={value!r}")
    return float(value)


def _as_list(axis):
    return list(axis) if isinstance(axis, (list, tuple)) else axis


class _Elementwise(Layer):
    """An activation that keeps its input's shape."""

    _passes_masks = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def _channels_first_mode(self):
        # ReLU, LeakyReLU and ELU act on each value alone; PReLU's slopes and Softmax's axis depend on the layout.
        return "follow" if type(self).call in _LAYOUT_FREE_CALLS else None

    def _call_channels_first(self, inputs, training=None):
        return self.call(inputs)


class ReLU(_Elementwise):
    """Rectified linear unit: `max(x, 0)`, or with the arguments

    `f(x) = max_value` for `x >= max_value`, `x` for `threshold < x < max_value`,
    `negative_slope * (x - threshold)` otherwise.

    Arguments:
        max_value: the largest output (>= 0), or None for no limit.
        negative_slope: the slope below the threshold (>= 0).
        threshold: where the unit switches on (>= 0).

    Example:
        >>> deepglass.layers.ReLU(max_value=10, negative_slope=0.5)(torch.tensor([-10.0, -5.0, 0.0, 5.0, 10.0]))
        tensor([-5.0000, -2.5000,  0.0000,  5.0000, 10.0000])
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _check_non_negative("max_value", max_value, allow_none=True)
        self.negative_slope = _check_non_negative("negative_slope", negative_slope)
        self.threshold = _check_non_negative("threshold", threshold)

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(_Elementwise):
    """Leaky ReLU: `f(x) = x` for `x >= 0`, `negative_slope * x` otherwise.

    Arguments:
        negative_slope: the slope for negative inputs (>= 0); the Keras 2 spelling `alpha=` is accepted with a
            warning.

    Example:
        >>> deepglass.layers.LeakyReLU(negative_slope=0.5)(torch.tensor([-10.0, 0.0, 10.0]))
        tensor([-5.,  0., 10.])
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        legacy = rename_legacy_kwargs(type(self).__name__, kwargs, {"alpha": "negative_slope"})
        super().__init__(**kwargs)
        self.negative_slope = _check_non_negative("negative_slope", legacy.get("negative_slope", negative_slope))

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(_Elementwise):
    """Parametric ReLU: `f(x) = x` for `x >= 0`, `alpha * x` otherwise, with `alpha` learned.

    `alpha` has the shape of one sample (`input_shape[1:]`), with size 1 on the `shared_axes`: for feature maps
    `(batch, height, width, channels)`, `shared_axes=[1, 2]` learns one slope per channel.

    Arguments:
        alpha_initializer: initializer of `alpha` (zeros: the layer starts as a ReLU).
        alpha_regularizer, alpha_constraint: a penalty on and a constraint for `alpha`.
        shared_axes: the axes (counting the batch as 0) along which samples share one slope.

    Example:
        >>> layer = deepglass.layers.PReLU(shared_axes=[1, 2])
        >>> layer(torch.randn(4, 8, 8, 16)).shape, layer.get_weights()[0].shape
        (torch.Size([4, 8, 8, 16]), (1, 1, 16))
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        self.shared_axes = None if shared_axes is None else [int(axis) for axis in shared_axes]

    def build(self, input_shape):
        rank = len(input_shape)
        shared = set(self.shared_axes or ())
        if not shared <= set(range(1, rank)):
            raise ValueError(f'PReLU "{self.name}" received shared_axes={self.shared_axes} for inputs of shape '
                             f"{tuple(input_shape)}; each shared axis must be between 1 and {rank - 1}.")
        shape = [1 if axis in shared else input_shape[axis] for axis in range(1, rank)]
        if None in shape:
            raise ValueError(f'PReLU "{self.name}" needs known sizes on the axes it does not share; got input shape '
                             f"{tuple(input_shape)}. Add the unknown axes to `shared_axes`.")
        self.add_weight(shape, self.alpha_initializer, regularizer=self.alpha_regularizer,
                        constraint=self.alpha_constraint, name="alpha")
        axes = {axis: input_shape[axis] for axis in range(1, rank) if axis not in shared} if shared else {}
        self.input_spec = InputSpec(ndim=rank, axes=axes)

    def call(self, inputs):
        return torch.where(inputs > 0, inputs, inputs * self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": _serialize_or_none(regularizers, self.alpha_regularizer),
                "alpha_constraint": _serialize_or_none(constraints, self.alpha_constraint),
                "shared_axes": self.shared_axes}


class ELU(_Elementwise):
    """Exponential linear unit: `f(x) = x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise.

    Arguments:
        alpha: the value (negated) the output saturates to for large negative inputs.

    Example:
        >>> deepglass.layers.ELU()(torch.tensor([-100.0, 0.0, 2.0]))
        tensor([-1.,  0.,  2.])
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_Elementwise):
    """Softmax: `exp(x) / sum(exp(x))` along `axis`, so that the outputs there are positive and sum to 1.

    Call with `mask=` (boolean, or numbers where > 0.5 means keep; broadcastable to the inputs) to give masked
    positions probability 0: the kept positions share all the probability.

    Arguments:
        axis: the axis, or list of axes, to normalise over.

    Example:
        >>> layer = deepglass.layers.Softmax()
        >>> layer(torch.tensor([[1.0, 2.0, 1.0]]), mask=torch.tensor([[True, True, False]]))
        tensor([[0.2689, 0.7311, 0.0000]])
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = tuple(axis) if isinstance(axis, list) else axis

    def call(self, inputs, mask=None):
        if mask is None:
            return activations.softmax(inputs, axis=self.axis)
        mask = self._standardize_mask(inputs, mask)
        # A large negative logit (not -inf) keeps a fully masked row free of NaNs; it is zeroed below.
        fill = -3e4 if inputs.dtype == torch.float16 else -1e9
        outputs = activations.softmax(inputs.masked_fill(~mask, fill), axis=self.axis)
        return outputs.masked_fill(~mask, 0.0)

    def _standardize_mask(self, inputs, mask):
        mask = torch.as_tensor(mask, device=inputs.device)
        fits = mask.dim() <= inputs.dim() and all(m in (1, i) for m, i in zip(mask.shape[::-1], inputs.shape[::-1]))
        if not fits:
            raise ValueError(f'Softmax "{self.name}" needs a mask broadcastable to its inputs (each mask axis 1 or '
                             f"the input's size, and no more axes); received inputs of shape {tuple(inputs.shape)} "
                             f"and a mask of shape {tuple(mask.shape)}.")
        return mask if mask.dtype == torch.bool else mask > 0.5

    def get_config(self):
        return {**super().get_config(), "axis": _as_list(self.axis)}


_LAYOUT_FREE_CALLS = (ReLU.call, LeakyReLU.call, ELU.call)


class Maxout(Layer):
    """Maxout unit: splits the feature axis into `num_units` groups of equal size and keeps each group's maximum.

    For a feature axis of size `d = num_units * k`: `output[j] = max(x[j*k], x[j*k + 1], ..., x[j*k + k - 1])`
    for `j = 0, ..., num_units - 1` (Goodfellow et al., 2013). Following a `Dense(num_units * k)` layer it is a
    maxout network layer: each unit is the maximum of `k` linear pieces, so it learns a convex piecewise-linear
    activation. The size of `axis` must be a multiple of `num_units`.

    Arguments:
        num_units: the number of groups, which is the size of `axis` in the output.
        axis: the feature axis to split (default: the last).

    Example:
        >>> deepglass.layers.Maxout(2)(torch.tensor([[1.0, 4.0, 2.0, 0.0, -1.0, 3.0]]))
        tensor([[4., 3.]])
    """

    def __init__(self, num_units, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_units, bool) or not isinstance(num_units, int) or num_units <= 0:
            raise ValueError("Received an invalid value for `num_units`, expected a positive integer. Received: "
                             f"num_units={num_units!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Received an invalid value for `axis`, expected an integer. Received: axis={axis!r}")
        self.num_units = num_units
        self.axis = axis

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # to reject a size that does not divide, naming the layer

    def call(self, inputs):
        axis = self.axis % inputs.dim()
        groups = inputs.unflatten(axis, (self.num_units, inputs.shape[axis] // self.num_units))
        return groups.amax(dim=axis + 1)

    def compute_output_shape(self, input_shape):
        rank = len(input_shape)
        if not -rank < self.axis < rank or self.axis % rank == 0:
            raise ValueError(f'Maxout "{self.name}" received axis={self.axis} for inputs of shape '
                             f"{tuple(input_shape)}; choose a feature axis (not the batch axis 0).")
        axis = self.axis % rank
        size = input_shape[axis]
        if size is not None and size % self.num_units:
            raise ValueError(f'Maxout "{self.name}" splits axis {self.axis} of size {size} into num_units='
                             f"{self.num_units} equal groups, but {size} is not a multiple of {self.num_units}; "
                             f"got input shape {tuple(input_shape)}. Make the size a multiple of num_units (e.g. "
                             f"Dense({self.num_units * max(1, size // self.num_units)}) before it).")
        return tuple(input_shape[:axis]) + (self.num_units,) + tuple(input_shape[axis + 1:])

    def get_config(self):
        return {**super().get_config(), "num_units": self.num_units, "axis": self.axis}

    def extra_repr(self):
        return f"name={self.name!r}, num_units={self.num_units}"
