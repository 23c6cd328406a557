"""Weight initializers with Keras's names, arguments and formulas, drawing with `torch.nn.init`.

An initializer is called as `init(shape, dtype=None)` and returns a new tensor. `shape` is in Keras's layout:
a Dense kernel is `(in, out)`, a Conv2D kernel `(kh, kw, in, out)`; fans are counted from it as Keras does
(`compute_fans`). Tensors are made on torch's default device (`torch.set_default_device`, or a
`with torch.device(...)` block).

Randomness: with `seed=None` values come from torch's global generator, so `deepglass.config.set_random_seed`
makes a whole run reproducible and each call gives new values. With an integer `seed`, every call of the same
initializer returns the same values (Keras 3's rule) and torch's global generator is left untouched.

Example:
    >>> init = GlorotUniform(seed=42)
    >>> w = init((784, 64))          # a Dense kernel, in Keras's (in, out) layout
    >>> torch.equal(w, init((784, 64)))
    True
"""
import math
import numbers

import numpy as np
import torch

from deepglass import config
from deepglass.serialization import Configurable, Registry


def compute_fans(shape, input_axes=None, output_axes=None):
    """`(fan_in, fan_out)` of a weight of Keras-layout `shape`, exactly as Keras counts them.

    Scalars count 1; vectors `n`; matrices `(in, out)`; larger shapes are convolution kernels
    `(*kernel_size, in, out)` whose fans are `in` (resp. `out`) times the receptive field size.
    `input_axes` and `output_axes`, when both given, name the axes whose sizes multiply into each fan.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer(Configurable):
    """Base class: a subclass implements `__call__(shape, dtype=None)` returning a tensor of that shape.

    Example:
        >>> class Halves(Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return torch.full(tuple(shape), 0.5, dtype=config.standardize_dtype(dtype))
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement `__call__(shape, dtype=None)`.")

    def clone(self):
        """A new initializer with the same config."""
        return type(self).from_config(self.get_config())


class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2, 2))
        tensor([[0., 0.], [0., 0.]])
    """

    def __call__(self, shape, dtype=None):
        return torch.zeros(tuple(shape), dtype=config.standardize_dtype(dtype))


class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((3,))
        tensor([1., 1., 1.])
    """

    def __call__(self, shape, dtype=None):
        return torch.ones(tuple(shape), dtype=config.standardize_dtype(dtype))


class Constant(Initializer):
    """Every element equal to `value`.

    Arguments:
        value: a Python or NumPy scalar.

    Example:
        >>> Constant(0.1)((2,))
        tensor([0.1000, 0.1000])
    """

    def __init__(self, value=0.0):
        if isinstance(value, (np.generic, torch.Tensor, np.ndarray)) and np.size(value) == 1:
            value = value.item()
        if not isinstance(value, numbers.Number):
            raise ValueError(f"Constant expects a scalar `value`, such as 0.1; received: value={value!r}.")
        self.value = value

    def __call__(self, shape, dtype=None):
        return torch.full(tuple(shape), self.value, dtype=config.standardize_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """`gain` times the identity matrix (ones on the main diagonal of a possibly non-square 2-D shape).

    Arguments:
        gain: the value on the diagonal.

    Example:
        >>> Identity(gain=2.0)((2, 3))
        tensor([[2., 0., 0.], [0., 2., 0.]])
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializes 2-D matrices only; received shape={tuple(shape)} of rank {len(shape)}. "
                "Use it for Dense or recurrent kernels."
            )
        return self.gain * torch.eye(*shape, dtype=config.standardize_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed and creates the tensor to draw into.

    Arguments:
        seed: None (draw from torch's global generator) or an integer (the same values at every call).
    """

    def __init__(self, seed=None):
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise ValueError(f"Expected `seed` to be None or an integer; received: seed={seed!r}.")
        self.seed = None if seed is None else int(seed)

    def _empty(self, shape, dtype):
        """An uninitialised tensor, and the generator to fill it from (None: torch's global one)."""
        dtype = config.standardize_dtype(dtype)
        if not dtype.is_floating_point:
            raise ValueError(
                f"{type(self).__name__} draws floating-point values; received dtype={dtype}. "
                "Pass a float dtype such as 'float32'."
            )
        tensor = torch.empty(tuple(shape), dtype=dtype)
        if self.seed is None:
            return tensor, None
        # A fresh generator per call: the same values every call, and the global stream is not consumed.
        return tensor, torch.Generator(device=tensor.device).manual_seed(self.seed)

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal distribution `N(mean, stddev**2)`.

    Arguments:
        mean: mean of the values.
        stddev: standard deviation of the values.
        seed: None or an integer (see the module docstring).

    Example:
        >>> w = RandomNormal(stddev=0.01)((128, 10))
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape, dtype=None):
        tensor, generator = self._empty(shape, dtype)
        return torch.nn.init.normal_(tensor, self.mean, self.stddev, generator=generator)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Normal distribution `N(mean, stddev**2)` with values beyond two standard deviations from the mean redrawn.

    The standard deviation of the result is about `0.88 * stddev`.

    Arguments:
        mean: mean of the values.
        stddev: standard deviation before truncation.
        seed: None or an integer (see the module docstring).

    Example:
        >>> w = TruncatedNormal(stddev=0.02)((128, 10))
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape, dtype=None):
        tensor, generator = self._empty(shape, dtype)
        return _truncated_normal(tensor, self.mean, self.stddev, generator)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


def _truncated_normal(tensor, mean, stddev, generator):
    return torch.nn.init.trunc_normal_(tensor, mean, stddev, mean - 2 * stddev, mean + 2 * stddev, generator=generator)


class RandomUniform(RandomInitializer):
    """Uniform distribution on `[minval, maxval)`.

    Arguments:
        minval: lower bound.
        maxval: upper bound.
        seed: None or an integer (see the module docstring).

    Example:
        >>> w = RandomUniform(-0.1, 0.1)((128, 10))
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = minval
        self.maxval = maxval

    def __call__(self, shape, dtype=None):
        tensor, generator = self._empty(shape, dtype)
        return torch.nn.init.uniform_(tensor, self.minval, self.maxval, generator=generator)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Values with variance `scale / n`, where `n` is fan_in, fan_out or their mean (`mode`).

    `"truncated_normal"` (also `"normal"`): a normal truncated at two standard deviations, with
    `stddev = sqrt(scale / n) / 0.87962566103423978` so the variance after truncation is `scale / n`;
    `"untruncated_normal"`: `N(0, scale / n)`; `"uniform"`: uniform on `[-limit, limit]`, `limit = sqrt(3 * scale / n)`.

    Arguments:
        scale: positive scaling factor.
        mode: `"fan_in"`, `"fan_out"` or `"fan_avg"`.
        distribution: `"truncated_normal"`, `"untruncated_normal"` or `"uniform"`.
        seed: None or an integer (see the module docstring).
        input_axes, output_axes: axes whose sizes make the fans (see `compute_fans`); None: Keras's layout rule.

    Example:
        >>> w = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")((3, 3, 16, 32))
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        if not scale > 0.0:
            raise ValueError(f"Expected a positive `scale` for VarianceScaling; received: scale={scale!r}.")
        if mode not in _MODES:
            raise ValueError(f"Expected `mode` to be one of {', '.join(_MODES)}; received: mode={mode!r}.")
        distribution = distribution.lower()
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"Expected `distribution` to be one of {', '.join(_DISTRIBUTIONS)}; "
                f"received: distribution={distribution!r}."
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = None if input_axes is None else list(input_axes)
        self.output_axes = None if output_axes is None else list(output_axes)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        tensor, generator = self._empty(shape, dtype)
        if self.distribution == "truncated_normal":
            return _truncated_normal(tensor, 0.0, math.sqrt(variance) / 0.87962566103423978, generator)
        if self.distribution == "untruncated_normal":
            return torch.nn.init.normal_(tensor, 0.0, math.sqrt(variance), generator=generator)
        limit = math.sqrt(3.0 * variance)
        return torch.nn.init.uniform_(tensor, -limit, limit, generator=generator)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config(),
                "input_axes": self.input_axes, "output_axes": self.output_axes}


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed scale, mode and distribution: only the seed and axes are arguments."""

    preset = {}

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(**self.preset, seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        config_ = super().get_config()
        return {key: config_[key] for key in ("seed", "input_axes", "output_axes")}


class GlorotUniform(_Preset):
    """Glorot (Xavier) uniform: uniform on `[-limit, limit]`, `limit = sqrt(6 / (fan_in + fan_out))`.

    Keras's default kernel initializer. Arguments: `seed`, `input_axes`, `output_axes` as in VarianceScaling.

    Example:
        >>> w = GlorotUniform(seed=1)((784, 64))
    """

    preset = {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}


class GlorotNormal(_Preset):
    """Glorot (Xavier) normal: truncated normal with variance `2 / (fan_in + fan_out)`.

    Arguments: `seed`, `input_axes`, `output_axes` as in VarianceScaling.

    Example:
        >>> w = GlorotNormal(seed=1)((784, 64))
    """

    preset = {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}


class HeNormal(_Preset):
    """He normal: truncated normal with variance `2 / fan_in`, for ReLU networks.

    Arguments: `seed`, `input_axes`, `output_axes` as in VarianceScaling.

    Example:
        >>> w = HeNormal()((3, 3, 3, 64))
    """

    preset = {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}


class HeUniform(_Preset):
    """He uniform: uniform on `[-limit, limit]`, `limit = sqrt(6 / fan_in)`.

    Arguments: `seed`, `input_axes`, `output_axes` as in VarianceScaling.

    Example:
        >>> w = HeUniform()((3, 3, 3, 64))
    """

    preset = {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}


class LecunNormal(_Preset):
    """LeCun normal: truncated normal with variance `1 / fan_in`, for SELU networks.

    Arguments: `seed`, `input_axes`, `output_axes` as in VarianceScaling.

    Example:
        >>> w = LecunNormal()((256, 256))
    """

    preset = {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}


class LecunUniform(_Preset):
    """LeCun uniform: uniform on `[-limit, limit]`, `limit = sqrt(3 / fan_in)`.

    Arguments: `seed`, `input_axes`, `output_axes` as in VarianceScaling.

    Example:
        >>> w = LecunUniform()((256, 256))
    """

    preset = {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"}


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix times `gain`, by QR decomposition of a normal matrix.

    Shapes of rank > 2 are treated as a `(prod(shape[:-1]), shape[-1])` matrix: with more rows than columns
    the columns are orthonormal, otherwise the rows are.

    Arguments:
        gain: multiplicative factor.
        seed: None or an integer (see the module docstring).

    Example:
        >>> w = Orthogonal()((64, 64))      # w.T @ w is the identity
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal initializes tensors of rank 2 or more; received shape={shape} of rank {len(shape)}."
            )
        # Keras flattens all leading axes into rows; torch flattens trailing ones, so draw the matrix 2-D.
        tensor, generator = self._empty((math.prod(shape[:-1]), shape[-1]), dtype)
        return torch.nn.init.orthogonal_(tensor, self.gain, generator=generator).reshape(shape)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


# Keras's lower-case spellings of the classes.
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_normal, random_uniform, truncated_normal, orthogonal = RandomNormal, RandomUniform, TruncatedNormal, Orthogonal
variance_scaling, glorot_uniform, glorot_normal = VarianceScaling, GlorotUniform, GlorotNormal
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal

_registry = Registry(
    "initializer",
    [Initializer, Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
     GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal],
    {"zero": Zeros, "one": Ones, "normal": RandomNormal, "uniform": RandomUniform,
     "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
     # Not Keras names, but what PyTorch users type for Glorot's initializers.
     "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal},
)


def serialize(initializer):
    """The initializer as `{"class_name": ..., "config": ...}`.

    Example:
        >>> serialize(HeNormal(seed=3))
        {'class_name': 'HeNormal', 'config': {'seed': 3, 'input_axes': None, 'output_axes': None}}
    """
    return _registry.serialize(initializer)


def deserialize(config, custom_objects=None):
    """An initializer from a name (`"he_normal"`) or from what `serialize` returned.

    `custom_objects` maps further class names to classes.
    """
    return _registry.deserialize(config, custom_objects)


def get(identifier):
    """An initializer from None (None), a name, a config dict, a class, a callable, or a tensor/array to copy.

    Example:
        >>> get("glorot_uniform")
        GlorotUniform(seed=None, input_axes=None, output_axes=None)
    """
    if isinstance(identifier, (torch.Tensor, np.ndarray, np.generic)):
        return _copy_of(identifier)
    return _registry.get(identifier)


def _copy_of(value):
    """An initializer returning `value` itself, for `kernel_initializer=some_array`."""
    value = torch.as_tensor(value)

    def initialize(shape, dtype=None):
        if tuple(shape) != tuple(value.shape):
            raise ValueError(
                f"Expected `shape` to be {tuple(value.shape)}, the shape of the tensor given as initializer; "
                f"received shape={tuple(shape)}."
            )
        return value.to(dtype=config.standardize_dtype(dtype), copy=True)

    return initialize
