"""UpSampling, ZeroPadding, Cropping and RepeatVector: the conformance test (with the Keras oracle) on odd sizes and
both data formats, worked examples by hand, NumPy references, bad arguments, Keras 1 spellings and configs."""
import json
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.layers import legacy
from deepglass.layers.layer import checked_calls
from tests.layer_conformance import random_input, run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

LAST, FIRST = "channels_last", "channels_first"

CASES = [
    (layers.UpSampling1D, dict(size=3), (2, 5, 3), (2, 15, 3)),
    (layers.UpSampling2D, dict(), (2, 5, 7, 3), (2, 10, 14, 3)),
    (layers.UpSampling2D, dict(size=(2, 3), data_format=FIRST), (2, 3, 5, 7), (2, 3, 10, 21)),
    (layers.UpSampling2D, dict(size=(3, 2), interpolation="bilinear"), (2, 5, 7, 3), (2, 15, 14, 3)),
    (layers.UpSampling2D, dict(size=3, interpolation="bilinear", data_format=FIRST), (2, 3, 5, 7), (2, 3, 15, 21)),
    (layers.UpSampling2D, dict(size=(2, 3), interpolation="bicubic"), (2, 5, 7, 3), (2, 10, 21, 3)),
    (layers.UpSampling3D, dict(size=(2, 1, 3)), (1, 3, 2, 5, 2), (1, 6, 2, 15, 2)),
    (layers.UpSampling3D, dict(data_format=FIRST), (1, 2, 3, 1, 5), (1, 2, 6, 2, 10)),
    (layers.ZeroPadding1D, dict(), (2, 5, 3), (2, 7, 3)),
    (layers.ZeroPadding1D, dict(padding=(2, 0), data_format=FIRST), (2, 3, 5), (2, 3, 7)),
    (layers.ZeroPadding2D, dict(padding=(1, 2)), (2, 5, 7, 3), (2, 7, 11, 3)),
    (layers.ZeroPadding2D, dict(padding=((1, 0), (2, 3)), data_format=FIRST), (2, 3, 5, 7), (2, 3, 6, 12)),
    (layers.ZeroPadding3D, dict(), (1, 3, 2, 5, 2), (1, 5, 4, 7, 2)),
    (layers.ZeroPadding3D, dict(padding=((1, 0), 2, (0, 3)), data_format=FIRST), (1, 2, 3, 1, 5), (1, 2, 4, 5, 8)),
    (layers.Cropping1D, dict(), (2, 5, 3), (2, 3, 3)),
    (layers.Cropping1D, dict(cropping=(2, 0)), (2, 5, 3), (2, 3, 3)),
    (layers.Cropping2D, dict(), (2, 5, 7, 3), (2, 5, 7, 3)),
    (layers.Cropping2D, dict(cropping=((1, 2), (0, 3))), (2, 5, 7, 3), (2, 2, 4, 3)),
    (layers.Cropping2D, dict(cropping=(1, 2), data_format=FIRST), (2, 3, 5, 7), (2, 3, 3, 3)),
    (layers.Cropping3D, dict(), (1, 3, 5, 7, 2), (1, 1, 3, 5, 2)),
    (layers.Cropping3D, dict(cropping=((1, 0), 2, (0, 3)), data_format=FIRST), (1, 2, 3, 5, 7), (1, 2, 2, 1, 4)),
    (layers.RepeatVector, dict(n=3), (2, 5), (2, 3, 5)),
]


@pytest.mark.parametrize("cls, kwargs, shape, expected", CASES)
def test_conformance_and_keras(cls, kwargs, shape, expected):
    run_layer_test(cls, kwargs, shape, expected_output_shape=expected, expected_num_params=0)


# ------------------------------------------------------------------------------------------------------ up-sampling
def test_up_sampling_1d_repeats_steps():
    x = torch.arange(12.0).reshape(2, 2, 3)
    expected = [[[0, 1, 2], [0, 1, 2], [3, 4, 5], [3, 4, 5]], [[6, 7, 8], [6, 7, 8], [9, 10, 11], [9, 10, 11]]]
    np.testing.assert_array_equal(layers.UpSampling1D(2)(x).numpy(), expected)


@pytest.mark.parametrize("data_format", [LAST, FIRST])
def test_nearest_repeats_each_pixel(data_format):
    x = random_input((2, 5, 7, 3) if data_format == LAST else (2, 3, 5, 7))
    axes = (1, 2) if data_format == LAST else (2, 3)
    expected = np.repeat(np.repeat(x, 3, axis=axes[0]), 2, axis=axes[1])
    y = layers.UpSampling2D((3, 2), data_format=data_format)(torch.from_numpy(x))
    np.testing.assert_array_equal(y.numpy(), expected)
    assert y.is_contiguous()


def test_nearest_by_hand_and_3d():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(layers.UpSampling2D((1, 3))(x).numpy()[0, :, :, 0],
                                  [[1, 1, 1, 2, 2, 2], [3, 3, 3, 4, 4, 4]])
    v = random_input((1, 3, 2, 5, 2))
    expected = np.repeat(np.repeat(np.repeat(v, 2, axis=1), 1, axis=2), 3, axis=3)
    np.testing.assert_array_equal(layers.UpSampling3D((2, 1, 3))(torch.from_numpy(v)).numpy(), expected)


def test_nearest_exact_for_large_factors():
    # a factor whose float reciprocal rounds down, where floating-point nearest-neighbour indexing can be off by one
    x = torch.arange(40.0).reshape(1, 40, 1, 1)
    y = layers.UpSampling2D((49, 1))(x)
    np.testing.assert_array_equal(y.numpy().ravel(), np.repeat(np.arange(40.0), 49))


def numpy_half_pixel_bilinear(x, factors):
    """Bilinear resizing of (batch, height, width, channels) with half-pixel centres (TensorFlow's and Keras's
    `resize`): output pixel i samples input position (i + 0.5) / factor - 0.5, clamped to the image."""
    for axis, factor in zip((1, 2), factors):
        n = x.shape[axis]
        position = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, n - 1)
        weight = (position - low).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
        x = np.take(x, low, axis=axis) * (1 - weight) + np.take(x, high, axis=axis) * weight
    return x


@pytest.mark.parametrize("data_format", [LAST, FIRST])
def test_bilinear_uses_half_pixel_centres(data_format):
    x = random_input((2, 5, 7, 3))
    expected = numpy_half_pixel_bilinear(x.astype(np.float64), (2, 3))
    layer = layers.UpSampling2D((2, 3), data_format=data_format, interpolation="Bilinear")
    inputs = x if data_format == LAST else np.moveaxis(x, -1, 1)
    y = layer(torch.from_numpy(np.ascontiguousarray(inputs))).numpy()
    y = y if data_format == LAST else np.moveaxis(y, 1, -1)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    # by hand: [0, 1] doubled is sampled at -0.25, 0.25, 0.75, 1.25 -> clamped 0, 0.25, 0.75, 1
    row = layers.UpSampling2D((1, 2), interpolation="bilinear")(torch.tensor([0.0, 1.0]).reshape(1, 1, 2, 1))
    np.testing.assert_allclose(row.numpy().ravel(), [0.0, 0.25, 0.75, 1.0])


def test_up_sampling_gradient_sums_copies():
    x = torch.randn(1, 3, 4, 2, requires_grad=True)
    layers.UpSampling2D((2, 3))(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 3, 4, 2), 6.0))


def test_unknown_sizes_stay_unknown():
    y = layers.UpSampling2D((2, 3))(deepglass.Input((None, 4, 3)))
    assert y.shape == (None, None, 12, 3)
    assert layers.ZeroPadding1D(2)(deepglass.Input((None, 3))).shape == (None, None, 3)
    assert layers.Cropping2D(1)(deepglass.Input((None, 5, 3))).shape == (None, None, 3, 3)


# --------------------------------------------------------------------------------------------- padding and cropping
@pytest.mark.parametrize("cls, padding, pairs", [
    (layers.ZeroPadding1D, (2, 1), [(2, 1)]),
    (layers.ZeroPadding2D, 1, [(1, 1), (1, 1)]),
    (layers.ZeroPadding2D, (1, 2), [(1, 1), (2, 2)]),
    (layers.ZeroPadding2D, ((0, 1), (3, 0)), [(0, 1), (3, 0)]),
    (layers.ZeroPadding3D, ((1, 0), 2, (0, 3)), [(1, 0), (2, 2), (0, 3)]),
])
@pytest.mark.parametrize("data_format", [LAST, FIRST])
def test_zero_padding_matches_numpy(cls, padding, pairs, data_format):
    rank = len(pairs)
    shape = (2,) + (5, 3, 4)[:rank] + (3,) if data_format == LAST else (2, 3) + (5, 3, 4)[:rank]
    x = random_input(shape)
    spec = [(0, 0)] + pairs + [(0, 0)] if data_format == LAST else [(0, 0), (0, 0)] + pairs
    y = cls(padding, data_format=data_format)(torch.from_numpy(x))
    np.testing.assert_array_equal(y.numpy(), np.pad(x, spec))


def test_zero_padding_by_hand():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    y = layers.ZeroPadding2D(((1, 0), (0, 2)))(x).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(y, [[0, 0, 0, 0], [1, 2, 0, 0], [3, 4, 0, 0]])


@pytest.mark.parametrize("data_format", [LAST, FIRST])
def test_cropping_matches_slices(data_format):
    x = random_input((2, 6, 7, 3) if data_format == LAST else (2, 3, 6, 7))
    y = layers.Cropping2D(((1, 2), (0, 3)), data_format=data_format)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(y, x[:, 1:4, 0:4] if data_format == LAST else x[:, :, 1:4, 0:4])
    v = random_input((1, 4, 5, 6, 2))
    y = layers.Cropping3D(((0, 1), 2, (3, 0)))(torch.from_numpy(v)).numpy()
    np.testing.assert_array_equal(y, v[:, 0:3, 2:3, 3:6])


def test_cropping_by_hand():
    x = torch.arange(12.0).reshape(2, 3, 2)
    np.testing.assert_array_equal(layers.Cropping1D(1)(x).numpy(), [[[2, 3]], [[8, 9]]])
    np.testing.assert_array_equal(layers.Cropping1D((0, 2))(x).numpy(), [[[0, 1]], [[6, 7]]])


def test_repeat_vector_by_hand():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(layers.RepeatVector(3)(x).numpy(), [[[1, 2]] * 3, [[3, 4]] * 3])


# ------------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("make, match", [
    (lambda: layers.ZeroPadding2D(-1), r"`padding`, expected non-negative integers .* Received: padding=-1$"),
    (lambda: layers.ZeroPadding2D(((1, -2), 0)), r"Received: padding=\(\(1, -2\), 0\)$"),
    (lambda: layers.ZeroPadding1D((1, 2, 3)), r"Received: padding=\(1, 2, 3\)$"),
    (lambda: layers.ZeroPadding3D((1, 2)), r"a triple of pairs .* Received: padding=\(1, 2\)$"),
    (lambda: layers.Cropping2D((1, "2")), r"`cropping`, expected non-negative integers .* Received: cropping="),
    (lambda: layers.Cropping1D(-3), r"Received: cropping=-3$"),
    (lambda: layers.UpSampling2D((2, 0)), r"`size`.* Received: size=\(2, 0\)$"),
    (lambda: layers.UpSampling1D(0), r"Received: size=0$"),
    (lambda: layers.UpSampling2D(interpolation="bilinar"), r"Unknown interpolation: 'bilinar'. Did you mean "
                                                           r"'bilinear'\?"),
    (lambda: layers.UpSampling2D(interpolation="lanczos3"), r"interpolation='lanczos3', which is not supported"),
    (lambda: layers.RepeatVector(0), r"`n`, expected a positive integer. Received: n=0$"),
    (lambda: layers.ZeroPadding2D(data_format="channels"), "Unknown data_format"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_crop_larger_than_input():
    message = (r'Cropping2D "cropping2d" crops 5 entries from the height axis of its input \(2, 5, 7, 3\), which has '
               r"only 5: use a smaller `cropping` or a larger input. Received: cropping=\(\(2, 3\), \(0, 0\)\)$")
    with pytest.raises(ValueError, match=message):
        layers.Cropping2D(((2, 3), 0))(torch.zeros(2, 5, 7, 3))
    with pytest.raises(ValueError, match=r"from the width axis .* Received: cropping=\(\(0, 0\), \(4, 4\)\)"):
        layers.Cropping2D((0, 4))(deepglass.Input((9, 8, 3)))
    layer = layers.Cropping1D((2, 2))
    layer(torch.zeros(1, 5, 2))  # built on a long enough input, then called on a shorter one
    with pytest.raises(ValueError, match=r"crops 4 entries from the steps axis .* which has only 4"):
        layer(torch.zeros(1, 4, 2))


def test_wrong_rank_names_the_fix():
    with pytest.raises(ValueError, match=r'UpSampling2D "up_sampling2d" expects 4-D input \(batch, height, width, '
                                         r"channels\); got shape \(28, 28, 1\): add a batch axis"):
        layers.UpSampling2D()(torch.zeros(28, 28, 1))
    with pytest.raises(ValueError, match=r"use ZeroPadding2D for 2-D data"):
        layers.ZeroPadding1D()(torch.zeros(2, 4, 4, 3))
    with pytest.raises(ValueError, match=r'RepeatVector "repeat_vector" expects 2-D input .* add Flatten\(\)'):
        layers.RepeatVector(2)(torch.zeros(2, 3, 4))
    layer = layers.Cropping2D(1)
    layer(torch.zeros(1, 8, 8, 3))
    with checked_calls(), pytest.raises(ValueError, match=r"expects 4-D input, got shape \(8, 8, 3\): add a batch"):
        layer(torch.zeros(8, 8, 3))


# --------------------------------------------------------------------------------------------- Keras 1 spellings
def test_keras1_spellings(monkeypatch):
    monkeypatch.setattr(legacy, "_warned", set())
    with pytest.warns(DeprecationWarning) as record:
        up = layers.UpSampling2D(size=(2, 2), dim_ordering="th")
        one = layers.UpSampling1D(length=3)
        pad = layers.ZeroPadding2D((1, 1), dim_ordering="tf")
    assert all(w.filename == __file__ for w in record)
    assert up.data_format == FIRST and one.size == (3,) and pad.data_format == LAST


# -------------------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("cls, kwargs", [
    (layers.UpSampling1D, dict(size=3)), (layers.UpSampling2D, dict(size=(2, 3), interpolation="bilinear")),
    (layers.UpSampling3D, dict(data_format=FIRST)), (layers.ZeroPadding1D, dict(padding=(1, 2))),
    (layers.ZeroPadding2D, dict(padding=((1, 0), 2))), (layers.ZeroPadding3D, dict(padding=1)),
    (layers.Cropping1D, dict(cropping=2)), (layers.Cropping2D, dict(cropping=((1, 2), (3, 4)))),
    (layers.Cropping3D, dict(data_format=FIRST)), (layers.RepeatVector, dict(n=4)),
])
def test_config_matches_keras(cls, kwargs):
    ours, theirs = cls(**kwargs).get_config(), getattr(keras.layers, cls.__name__)(**kwargs).get_config()
    assert set(ours) == set(theirs)
    for key in set(ours) - {"name", "trainable", "dtype"}:
        assert ours[key] == _as_lists(theirs[key]), key
    clone = deepglass.layers.deserialize(json.loads(json.dumps(deepglass.layers.serialize(cls(**kwargs)))))
    assert type(clone) is cls and clone.get_config() == {**ours, "name": clone.name}


def _as_lists(value):
    return [_as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


def test_repr():
    assert repr(layers.UpSampling2D(2, interpolation="bilinear")) == \
        "UpSampling2D(name='up_sampling2d', size=(2, 2), interpolation='bilinear')"
    assert repr(layers.Cropping2D(((1, 0), 2))) == "Cropping2D(name='cropping2d', cropping=((1, 0), (2, 2)))"
    assert repr(layers.ZeroPadding1D()) == "ZeroPadding1D(name='zero_padding1d', padding=(1, 1))"
