"""SpatialDropout, GaussianNoise, GaussianDropout, AlphaDropout and ActivityRegularization: the conformance test
(outputs at inference against Keras), statistics in training mode, AlphaDropout's formula, seeds, the activity
penalty against its formula, Keras and fit/evaluate, bad arguments, Keras 1 spellings and configs."""
import json
import math
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.layers import legacy
from tests.layer_conformance import random_input, run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

LAST, FIRST = "channels_last", "channels_first"
SATURATION = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946

# Random layers are compared with Keras at inference (both return the input); training is checked by statistics.
CASES = [
    (layers.SpatialDropout1D, dict(rate=0.3), (2, 5, 3)),
    (layers.SpatialDropout2D, dict(rate=0.3), (2, 5, 7, 3)),
    (layers.SpatialDropout2D, dict(rate=0.3, data_format=FIRST, seed=1), (2, 3, 5, 7)),
    (layers.SpatialDropout3D, dict(rate=0.5), (1, 3, 2, 5, 2)),
    (layers.SpatialDropout3D, dict(rate=0.5, data_format=FIRST), (1, 2, 3, 1, 5)),
    (layers.GaussianNoise, dict(stddev=0.5, seed=3), (3, 7)),
    (layers.GaussianDropout, dict(rate=0.4), (3, 5, 7)),
    (layers.AlphaDropout, dict(rate=0.2, noise_shape=(None, 1, 5)), (3, 7, 5)),
    (layers.ActivityRegularization, dict(l1=0.01, l2=0.1), (3, 7)),
]


@pytest.mark.parametrize("cls, kwargs, shape", CASES)
def test_conformance_and_identity_at_inference(cls, kwargs, shape):
    layer = run_layer_test(cls, kwargs, shape, expected_output_shape=shape, expected_num_params=0)
    x = torch.from_numpy(random_input(shape))
    assert layer(x) is x
    if cls is not layers.ActivityRegularization:  # the only one without a training argument, as in Keras
        assert layer(x, training=False) is x


# ------------------------------------------------------------------------------------------------ spatial dropout
@pytest.mark.parametrize("cls, shape, data_format", [
    (layers.SpatialDropout1D, (64, 5, 32), LAST),
    (layers.SpatialDropout2D, (64, 3, 5, 32), LAST),
    (layers.SpatialDropout2D, (64, 32, 3, 5), FIRST),
    (layers.SpatialDropout3D, (64, 2, 3, 1, 32), LAST),
    (layers.SpatialDropout3D, (64, 32, 2, 3, 1), FIRST),
])
def test_spatial_dropout_drops_whole_channels(cls, shape, data_format):
    kwargs = {} if cls is layers.SpatialDropout1D else dict(data_format=data_format)
    rate = 0.25
    x = torch.rand(shape) + 1.0  # no zeros of its own
    y = cls(rate, **kwargs)(x, training=True)
    channels_axis = -1 if data_format == LAST else 1
    spatial = tuple(a for a in range(1, len(shape)) if a != len(shape) + channels_axis and a != channels_axis)
    kept = (y != 0).float()
    # each (sample, channel) map is all kept or all dropped
    assert torch.equal(kept.amin(dim=spatial), kept.amax(dim=spatial))
    torch.testing.assert_close(y[y != 0], (x / (1 - rate))[y != 0])
    dropped = 1 - kept.amax(dim=spatial).mean().item()
    assert abs(dropped - rate) < 0.05  # 2048 channel draws: the standard error is about 0.01


def test_spatial_dropout_in_a_model_is_on_in_fit_only():
    model = deepglass.Sequential([deepglass.Input((4, 6)), layers.SpatialDropout1D(0.5)])
    x = torch.ones(8, 4, 6)
    assert torch.equal(model(x), x)
    model.train()
    assert not torch.equal(model(x), x)


# --------------------------------------------------------------------------------------------------- noise layers
def test_gaussian_noise_statistics():
    x = torch.randn(200, 250)
    noise = layers.GaussianNoise(0.3)(x, training=True) - x
    assert abs(noise.mean().item()) < 0.006 and abs(noise.std().item() - 0.3) < 0.006  # 4-6 standard errors


def test_gaussian_dropout_statistics():
    x = torch.rand(200, 500) + 0.5
    y = layers.GaussianDropout(0.2)(x, training=True)
    # multiplicative noise N(1, rate / (1 - rate)): the mean of the input is preserved
    ratio = y / x
    assert abs(ratio.mean().item() - 1.0) < 0.008 and abs(ratio.std().item() - math.sqrt(0.2 / 0.8)) < 0.008
    assert abs(y.mean().item() - x.mean().item()) < 0.01


@pytest.mark.parametrize("kwargs", [dict(), dict(seed=7), dict(noise_shape=(None, 1))])
def test_alpha_dropout_formula_and_statistics(kwargs):
    rate = 0.2
    x = torch.randn(2000, 25)
    y = layers.AlphaDropout(rate, **kwargs)(x, training=True)
    a = ((1 - rate) * (1 + rate * SATURATION ** 2)) ** -0.5
    b = -a * SATURATION * rate
    kept = torch.isclose(y, a * x + b, atol=1e-6)
    dropped = torch.isclose(y, torch.full_like(y, a * SATURATION + b), atol=1e-6)
    assert torch.all(kept | dropped)
    draws = dropped.numel()
    if "noise_shape" in kwargs:  # one draw per row
        assert torch.all(kept.all(dim=1) | dropped.all(dim=1))
        draws = len(x)
    assert abs(dropped.float().mean().item() - rate) < 4 * math.sqrt(rate * (1 - rate) / draws)
    if "noise_shape" not in kwargs:  # unit-normal inputs keep zero mean and unit variance
        assert abs(y.mean().item()) < 0.03 and abs(y.std().item() - 1.0) < 0.03


@pytest.mark.parametrize("cls, kwargs", [(layers.GaussianNoise, dict(stddev=0.5)),
                                         (layers.GaussianDropout, dict(rate=0.5)),
                                         (layers.AlphaDropout, dict(rate=0.5)),
                                         (layers.SpatialDropout2D, dict(rate=0.5))])
def test_seed_gives_reproducible_noise(cls, kwargs):
    x = torch.randn(4, 3, 5, 6)
    first = cls(seed=11, **kwargs)(x, training=True)
    second = cls(seed=11, **kwargs)(x, training=True)
    assert torch.equal(first, second) and not torch.equal(first, x)
    assert not torch.equal(cls(seed=12, **kwargs)(x, training=True), first)


@pytest.mark.parametrize("layer", [layers.GaussianNoise(0.0), layers.GaussianDropout(0.0), layers.AlphaDropout(0.0),
                                   layers.SpatialDropout1D(0.0)])
def test_zero_rate_is_identity_in_training(layer):
    x = torch.randn(2, 3, 4)
    assert torch.equal(layer(x, training=True), x)


# ------------------------------------------------------------------------------------------ activity regularization
def test_activity_penalty_matches_formula_and_keras():
    x = random_input((4, 3, 5))
    layer = layers.ActivityRegularization(l1=0.01, l2=0.2)
    layer(torch.from_numpy(x))
    expected = (0.01 * np.abs(x).sum() + 0.2 * np.square(x).sum()) / 4  # Keras 3 divides by the batch size
    (loss,) = layer.losses
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    theirs = keras.layers.ActivityRegularization(l1=0.01, l2=0.2)
    theirs(x)
    np.testing.assert_allclose(loss.item(), keras.ops.convert_to_numpy(theirs.losses[0]), rtol=1e-6)
    layer(torch.from_numpy(x[:2]))
    assert len(layer.losses) == 1  # each call replaces the previous call's penalty


def test_fit_and_evaluate_report_the_penalty():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 3)).astype("float32"), rng.standard_normal((20, 2)).astype("float32")
    dense = layers.Dense(2)
    model = deepglass.Sequential([deepglass.Input((3,)), dense, layers.ActivityRegularization(l1=0.05, l2=0.1)])
    model.compile(optimizer=deepglass.optimizers.SGD(learning_rate=0.0), loss="mse")  # the weights stay put
    plain = deepglass.Sequential([deepglass.Input((3,)), layers.Dense(2)])
    plain.compile(optimizer="sgd", loss="mse")
    plain.set_weights(model.get_weights())
    outputs = x @ dense.get_weights()[0] + dense.get_weights()[1]
    # two batches of 10: each adds its penalty over its batch size, so the epoch mean is the total over 20
    penalty = (0.05 * np.abs(outputs).sum() + 0.1 * np.square(outputs).sum()) / 20
    expected = plain.evaluate(x, y, batch_size=10, verbose=0) + penalty
    history = model.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=10, verbose=0), expected, rtol=1e-5)


# ------------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("make, match", [
    (lambda: layers.SpatialDropout2D(1.0), r"`rate`, expected a float in \[0, 1\). Received: rate=1.0$"),
    (lambda: layers.GaussianDropout(-0.1), r"`rate`, expected a float in \[0, 1\). Received: rate=-0.1$"),
    (lambda: layers.AlphaDropout(1), r"Received: rate=1$"),
    (lambda: layers.GaussianNoise(1.5), r"`stddev`, expected a float in \[0, 1\]. Received: stddev=1.5$"),
    (lambda: layers.GaussianNoise("0.1"), r"Received: stddev='0.1'$"),
    (lambda: layers.GaussianNoise(0.1, seed=1.5), r"`seed`, expected an integer or None. Received: seed=1.5$"),
    (lambda: layers.AlphaDropout(0.1, noise_shape=(None, 0)), r"Received: noise_shape=\(None, 0\)$"),
    (lambda: layers.ActivityRegularization(l1=-1.0), r"`l1` to be a non-negative float; received: l1=-1.0"),
    (lambda: layers.SpatialDropout3D(0.1, data_format="channel_first"), r"Did you mean 'channels_first'"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_spatial_dropout_wrong_rank():
    with pytest.raises(ValueError, match=r'SpatialDropout2D "spatial_dropout2d" expects 4-D input \(batch, height, '
                                         r"width, channels\); got shape \(2, 5, 3\)"):
        layers.SpatialDropout2D(0.1)(torch.zeros(2, 5, 3))


def test_keras1_spellings(monkeypatch):
    monkeypatch.setattr(legacy, "_warned", set())
    with pytest.warns(DeprecationWarning) as record:
        noise = layers.GaussianNoise(sigma=0.2)
        drop = layers.GaussianDropout(p=0.3)
        spatial = layers.SpatialDropout2D(p=0.4, dim_ordering="th")
    assert all(w.filename == __file__ for w in record)
    assert (noise.stddev, drop.rate, spatial.rate, spatial.data_format) == (0.2, 0.3, 0.4, FIRST)


# -------------------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("cls, kwargs", [
    (layers.SpatialDropout1D, dict(rate=0.2, seed=3)), (layers.SpatialDropout2D, dict(rate=0.2, data_format=FIRST)),
    (layers.SpatialDropout3D, dict(rate=0.1)), (layers.GaussianNoise, dict(stddev=0.3, seed=1)),
    (layers.GaussianDropout, dict(rate=0.3)), (layers.AlphaDropout, dict(rate=0.1, noise_shape=(None, 1, 4))),
    (layers.ActivityRegularization, dict(l1=0.1, l2=0.2)),
])
def test_config_matches_keras(cls, kwargs):
    ours, theirs = cls(**kwargs).get_config(), getattr(keras.layers, cls.__name__)(**kwargs).get_config()
    assert set(theirs) <= set(ours) <= set(theirs) | {"trainable"}  # Keras's spatial dropout omits `trainable`
    for key in set(theirs) - {"name", "dtype"}:
        assert ours[key] == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key]), key
    clone = deepglass.layers.deserialize(json.loads(json.dumps(deepglass.layers.serialize(cls(**kwargs)))))
    assert type(clone) is cls and clone.get_config() == {**ours, "name": clone.name}


def test_repr():
    assert repr(layers.GaussianNoise(0.1)) == "GaussianNoise(name='gaussian_noise', stddev=0.1)"
    assert repr(layers.ActivityRegularization(l2=0.5)) == \
        "ActivityRegularization(name='activity_regularization', l1=0.0, l2=0.5)"
