"""Initializers: moments and bounds against their formulas, fans and configs against the Keras oracle, seeds."""
import json
import math
import os

import numpy as np
import pytest
import torch

from deepglass import config, initializers

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
from keras.src.initializers.random_initializers import compute_fans as keras_compute_fans  # noqa: E402

DENSE = (400, 500)  # 200k values: sample variances within ~1% of the true ones
CONV = (5, 5, 64, 128)  # fan_in 1600, fan_out 3200, 205k values
PRESETS = ["GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform"]
TRUNC = 0.87962566103423978  # std of a standard normal truncated at +-2


@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (3, 4, 5), (3, 3, 16, 32), (2, 3, 4, 5, 6)])
def test_compute_fans_matches_keras(shape):
    assert initializers.compute_fans(shape) == keras_compute_fans(shape)
    if len(shape) == 4:
        axes = {"input_axes": [0, 1, 2], "output_axes": [3]}
        assert initializers.compute_fans(shape, **axes) == keras_compute_fans(shape, **axes)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_match_keras(name):
    ours, theirs = getattr(initializers, name)(), getattr(keras.initializers, name)()
    assert (ours.scale, ours.mode, ours.distribution) == (theirs.scale, theirs.mode, theirs.distribution)


def _expected_variance(name, shape):
    fan_in, fan_out = initializers.compute_fans(shape)
    return {"Glorot": 2.0 / (fan_in + fan_out), "He": 2.0 / fan_in, "Lecun": 1.0 / fan_in}[
        name.replace("Normal", "").replace("Uniform", "")]


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", PRESETS)
def test_preset_moments_and_bounds(name, shape):
    w = getattr(initializers, name)(seed=1)(shape).double()
    variance = _expected_variance(name, shape)
    assert w.shape == shape and w.dtype == torch.float64
    assert abs(w.mean().item()) < 4 * math.sqrt(variance / w.numel())
    assert w.var().item() == pytest.approx(variance, rel=0.03)
    if name.endswith("Uniform"):  # e.g. glorot uniform's limit sqrt(6 / (fan_in + fan_out))
        limit = math.sqrt(3 * variance)
        assert w.abs().max().item() <= limit
        assert w.abs().max().item() > 0.99 * limit
    else:  # truncated at two of the pre-truncation standard deviations
        bound = 2 * math.sqrt(variance) / TRUNC
        assert w.abs().max().item() <= bound
        assert w.abs().max().item() > 0.99 * bound


@pytest.mark.parametrize("name", PRESETS)
def test_preset_spread_matches_keras(name):
    ours = getattr(initializers, name)(seed=2)(CONV)
    theirs = np.asarray(getattr(keras.initializers, name)(seed=2)(CONV))
    assert ours.std().item() == pytest.approx(theirs.std(), rel=0.03)


def test_random_normal_uniform_truncated():
    w = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=3)(DENSE)
    assert w.mean().item() == pytest.approx(1.0, abs=0.005) and w.std().item() == pytest.approx(0.5, rel=0.01)
    w = initializers.RandomUniform(minval=-0.2, maxval=0.3, seed=3)(DENSE)
    assert w.min().item() >= -0.2 and w.max().item() < 0.3
    assert w.mean().item() == pytest.approx(0.05, abs=0.002) and w.var().item() == pytest.approx(0.25 / 12, rel=0.02)
    w = initializers.TruncatedNormal(mean=0.5, stddev=0.1, seed=3)(DENSE)
    assert w.min().item() >= 0.3 and w.max().item() <= 0.7
    assert w.mean().item() == pytest.approx(0.5, abs=0.001) and w.std().item() == pytest.approx(0.1 * TRUNC, rel=0.01)
    defaults = initializers.RandomNormal()(DENSE)
    assert defaults.std().item() == pytest.approx(0.05, rel=0.01)


@pytest.mark.parametrize("mode, fan", [("fan_in", 1600), ("fan_out", 3200), ("fan_avg", 2400)])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform", "normal"])
def test_variance_scaling(mode, fan, distribution):
    w = initializers.VarianceScaling(scale=3.0, mode=mode, distribution=distribution, seed=4)(CONV)
    assert w.var().item() == pytest.approx(3.0 / fan, rel=0.03)


def test_variance_scaling_custom_axes():
    init = initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", input_axes=[3],
                                        output_axes=[0, 1, 2])
    assert init(CONV).var().item() == pytest.approx(1.0 / 128, rel=0.03)


def test_seeded_calls_repeat_and_leave_the_global_generator_alone():
    for name in PRESETS + ["RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal"]:
        state = torch.get_rng_state()
        init = getattr(initializers, name)(seed=7)
        first = init((20, 30))
        assert torch.equal(first, init((20, 30))), name
        assert torch.equal(first, getattr(initializers, name)(seed=7)((20, 30))), name
        assert not torch.equal(first, getattr(initializers, name)(seed=8)((20, 30))), name
        assert torch.equal(state, torch.get_rng_state()), name


def test_unseeded_calls_follow_the_global_seed():
    init = initializers.GlorotUniform()
    config.set_random_seed(123)
    a, b = init((20, 30)), init((20, 30))
    assert not torch.equal(a, b)
    config.set_random_seed(123)
    assert torch.equal(a, init((20, 30))) and torch.equal(b, init((20, 30)))


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (3, 3, 4, 8), (2, 2, 8, 64)])
def test_orthogonal(shape):
    w = initializers.Orthogonal(gain=2.0, seed=5)(shape).double()
    assert w.shape == shape
    matrix = w.reshape(-1, shape[-1])
    # Columns orthonormal when there are at least as many rows, rows orthonormal otherwise; times gain**2.
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    np.testing.assert_allclose(gram.numpy(), 4.0 * np.eye(gram.shape[0]), atol=1e-5)


def test_constant_ones_zeros_identity():
    assert torch.equal(initializers.Zeros()((2, 3)), torch.zeros(2, 3))
    assert torch.equal(initializers.Ones()((4,), dtype="float64"), torch.ones(4, dtype=torch.float64))
    assert torch.equal(initializers.Constant(3)((2,), dtype="int32"), torch.tensor([3, 3], dtype=torch.int32))
    assert initializers.Constant(np.float32(0.5)).get_config() == {"value": 0.5}
    np.testing.assert_array_equal(initializers.Identity(gain=2.0)((2, 3)).numpy(), 2.0 * np.eye(2, 3))
    assert initializers.Zeros()((2,)).dtype == torch.float32


def test_tensor_as_initializer():
    value = np.arange(6.0).reshape(2, 3)
    init = initializers.get(value)
    np.testing.assert_array_equal(init((2, 3)).numpy(), value)
    assert init((2, 3)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"Expected `shape` to be \(2, 3\)"):
        init((3, 2))


ALL = ["Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
       "Orthogonal"] + PRESETS


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip_and_keras_keys(name):
    cls = getattr(initializers, name)
    init = cls(seed=9) if "seed" in cls().get_config() else cls()
    config_ = init.get_config()
    json.dumps(config_)
    assert cls.from_config(config_).get_config() == config_
    assert initializers.deserialize(initializers.serialize(init)).get_config() == config_
    assert type(initializers.deserialize(initializers.serialize(init))) is cls
    # Keras 3.15's Identity leaves `gain` out of its config (so it is lost on saving); we keep it.
    ours_only = {"gain"} if name == "Identity" else set()
    assert set(config_) - ours_only == set(getattr(keras.initializers, name)().get_config())
    # A config written by Keras (with its `module` and `registered_name` keys) loads.
    keras_config = keras.initializers.serialize(getattr(keras.initializers, name)())
    assert type(initializers.deserialize(keras_config)) is cls
    assert type(initializers.get(cls)) is cls


def test_get_by_every_keras_name():
    from keras.src.initializers import ALL_OBJECTS_DICT

    for name, cls in ALL_OBJECTS_DICT.items():
        if "STFT" in name.upper():
            continue
        assert type(initializers.get(name)).__name__ == cls.__name__, name
    assert isinstance(initializers.get("xavier_uniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("xavier_normal"), initializers.GlorotNormal)
    assert initializers.get(None) is None
    fn = lambda shape, dtype=None: torch.zeros(shape)  # noqa: E731
    assert initializers.get(fn) is fn
    assert initializers.glorot_uniform is initializers.GlorotUniform


def test_errors():
    with pytest.raises(ValueError, match="Did you mean 'glorot_uniform'"):
        initializers.get("glorot_unifrom")
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="seed"):
        initializers.RandomNormal(seed="1")
    with pytest.raises(ValueError, match="float"):
        initializers.RandomNormal()((2,), dtype="int32")
    with pytest.raises(ValueError, match="rank 2 or more"):
        initializers.Orthogonal()((4,))
    with pytest.raises(ValueError, match="2-D"):
        initializers.Identity()((2, 2, 2))
