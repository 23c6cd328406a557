"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization and UnitNormalization.

Each normalises its inputs to zero mean and unit variance (or unit norm) over some axes, then applies a learned
per-feature scale `gamma` and offset `beta`. The statistics are computed in at least float32: half-precision inputs
are upcast for the computation and the result is returned in their dtype.
"""
import math
import numbers
import warnings

import torch
import torch.nn.functional as F

from deepglass import config, constraints, initializers, regularizers
from deepglass.layers.convolutional import from_torch_layout, rename_legacy, to_torch_layout
from deepglass.layers.core import _serialize_or_none
from deepglass.layers.input_spec import InputSpec, _describe
from deepglass.layers.layer import Layer

_HALF = (torch.float16, torch.bfloat16)


# ------------------------------------------------------------------------------------------------------- helpers
def _standardize_axis(axis):
    """An int, or a list of ints for a list or tuple; a TypeError otherwise."""
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
        return [int(a) for a in axis]
    raise TypeError(f"Received an invalid value for `axis`, expected an int or a non-empty list of ints. "
                    f"Received: axis={axis!r}")


def _positions(layer, axis, input_shape):
    """`axis` as sorted non-negative positions in inputs of `input_shape`; out-of-range or repeated axes raise."""
    ndim = len(input_shape)
    given = [axis] if isinstance(axis, int) else list(axis)
    for a in given:
        if not -ndim <= a < ndim:
            raise ValueError(f"{_describe(layer)} got axis={axis!r}, which is out of range for inputs of shape "
                             f"{tuple(input_shape)} (rank {ndim}); use axes in [{-ndim}, {ndim - 1}].")
    positions = sorted({a % ndim for a in given})
    if len(positions) != len(given):
        raise ValueError(f"{_describe(layer)} got axis={axis!r}, which names the same axis twice for inputs of shape "
                         f"{tuple(input_shape)}; list each axis once.")
    return tuple(positions)


def _known_sizes(layer, input_shape, positions):
    """The sizes of the axes at `positions`, which must be known to create weights."""
    sizes = tuple(input_shape[a] for a in positions)
    if None in sizes:
        raise ValueError(f"{_describe(layer)} needs a known size on axis {list(positions)} to create its weights; got "
                         f"input shape {tuple(input_shape)}. Give the input a fixed size there, e.g. "
                         f"Input(shape=(..., channels)).")
    return sizes


def _as_compute(inputs, dtype):
    """Inputs in the weights' dtype: half precision is upcast so the statistics do not overflow."""
    return inputs if inputs.dtype == dtype else inputs.to(dtype)


def _restore(outputs, inputs):
    """Half-precision inputs (mixed precision) get half-precision outputs, as Keras's mixed policies do."""
    return outputs.to(inputs.dtype) if inputs.dtype in _HALF else outputs


def _normalize(x, mean, variance, gamma, beta, epsilon):
    """`(x - mean) / sqrt(variance + epsilon) * gamma + beta`, everything broadcast against `x`."""
    inv = torch.rsqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    outputs = (x - mean) * inv
    return outputs if beta is None else outputs + beta


class _AllSum(torch.autograd.Function):
    """Sum over all processes; the gradient of a sum is the sum of the processes' gradients."""

    @staticmethod
    def forward(ctx, tensor):
        tensor = tensor.clone()
        torch.distributed.all_reduce(tensor)
        return tensor

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        torch.distributed.all_reduce(grad)
        return grad


def _all_sum(tensor):
    return _AllSum.apply(tensor)


def _distributed():
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class _AffineNormalization(Layer):
    """What the normalisation layers share: the optional scale `gamma` and offset `beta` with their initializers,
    regularizers and constraints."""

    _passes_masks = True
    _computes_in_float32 = True  # statistics in float32 under mixed policies, as Keras's (see `_as_compute`)

    def __init__(self, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def _add_affine(self, shape, scale, center):
        # Attributes set before `add_weight` would block registering the weight, hence None only here.
        if scale:
            self.add_weight(shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                            constraint=self.gamma_constraint, name="gamma")
        else:
            self.gamma = None
        if center:
            self.add_weight(shape, self.beta_initializer, regularizer=self.beta_regularizer,
                            constraint=self.beta_constraint, name="beta")
        else:
            self.beta = None

    def _weight_dtype(self):
        for weight in (self.gamma, self.beta):
            if weight is not None:
                return weight.dtype
        return self._dtype

    def compute_output_shape(self, input_shape):
        _positions(self, self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": _serialize_or_none(regularizers, self.beta_regularizer),
                "gamma_regularizer": _serialize_or_none(regularizers, self.gamma_regularizer),
                "beta_constraint": _serialize_or_none(constraints, self.beta_constraint),
                "gamma_constraint": _serialize_or_none(constraints, self.gamma_constraint)}

    def extra_repr(self):
        return f"name={self.name!r}, axis={self.axis}, epsilon={self.epsilon}"


# ------------------------------------------------------------------------------------------------ BatchNormalization
class BatchNormalization(_AffineNormalization):
    """Normalises each feature with the statistics of the batch while training, and with their moving averages at
    inference: `gamma * (x - mean) / sqrt(variance + epsilon) + beta`.

    In training mode (`fit`, or a call with `training=True`) `mean` and `variance` are the batch's (the biased
    variance) and the moving statistics are updated:
    `moving_mean = momentum * moving_mean + (1 - momentum) * mean`, the same for `moving_variance`. In inference
    mode (`predict`, `evaluate`, `training=False`) the moving statistics are used. A layer with `trainable = False`
    always runs in inference mode, so fine-tuning with frozen batch normalisation keeps its statistics.

    `get_weights()` is `[gamma, beta, moving_mean, moving_variance]` (without the ones `scale` / `center` turn off);
    gamma and beta are trainable, the moving statistics are non-trainable buffers.

    Arguments:
        axis: the feature axis (`-1` after channels-last layers, `1` after channels-first ones), or a list of axes.
        momentum: the weight of the old value in the moving averages.
        epsilon: added to the variance before the square root.
        center, scale: whether to learn `beta` and `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer,
            beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: as in Keras.
        renorm, renorm_clipping, renorm_momentum: batch renormalisation (Ioffe, 2017): the batch statistics are
            corrected towards moving ones by `r` and `d`, clipped by `renorm_clipping` (`rmax`, `rmin`, `dmax`).
        synchronized: in multi-process training (`torch.distributed`), compute the statistics over the global batch.

    Call arguments:
        training: training or inference mode; by default the layer's mode (inference outside `fit`).
        mask: a boolean tensor of the inputs' shape without the last axis; masked-out positions do not count in
            the batch statistics.

    Example:
        >>> layer = deepglass.layers.BatchNormalization()
        >>> y = layer(torch.randn(32, 8, 8, 16), training=True)  # per-channel mean 0, variance 1
        >>> [w.shape for w in layer.get_weights()]
        [(16,), (16,), (16,), (16,)]
    """

    _legacy = {"beta_init": "beta_initializer", "gamma_init": "gamma_initializer"}

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        legacy = rename_legacy(type(self).__name__, kwargs, self._legacy)
        _check_legacy_mode(kwargs)
        super().__init__(center=center, scale=scale,
                         beta_initializer=legacy.get("beta_initializer", beta_initializer),
                         gamma_initializer=legacy.get("gamma_initializer", gamma_initializer),
                         beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                         beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, **kwargs)
        self.axis = _standardize_axis(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)
        self.renorm = bool(renorm)
        self.renorm_clipping = _check_renorm_clipping(renorm_clipping) if self.renorm else renorm_clipping
        self.renorm_momentum = float(renorm_momentum)

    def build(self, input_shape):
        ndim = len(input_shape)
        self._axes = _positions(self, self.axis, input_shape)
        sizes = _known_sizes(self, input_shape, self._axes)
        self._broadcast_shape = tuple(input_shape[i] if i in self._axes else 1 for i in range(ndim))
        # One axis: weights of shape (channels,). Several axes: Keras 2's broadcastable shape, e.g. (1, h, 1, c).
        shape = sizes if len(sizes) == 1 else self._broadcast_shape
        self._add_affine(shape, self.scale, self.center)
        self.add_weight(shape, self.moving_mean_initializer, trainable=False, name="moving_mean")
        self.add_weight(shape, self.moving_variance_initializer, trainable=False, name="moving_variance")
        if self.renorm:
            stddev = _sqrt_of(self.moving_variance_initializer)
            self.add_weight(shape, stddev, trainable=False, name="moving_stddev")
            self.add_weight(shape, self.moving_mean_initializer, trainable=False, name="renorm_mean")
            self.add_weight(shape, stddev, trainable=False, name="renorm_stddev")
        self._reduction_axes = tuple(i for i in range(ndim) if i not in self._axes)
        self._fusable = len(self._axes) == 1 and not self.renorm
        given = [self.axis] if isinstance(self.axis, int) else self.axis
        self.input_spec = InputSpec(ndim=ndim, axes={a: input_shape[a] for a in given})

    def call(self, inputs, training=None, mask=None):
        training = bool(self.training if training is None else training) and self._trainable
        x = _as_compute(inputs, self.moving_mean.dtype)
        axis = self._axes[0] if self._fusable else None
        if mask is None and self._fusable and not (training and self._needs_general_moments(x, axis)):
            # torch's kernel on the inputs seen as (N, C, ...): for channels-last inputs a view with no copy
            view = x if axis == 1 else x.movedim(axis, 1)
            outputs = self._fused(view, training)
            return _restore(outputs if axis == 1 else outputs.movedim(1, axis), inputs)
        return _restore(self._general(x, training, mask), inputs)

    def _channels_first_mode(self):
        fits = self._fusable and self._axes[0] == len(self._broadcast_shape) - 1
        return "image" if fits and type(self).call is BatchNormalization.call else None

    def _call_channels_first(self, inputs, training=None):
        training = bool(self.training if training is None else training) and self._trainable
        x = _as_compute(inputs, self.moving_mean.dtype)
        if training and self._needs_general_moments(x, 1):
            # the statistics written out, in Keras's layout
            keras_layout = from_torch_layout(inputs, True, False)
            return to_torch_layout(self.call(keras_layout, training=True), True, False)
        return _restore(self._fused(x, training), inputs)

    def _needs_general_moments(self, x, axis):
        # torch's kernel refuses a single value per channel (Keras gives variance 0), and cannot all-reduce.
        return x.numel() <= x.shape[axis] or (self.synchronized and _distributed())

    def _fused(self, view, training):
        """torch's batch-norm kernel on `view`, the inputs as (N, C, ...)."""
        moving_variance = self.moving_variance
        if training:
            # torch updates the moving variance with the unbiased batch variance, Keras with the biased one: torch
            # updates a copy scaled by n / (n - 1), which scaled back is Keras's update. (A copy, not the buffer
            # itself: autograd saves what it is given and refuses a backward pass after a later in-place change.)
            count = view.numel() // view.shape[1]
            moving_variance = moving_variance * (count / (count - 1))
        # torch's operator itself: F.batch_norm's checks (one value per channel) are `_needs_general_moments`'s
        outputs = torch.batch_norm(view, self.gamma, self.beta, self.moving_mean, moving_variance, training,
                                   1.0 - self.momentum, self.epsilon, torch.backends.cudnn.enabled)
        if training:  # neither tensor requires grad, so this needs no `torch.no_grad()` (whose cost shows here)
            torch.mul(moving_variance, (count - 1) / count, out=self.moving_variance)
        return outputs

    def _general(self, x, training, mask):
        """Masks, several axes, renormalisation and synchronized statistics, written out."""
        if mask is not None and mask.dim() != x.dim() - 1:
            raise ValueError(f"{_describe(self)} expects a mask with one dimension less than the inputs (the inputs' "
                             f"shape without the last axis); got mask shape {tuple(mask.shape)} for inputs of shape "
                             f"{tuple(x.shape)}.")
        gamma, beta = self._broadcast(self.gamma), self._broadcast(self.beta)
        if not training:
            mean, variance = self._broadcast(self.moving_mean), self._broadcast(self.moving_variance)
            return _normalize(x, mean, variance, gamma, beta, self.epsilon)
        mean, variance = self._moments(x, mask)
        if self.renorm:
            gamma, beta = self._renormalize(mean, variance, gamma, beta)
        else:
            self._assign_average(self.moving_mean, mean, self.momentum)
            self._assign_average(self.moving_variance, variance, self.momentum)
        return _normalize(x, mean, variance, gamma, beta, self.epsilon)

    def _broadcast(self, weight):
        return None if weight is None else weight.reshape(self._broadcast_shape)

    def _moments(self, x, mask):
        """Mean and biased variance over the reduction axes (kept as size-1 axes), as Keras computes them."""
        axes = self._reduction_axes
        synchronized = self.synchronized and _distributed()
        if mask is None and not synchronized:
            variance, mean = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
            return mean, variance
        keep = None if mask is None else mask.unsqueeze(-1).to(torch.bool)
        total = (x if keep is None else torch.where(keep, x, 0)).sum(axes, keepdim=True)
        if keep is None:
            count = torch.full_like(total, x.numel() // total.numel())
        else:
            count = keep.expand_as(x).to(x.dtype).sum(axes, keepdim=True)
        if synchronized:
            total, count = _all_sum(total), _all_sum(count)
        # Keras adds epsilon to the masked count, so an all-masked batch gives statistics of 0, not NaN.
        denominator = count if keep is None else count + config.epsilon()
        mean = total / denominator
        squares = (x - mean).square()
        squares = (squares if keep is None else torch.where(keep, squares, 0)).sum(axes, keepdim=True)
        return mean, (_all_sum(squares) if synchronized else squares) / denominator

    def _renormalize(self, mean, variance, gamma, beta):
        """Batch renormalisation's corrected scale and offset; updates the renorm and moving statistics."""
        stddev = torch.sqrt(variance + self.epsilon)
        renorm_mean = self._broadcast(self.renorm_mean)
        renorm_stddev = torch.clamp(self._broadcast(self.renorm_stddev), min=math.sqrt(self.epsilon))
        r, d = (stddev / renorm_stddev).detach(), ((mean - renorm_mean) / renorm_stddev).detach()
        clipping = self.renorm_clipping or {}
        if clipping.get("rmin") is not None:
            r = torch.clamp(r, min=clipping["rmin"])
        if clipping.get("rmax") is not None:
            r = torch.clamp(r, max=clipping["rmax"])
        if clipping.get("dmax") is not None:
            d = torch.clamp(d, -clipping["dmax"], clipping["dmax"])
        scale = r if gamma is None else r * gamma
        offset = d if gamma is None else d * gamma
        offset = offset if beta is None else offset + beta
        self._assign_average(self.renorm_mean, mean, self.renorm_momentum)
        self._assign_average(self.renorm_stddev, stddev, self.renorm_momentum)
        self._assign_average(self.moving_mean, mean, self.momentum)
        self._assign_average(self.moving_stddev, stddev, self.momentum)
        with torch.no_grad():
            self.moving_variance.copy_(torch.relu(self.moving_stddev.square() - self.epsilon))
        return scale, offset

    @staticmethod
    def _assign_average(moving, value, momentum):
        with torch.no_grad():
            moving.copy_(moving * momentum + value.detach().reshape(moving.shape) * (1.0 - momentum))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "synchronized": self.synchronized, "renorm": self.renorm,
                "renorm_clipping": None if self.renorm_clipping is None else dict(self.renorm_clipping),
                "renorm_momentum": self.renorm_momentum}

    def extra_repr(self):
        return f"name={self.name!r}, axis={self.axis}, momentum={self.momentum}, epsilon={self.epsilon}"


def _check_legacy_mode(kwargs):
    """Keras 1's `mode`: 0 is today's behaviour (dropped with a warning); 1 and 2 no longer exist."""
    if "mode" not in kwargs:
        return
    mode = kwargs.pop("mode")
    if mode != 0:
        raise ValueError(f"BatchNormalization no longer has Keras 1's `mode`; only mode=0 (the default behaviour) "
                         f"is supported. Received: mode={mode!r}. For per-sample normalisation (mode=1) use "
                         f"LayerNormalization.")
    warnings.warn("BatchNormalization: `mode=0` is Keras 1's default behaviour; remove the argument.",
                  DeprecationWarning, stacklevel=3)


def _check_renorm_clipping(clipping):
    clipping = dict(clipping or {})
    unknown = set(clipping) - {"rmax", "rmin", "dmax"}
    if unknown:
        raise ValueError(f"Received invalid keys for `renorm_clipping`, expected some of 'rmax', 'rmin', 'dmax'. "
                         f"Received: renorm_clipping={clipping!r}")
    rmax, rmin, dmax = clipping.get("rmax"), clipping.get("rmin"), clipping.get("dmax")
    if rmax is not None and rmin is not None and rmax < rmin:
        raise ValueError(f"Received an invalid `renorm_clipping`, expected rmax >= rmin. Received: rmax={rmax}, "
                         f"rmin={rmin}")
    if dmax is not None and dmax < 0:
        raise ValueError(f"Received an invalid `renorm_clipping`, expected dmax >= 0. Received: dmax={dmax}")
    return clipping


def _sqrt_of(initializer):
    """An initializer giving the square root of `initializer`'s values (moving standard deviations in renorm)."""
    def initialize(shape, dtype=None):
        return torch.sqrt(torch.as_tensor(initializer(shape, dtype=dtype)))
    return initialize


# ------------------------------------------------------------------------------------------------ LayerNormalization
class LayerNormalization(_AffineNormalization):
    """Normalises each sample over `axis`: `gamma * (x - mean) / sqrt(variance + epsilon) + beta`, with the mean and
    (biased) variance of that sample's values on those axes. Works the same in training and inference.

    Arguments:
        axis: the axis or list of axes to normalise over (default: the last).
        epsilon: added to the variance before the square root.
        center, scale: whether to learn `beta` and `gamma` (shaped like the normalised axes).
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer, beta_constraint,
            gamma_constraint: as in Keras.
        rms_scaling: deprecated in Keras 3 and kept for its configs: `x / sqrt(variance + epsilon) * gamma`, without
            subtracting the mean and without `beta`.

    Example:
        >>> layer = deepglass.layers.LayerNormalization()
        >>> layer(torch.tensor([[1.0, 2.0, 3.0]]))  # about [[-1.22, 0.0, 1.22]]
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(center=center, scale=scale, beta_initializer=beta_initializer,
                         gamma_initializer=gamma_initializer, beta_regularizer=beta_regularizer,
                         gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                         gamma_constraint=gamma_constraint, **kwargs)
        if rms_scaling:
            warnings.warn("LayerNormalization: `rms_scaling=True` is deprecated (as in Keras 3): it divides by the "
                          "standard deviation without subtracting the mean, not by the root mean square.",
                          UserWarning, stacklevel=2)
        self.axis = _standardize_axis(axis)
        self.epsilon = float(epsilon)
        self.rms_scaling = bool(rms_scaling)

    def build(self, input_shape):
        ndim = len(input_shape)
        positions = _positions(self, self.axis, input_shape)
        self._shape = _known_sizes(self, input_shape, positions)
        self._add_affine(self._shape, self.scale or self.rms_scaling, self.center and not self.rms_scaling)
        given = [self.axis] if isinstance(self.axis, int) else self.axis
        # Axes counted from the end (the usual -1) fit inputs of any rank, as in Keras; others fix the rank.
        from_end = all(a < 0 for a in given)
        self._axes = tuple(p - ndim for p in positions) if from_end else positions
        self._tail = tuple(range(-len(positions), 0)) if from_end else tuple(range(ndim - len(positions), ndim))
        # gamma's shape broadcast against the inputs, aligned from the end (rms_scaling).
        self._broadcast_shape = tuple(input_shape[i] if i in positions else 1 for i in range(positions[0], ndim))
        self.input_spec = InputSpec(ndim=None if from_end else ndim, min_ndim=ndim - positions[0],
                                    axes={a: input_shape[a] for a in given})

    def call(self, inputs):
        x = _as_compute(inputs, self._weight_dtype())
        if self.rms_scaling:
            variance = torch.var(x, dim=self._axes, correction=0, keepdim=True)
            outputs = x * torch.rsqrt(variance + self.epsilon)
            return _restore(outputs * self.gamma.reshape(self._broadcast_shape), inputs)
        if self._axes == self._tail:
            return _restore(F.layer_norm(x, self._shape, self.gamma, self.beta, self.epsilon), inputs)
        # torch normalises trailing axes: move the normalised ones to the end (a view) and back.
        moved = F.layer_norm(x.movedim(self._axes, self._tail), self._shape, self.gamma, self.beta, self.epsilon)
        return _restore(moved.movedim(self._tail, self._axes), inputs)

    def get_config(self):
        return {**super().get_config(), "rms_scaling": self.rms_scaling}


# ------------------------------------------------------------------------------------------------ GroupNormalization
class GroupNormalization(_AffineNormalization):
    """Splits the channels into `groups` and normalises each sample's group (its channels at every position):
    `gamma * (x - mean) / sqrt(variance + epsilon) + beta`, with per-channel `gamma` and `beta`.

    `groups=1` is layer normalisation over all non-batch axes; `groups=-1` (one channel a group) is instance
    normalisation. Works the same in training and inference.

    Arguments:
        groups: the number of groups; must divide the number of channels (or -1 for one group a channel).
        axis: the channel axis.
        epsilon: added to the variance before the square root.
        center, scale: whether to learn `beta` and `gamma` (one per channel).
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer, beta_constraint,
            gamma_constraint: as in Keras.

    Example:
        >>> layer = deepglass.layers.GroupNormalization(groups=4)
        >>> layer(torch.randn(2, 8, 8, 16)).shape
        torch.Size([2, 8, 8, 16])
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise ValueError(f"Received an invalid value for `groups`, expected a positive integer (or -1 for "
                             f"instance normalization). Received: groups={groups!r}")
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise TypeError(f"Received an invalid value for `axis`, expected an int. Received: axis={axis!r}")
        super().__init__(center=center, scale=scale, beta_initializer=beta_initializer,
                         gamma_initializer=gamma_initializer, beta_regularizer=beta_regularizer,
                         gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                         gamma_constraint=gamma_constraint, **kwargs)
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        (axis,) = _positions(self, self.axis, input_shape)
        if axis == 0:
            raise ValueError(f"{_describe(self)} got axis={self.axis}, the batch axis of inputs of shape "
                             f"{tuple(input_shape)}; use the channel axis (-1 for channels-last inputs).")
        (channels,) = _known_sizes(self, input_shape, (axis,))
        groups = channels if self.groups == -1 else self.groups
        if groups > channels or channels % groups:
            raise ValueError(f"{_describe(self)} expects a number of channels divisible by groups={groups}; got "
                             f"{channels} channels (input shape {tuple(input_shape)}). Choose groups that divide "
                             f"{channels}.")
        self._axis, self._groups = axis, groups
        self._add_affine((channels,), self.scale, self.center)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: channels})

    def call(self, inputs):
        x = _as_compute(inputs, self._weight_dtype())
        # contiguous(): CUDA's group norm copies other layouts anyway, and torch's CPU kernel for channels-last
        # inputs crashes in backward when the input needs no gradient (pytorch/pytorch#115940 family).
        view = x if self._axis == 1 else x.movedim(self._axis, 1).contiguous()
        if self.gamma is None and self.beta is not None:
            # torch's group norm backward fails for a bias without a weight; add the bias here instead.
            outputs = F.group_norm(view, self._groups, None, None, self.epsilon)
            outputs = outputs + self.beta.reshape((-1,) + (1,) * (view.dim() - 2))
        else:
            outputs = F.group_norm(view, self._groups, self.gamma, self.beta, self.epsilon)
        return _restore(outputs if self._axis == 1 else outputs.movedim(1, self._axis), inputs)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}

    def extra_repr(self):
        return f"name={self.name!r}, groups={self.groups}, axis={self.axis}, epsilon={self.epsilon}"


# ------------------------------------------------------------------------------------------------- UnitNormalization
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`: `x / max(sqrt(sum(x ** 2)), 1e-12)`. No weights.

    Arguments:
        axis: the axis or list of axes over which the norm is taken (default: the last).

    Example:
        >>> deepglass.layers.UnitNormalization()(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """

    _passes_masks = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _standardize_axis(axis)
        self._dim = self.axis if isinstance(self.axis, int) else tuple(self.axis)
        self.supports_masking = True

    def build(self, input_shape):
        _positions(self, self.axis, input_shape)

    def call(self, inputs):
        x = inputs if inputs.is_floating_point() else inputs.to(self._dtype)
        return F.normalize(x, p=2.0, dim=self._dim, eps=1e-12)

    def compute_output_shape(self, input_shape):
        _positions(self, self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

    def extra_repr(self):
        return f"name={self.name!r}, axis={self.axis}"
