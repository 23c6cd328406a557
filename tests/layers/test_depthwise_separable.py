"""DepthwiseConv1D/2D and SeparableConv1D/2D: outputs, shapes and parameter counts against Keras with the same
weights, a NumPy per-channel reference, the separable factorisation, Keras 1's spelling, configs and bad arguments."""
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass.layers import (
    Conv2D, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, SeparableConvolution1D,
    SeparableConvolution2D, legacy,
)
from deepglass.layers import convolutional
from tests.layer_conformance import random_input, run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

BIAS = {"bias_initializer": "random_normal"}
DEPTHWISE = [
    (DepthwiseConv1D, dict(kernel_size=3, **BIAS), (2, 9, 3)),
    (DepthwiseConv1D, dict(kernel_size=4, strides=2, padding="same", depth_multiplier=2, **BIAS), (2, 9, 3)),
    (DepthwiseConv1D, dict(kernel_size=3, dilation_rate=2, data_format="channels_first"), (2, 3, 9)),
    (DepthwiseConv2D, dict(kernel_size=3, depth_multiplier=3, **BIAS), (2, 7, 6, 2)),
    (DepthwiseConv2D, dict(kernel_size=3, strides=2, padding="same", activation="relu", **BIAS), (2, 9, 8, 3)),
    (DepthwiseConv2D, dict(kernel_size=(2, 3), dilation_rate=(2, 1), padding="same"), (2, 7, 7, 3)),
    (DepthwiseConv2D, dict(kernel_size=2, strides=(1, 2), depth_multiplier=2, data_format="channels_first",
                           use_bias=False), (2, 3, 5, 7)),
]
SEPARABLE = [
    (SeparableConv1D, dict(filters=4, kernel_size=3, **BIAS), (2, 9, 3)),
    (SeparableConv1D, dict(filters=5, kernel_size=2, strides=2, padding="same", depth_multiplier=2), (2, 9, 3)),
    (SeparableConv1D, dict(filters=4, kernel_size=3, dilation_rate=2, data_format="channels_first", **BIAS),
     (2, 3, 10)),
    (SeparableConv2D, dict(filters=6, kernel_size=3, **BIAS), (2, 7, 6, 3)),
    (SeparableConv2D, dict(filters=4, kernel_size=3, strides=2, padding="same", depth_multiplier=2,
                           activation="tanh", **BIAS), (2, 9, 8, 3)),
    (SeparableConv2D, dict(filters=4, kernel_size=(3, 2), dilation_rate=2, padding="same",
                           data_format="channels_first"), (2, 3, 7, 6)),
    (SeparableConv2D, dict(filters=4, kernel_size=2, use_bias=False), (2, 5, 5, 2)),
]


def _window(kwargs, rank):
    kernel = kwargs["kernel_size"]
    return (kernel,) * rank if isinstance(kernel, int) else tuple(kernel)


def _channels(kwargs, shape):
    return shape[-1] if kwargs.get("data_format", "channels_last") == "channels_last" else shape[1]


@pytest.mark.parametrize("cls, kwargs, shape", DEPTHWISE)
def test_depthwise_matches_keras(cls, kwargs, shape):
    layer = run_layer_test(cls, kwargs, shape, expected_num_trainable_weights=1 + kwargs.get("use_bias", True))
    window, channels, multiplier = _window(kwargs, layer.rank), _channels(kwargs, shape), kwargs.get(
        "depth_multiplier", 1)
    assert layer.get_weights()[0].shape == window + (channels, multiplier)  # Keras's (*k, in, multiplier)
    use_bias = kwargs.get("use_bias", True)
    assert layer.count_params() == (int(np.prod(window)) + use_bias) * channels * multiplier


@pytest.mark.parametrize("cls, kwargs, shape", SEPARABLE)
def test_separable_matches_keras(cls, kwargs, shape):
    layer = run_layer_test(cls, kwargs, shape, expected_num_trainable_weights=2 + kwargs.get("use_bias", True))
    window, channels, multiplier = _window(kwargs, layer.rank), _channels(kwargs, shape), kwargs.get(
        "depth_multiplier", 1)
    filters, use_bias = kwargs["filters"], kwargs.get("use_bias", True)
    depthwise, pointwise = layer.get_weights()[:2]
    assert depthwise.shape == window + (channels, multiplier)
    assert pointwise.shape == (1,) * layer.rank + (channels * multiplier, filters)
    expected = int(np.prod(window)) * channels * multiplier + channels * multiplier * filters + use_bias * filters
    assert layer.count_params() == expected


def test_depthwise_numpy_reference():
    """Output channel `c * M + m` is input channel `c` cross-correlated with kernel[:, c, m]."""
    layer = DepthwiseConv1D(3, depth_multiplier=2, use_bias=False)
    x = random_input((1, 8, 3))
    y = layer(torch.from_numpy(x)).detach().cpu().numpy()
    kernel = layer.get_weights()[0]
    for c in range(3):
        for m in range(2):
            np.testing.assert_allclose(y[0, :, c * 2 + m], np.correlate(x[0, :, c], kernel[:, c, m], "valid"),
                                       rtol=1e-5, atol=1e-6)


def test_separable_is_depthwise_then_pointwise():
    x = torch.from_numpy(random_input((2, 8, 7, 3)))
    separable = SeparableConv2D(5, 3, strides=2, padding="same", depth_multiplier=2, bias_initializer="ones")
    y = separable(x).detach().cpu().numpy()
    depthwise_kernel, pointwise_kernel, bias = separable.get_weights()
    depthwise, pointwise = DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, use_bias=False), \
        Conv2D(5, 1)
    pointwise(depthwise(x))
    depthwise.set_weights([depthwise_kernel])
    pointwise.set_weights([pointwise_kernel, bias])
    np.testing.assert_allclose(y, pointwise(depthwise(x)).detach().cpu().numpy(), rtol=1e-5, atol=1e-5)
    # and the 1x1 step is a matrix product over channels
    middle = depthwise(x).detach().cpu().numpy()
    np.testing.assert_allclose(y, middle @ pointwise_kernel[0, 0] + bias, rtol=1e-5, atol=1e-5)


def test_parameter_savings_of_the_course():
    # 3x3 from 32 to 64 channels: 18,496 parameters as a Conv2D, 2,400 separable
    x = torch.zeros(1, 8, 8, 32)
    conv, separable = Conv2D(64, 3), SeparableConv2D(64, 3)
    conv(x), separable(x)
    assert (conv.count_params(), separable.count_params()) == (18496, 3 * 3 * 32 + 32 * 64 + 64)


def test_grouped_kernel_is_a_view():
    layer = DepthwiseConv2D(3, depth_multiplier=2)
    layer(torch.zeros(1, 5, 5, 4))
    kernel = layer._torch_kernel()
    assert tuple(kernel.shape) == (8, 1, 3, 3) and kernel.data_ptr() == layer.kernel.data_ptr()


# ------------------------------------------------------------------------------------------------ Keras 1 spelling
def test_keras1_separable_convolution2d(monkeypatch):
    monkeypatch.setattr(legacy, "_warned", set())
    monkeypatch.setattr(convolutional, "_warned_positional", set())
    with pytest.warns(DeprecationWarning) as record:
        old = SeparableConvolution2D(8, 3, 3, border_mode="same", init="he_normal", subsample=(2, 2),
                                     depth_multiplier=2, dim_ordering="th")
    assert all(w.filename == __file__ for w in record)
    assert any("spelling of SeparableConv2D(8, (3, 3))" in str(w.message) for w in record)
    new = SeparableConv2D(8, (3, 3), strides=2, padding="same", depth_multiplier=2, data_format="channels_first",
                          depthwise_initializer="he_normal", pointwise_initializer="he_normal")
    assert {k: v for k, v in old.get_config().items() if k != "name"} == \
        {k: v for k, v in new.get_config().items() if k != "name"}
    assert tuple(old(torch.zeros(1, 3, 9, 9)).shape) == (1, 8, 5, 5)
    assert SeparableConvolution1D is SeparableConv1D


# -------------------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("name, kwargs", [("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2)),
                                          ("SeparableConv1D", dict(filters=4, kernel_size=3, strides=2))])
def test_config_matches_keras(name, kwargs):
    ours, theirs = getattr(deepglass.layers, name)(**kwargs).get_config(), \
        getattr(keras.layers, name)(**kwargs).get_config()
    assert set(theirs) - set(ours) == {"activity_regularizer"}  # written by Keras only when set, as the base does
    for key in set(ours) & set(theirs) - {"name", "dtype"}:
        if not key.endswith("initializer"):
            assert ours[key] == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key]), key


def test_serialize_round_trip():
    layer = SeparableConv2D(4, 3, depth_multiplier=3, pointwise_regularizer="l2", activation="relu")
    clone = deepglass.layers.deserialize(deepglass.layers.serialize(layer))
    assert type(clone) is SeparableConv2D and clone.get_config() == layer.get_config()
    assert clone.pointwise_regularizer is not None and clone.depthwise_regularizer is None


def test_repr():
    assert repr(DepthwiseConv2D(3, depth_multiplier=2, name="dw")) == \
        "DepthwiseConv2D(name='dw', kernel_size=(3, 3), depth_multiplier=2)"
    assert repr(SeparableConv1D(8, 3, padding="same", name="sep")) == \
        "SeparableConv1D(name='sep', filters=8, kernel_size=(3,), padding='same')"


@pytest.mark.parametrize("cls, kwargs, match", [
    (DepthwiseConv2D, dict(kernel_size=3, depth_multiplier=0), "`depth_multiplier`, expected a positive integer"),
    (SeparableConv2D, dict(filters=None, kernel_size=3), "`filters`, expected a positive integer"),
    (DepthwiseConv1D, dict(kernel_size=3, padding="causal"), "Unknown padding"),
    (SeparableConv1D, dict(filters=2, kernel_size=3, strides=2, dilation_rate=2), "cannot be combined"),
])
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_window_larger_than_input():
    with pytest.raises(ValueError, match=r'DepthwiseConv2D "\w+" has a 5x5 kernel but its input \(1, 3, 8, 2\) is '
                                         r"only 3x8"):
        DepthwiseConv2D(5)(torch.zeros(1, 3, 8, 2))
