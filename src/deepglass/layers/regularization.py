"""Regularization layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout and
ActivityRegularization. Only training changes anything: at inference each returns its input."""
import math
import numbers

import torch
import torch.nn.functional as F

from deepglass import regularizers
from deepglass.layers.convolutional import (
    check_rank, from_dim_ordering, rank_hint, rename_legacy, standardize_data_format,
)
from deepglass.layers.core import Dropout
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer

# SELU's constants: AlphaDropout sets dropped units to SELU's negative saturation value, -scale * alpha.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_fraction(value, name, allow_one=False):
    """A float in [0, 1) (or [0, 1]), or a ValueError naming the argument."""
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        (0 <= value <= 1 if allow_one else 0 <= value < 1)
    if not valid:
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"Received an invalid value for `{name}`, expected a float in {interval}. Received: "
                         f"{name}={value!r}")
    return float(value)


# ---------------------------------------------------------------------------------------------------- spatial dropout
class BaseSpatialDropout(Dropout):
    """Dropout of whole feature maps: one keep-or-drop draw per sample and channel, shared by all positions."""

    def __init__(self, rank, rate, data_format, seed, **kwargs):
        legacy = rename_legacy(type(self).__name__, kwargs, {"p": "rate", "dim_ordering": "data_format"})
        rate = legacy.get("rate", rate)
        data_format = from_dim_ordering(legacy["data_format"]) if "data_format" in legacy else data_format
        data_format = standardize_data_format(data_format)
        # The mask has size 1 on every spatial axis, so Dropout broadcasts one draw over each feature map.
        spatial = (1,) * rank
        noise_shape = (None,) + spatial + (None,) if data_format == "channels_last" else (None, None) + spatial
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)
        self._rank = rank
        self.data_format = data_format
        self.input_spec = InputSpec(ndim=rank + 2)

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), self._rank, self.data_format)

    def _input_hint(self, shape, spec):
        return rank_hint(self, shape, self._rank, self.data_format)

    def _channels_first_mode(self):
        # The mask is (batch, channels) with the spatial axes of size 1 in either layout: the same draws, seeded too.
        return "follow" if self.data_format == "channels_last" and type(self).call is Dropout.call else None

    def _call_channels_first(self, inputs, training=None):
        return self._drop(inputs, training, (None, None) + (1,) * self._rank)

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]
        del config["trainable"]  # Keras's SpatialDropout takes no `trainable`, so files stay loadable there
        return {**config, "data_format": self.data_format}


_SPATIAL_DOC = """Dropout of whole channels: during training each channel of each sample is either kept (and scaled by
    `1 / (1 - rate)`) or set to 0 at every {positions} at once.

    Neighbouring {positions}s of a feature map are strongly correlated, so dropping single values regularises
    little; dropping whole maps does (Tompson et al., 2014). Inactive at inference.

    Arguments:
        rate: the fraction of channels to drop, in [0, 1).{data_format}
        seed: a seed for reproducible masks.

    Example:
        >>> y = deepglass.layers.{name}(0.5)(torch.ones({shape}), training=True)
        >>> # every channel of y[b] is all 0.0 or all 2.0
"""
_DATA_FORMAT = """
        data_format: `"channels_last"` (channels on the last axis) or `"channels_first"`; default
            `deepglass.config.image_data_format()`."""


class SpatialDropout1D(BaseSpatialDropout):
    __doc__ = _SPATIAL_DOC.format(positions="step", data_format="", name="SpatialDropout1D", shape="2, 10, 4")

    def __init__(self, rate=None, seed=None, **kwargs):
        super().__init__(1, rate, "channels_last", seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class SpatialDropout2D(BaseSpatialDropout):
    __doc__ = _SPATIAL_DOC.format(positions="pixel", data_format=_DATA_FORMAT, name="SpatialDropout2D",
                                  shape="2, 8, 8, 4")

    def __init__(self, rate=None, data_format=None, seed=None, **kwargs):
        super().__init__(2, rate, data_format, seed, **kwargs)


class SpatialDropout3D(BaseSpatialDropout):
    __doc__ = _SPATIAL_DOC.format(positions="voxel", data_format=_DATA_FORMAT, name="SpatialDropout3D",
                                  shape="2, 4, 4, 4, 3")

    def __init__(self, rate=None, data_format=None, seed=None, **kwargs):
        super().__init__(3, rate, data_format, seed, **kwargs)


# --------------------------------------------------------------------------------------------------- noise layers
class BaseNoise(Layer):
    """A layer that perturbs its input with random noise during training and returns it unchanged otherwise."""

    _passes_masks = True

    _seeded_generator = Dropout._seeded_generator  # a torch.Generator per layer and device when `seed` is set

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise ValueError(f"Received an invalid value for `seed`, expected an integer or None. Received: "
                             f"seed={seed!r}")
        self.seed = seed
        self._generator = None

    def _normal(self, inputs, mean, stddev):
        return torch.empty_like(inputs).normal_(mean, stddev, generator=self._seeded_generator(inputs.device))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(BaseNoise):
    """Adds zero-centred Gaussian noise during training: `output = inputs + N(0, stddev^2)`.

    A form of data augmentation for real-valued inputs; inactive at inference.

    Arguments:
        stddev: the noise's standard deviation, in [0, 1] (as Keras requires).
        seed: a seed for reproducible noise.

    Example:
        >>> y = deepglass.layers.GaussianNoise(0.1)(torch.zeros(1000), training=True)
        >>> float(y.std())  # about 0.1
    """

    _legacy = {"sigma": "stddev"}

    def __init__(self, stddev=None, seed=None, **kwargs):
        stddev = rename_legacy(type(self).__name__, kwargs, self._legacy).get("stddev", stddev)
        super().__init__(seed, **kwargs)
        self.stddev = _check_fraction(stddev, "stddev", allow_one=True)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.stddev == 0:
            return inputs
        return inputs + self._normal(inputs, 0.0, self.stddev)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}

    def extra_repr(self):
        return f"name={self.name!r}, stddev={self.stddev}"


class GaussianDropout(BaseNoise):
    """Multiplies the inputs by 1-centred Gaussian noise during training: `output = inputs * N(1, rate / (1 - rate))`.

    The noise has the mean and variance of Dropout's scaled keep-mask, so the expected output is the input;
    inactive at inference.

    Arguments:
        rate: the drop probability it imitates, in [0, 1); the noise's standard deviation is `sqrt(rate / (1 -
            rate))`.
        seed: a seed for reproducible noise.

    Example:
        >>> y = deepglass.layers.GaussianDropout(0.2)(torch.ones(1000), training=True)
        >>> float(y.mean()), float(y.std())  # about 1.0 and 0.5
    """

    def __init__(self, rate=None, seed=None, **kwargs):
        rate = rename_legacy(type(self).__name__, kwargs, {"p": "rate"}).get("rate", rate)
        super().__init__(seed, **kwargs)
        self.rate = _check_fraction(rate, "rate")

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.rate == 0:
            return inputs
        return inputs * self._normal(inputs, 1.0, math.sqrt(self.rate / (1.0 - self.rate)))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}

    def extra_repr(self):
        return f"name={self.name!r}, rate={self.rate}"


class AlphaDropout(BaseNoise):
    """Dropout that keeps the mean and variance of its inputs (for SELU networks), active during training only.

    A dropped input is set to SELU's saturation value `alpha' = -scale * alpha` (about -1.7581), then every value
    is transformed affinely: `output = a * (keep ? x : alpha') + b` with `a = ((1 - rate) * (1 + rate * alpha'^2))
    ^ -1/2` and `b = -a * alpha' * rate`, so that inputs of zero mean and unit variance keep them (Klambauer et al.,
    2017; the formula of Keras and of `torch.nn.functional.alpha_dropout`).

    Arguments:
        rate: the fraction of inputs to drop, in [0, 1).
        noise_shape: the shape of the keep-mask, broadcast over the inputs (`(None, 1, 64)` drops the same
            features at every step); None entries take the input's size.
        seed: a seed for reproducible masks.

    Example:
        >>> y = deepglass.layers.AlphaDropout(0.1)(torch.randn(10000), training=True)
        >>> float(y.mean()), float(y.std())  # about 0.0 and 1.0
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = _check_fraction(rate, "rate")
        if noise_shape is not None and (not isinstance(noise_shape, (list, tuple)) or not all(
                d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0)
                for d in noise_shape)):
            raise ValueError("Received an invalid value for `noise_shape`, expected a tuple of positive integers or "
                             f"None. Received: noise_shape={noise_shape!r}")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None and self.seed is None:
            return F.alpha_dropout(inputs, self.rate, True)
        shape = inputs.shape if self.noise_shape is None else \
            [inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        keep = torch.empty(shape, device=inputs.device, dtype=inputs.dtype)
        keep.bernoulli_(1 - self.rate, generator=self._seeded_generator(inputs.device))
        saturation = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * saturation ** 2)) ** -0.5
        b = -a * saturation * self.rate
        return a * (inputs * keep + saturation * (1 - keep)) + b

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}

    def extra_repr(self):
        return f"name={self.name!r}, rate={self.rate}"


# ---------------------------------------------------------------------------------------------- activity penalty
class ActivityRegularization(Layer):
    """Returns its input unchanged and adds a penalty on it to the training loss.

    The penalty is `(l1 * sum(|x|) + l2 * sum(x^2)) / batch_size`, the sums over the whole batch: Keras 3 divides
    activity penalties by the batch size so that their strength does not depend on it. It is added at every call,
    so `fit` and `evaluate` both report it as part of the loss, as in Keras.

    Arguments:
        l1: the L1 factor, a non-negative float.
        l2: the L2 factor, a non-negative float.

    Example:
        >>> layer = deepglass.layers.ActivityRegularization(l1=0.1)
        >>> layer(torch.tensor([[1.0, -2.0], [3.0, 0.0]])); layer.losses
        [tensor(0.3000)]
    """

    _passes_masks = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self._penalty = regularizers.L1L2(l1=l1, l2=l2)
        self.l1, self.l2 = self._penalty.l1, self._penalty.l2

    def call(self, inputs):
        # max(.., 1): an empty batch has a zero penalty, as Keras's divide_no_nan gives.
        self.add_loss(self._penalty(inputs) / max(inputs.shape[0], 1) if inputs.dim() else self._penalty(inputs))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}

    def extra_repr(self):
        return f"name={self.name!r}, l1={self.l1}, l2={self.l2}"
