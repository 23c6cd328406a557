"""Conv1DTranspose/2D/3D: outputs, shapes and parameter counts against Keras with the same weights, the output-size
arithmetic, the adjoint of the convolution, a worked example by hand, Keras 1/2 names, configs and bad arguments."""
import os
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass.layers import (
    Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3DTranspose, Convolution2DTranspose, Deconv2D,
    Deconvolution2D, Deconvolution3D, Input,
)
from deepglass.layers import conv_transpose, convolutional
from tests.layer_conformance import random_input, run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

BIAS = {"bias_initializer": "random_normal"}
CASES = [  # (class, arguments, input shape): both paddings, strides, output_padding, dilation, formats, odd sizes
    (Conv1DTranspose, dict(filters=4, kernel_size=3, **BIAS), (2, 7, 3)),
    (Conv1DTranspose, dict(filters=4, kernel_size=3, strides=2, padding="same", **BIAS), (2, 7, 3)),
    (Conv1DTranspose, dict(filters=4, kernel_size=4, strides=3, output_padding=2), (2, 5, 3)),
    (Conv1DTranspose, dict(filters=4, kernel_size=3, padding="same", dilation_rate=2), (2, 9, 3)),
    (Conv1DTranspose, dict(filters=4, kernel_size=2, strides=2, padding="same", output_padding=1,
                           data_format="channels_first"), (2, 3, 6)),
    (Conv2DTranspose, dict(filters=5, kernel_size=3, strides=2, padding="same", **BIAS), (2, 7, 7, 3)),
    (Conv2DTranspose, dict(filters=5, kernel_size=(3, 2), strides=(2, 3), **BIAS), (2, 5, 4, 3)),
    (Conv2DTranspose, dict(filters=5, kernel_size=1, strides=3, padding="same"), (2, 4, 5, 3)),
    (Conv2DTranspose, dict(filters=4, kernel_size=3, strides=2, padding="same", output_padding=0), (2, 7, 6, 3)),
    (Conv2DTranspose, dict(filters=4, kernel_size=4, strides=2, padding="same", output_padding=(1, 0),
                           activation="relu", **BIAS), (2, 5, 6, 3)),
    (Conv2DTranspose, dict(filters=4, kernel_size=3, dilation_rate=(2, 1), padding="same"), (2, 6, 7, 3)),
    (Conv2DTranspose, dict(filters=4, kernel_size=3, strides=2, data_format="channels_first", **BIAS),
     (2, 3, 5, 6)),
    (Conv2DTranspose, dict(filters=4, kernel_size=5, strides=2, padding="same", data_format="channels_first",
                           use_bias=False), (2, 3, 5, 5)),
    (Conv3DTranspose, dict(filters=3, kernel_size=3, strides=2, padding="same", **BIAS), (1, 3, 4, 5, 2)),
    (Conv3DTranspose, dict(filters=3, kernel_size=(2, 3, 1), strides=(1, 2, 2), output_padding=(0, 1, 1)),
     (1, 3, 4, 3, 2)),
    (Conv3DTranspose, dict(filters=3, kernel_size=2, dilation_rate=2, data_format="channels_first"),
     (1, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("cls, kwargs, shape", CASES)
def test_matches_keras(cls, kwargs, shape):
    layer = run_layer_test(cls, kwargs, shape, expected_num_trainable_weights=1 + kwargs.get("use_bias", True))
    rank = layer.rank
    kernel = kwargs["kernel_size"]
    kernel = (kernel,) * rank if isinstance(kernel, int) else kernel
    channels = shape[-1] if kwargs.get("data_format", "channels_last") == "channels_last" else shape[1]
    filters = kwargs["filters"]
    assert layer.count_params() == (int(np.prod(kernel)) * channels + kwargs.get("use_bias", True)) * filters
    assert layer.get_weights()[0].shape == tuple(kernel) + (filters, channels)  # Keras's (*k, out, in)
    assert tuple(layer.kernel.shape) == (channels, filters) + tuple(kernel)  # torch's (in, out, *k)


@pytest.mark.parametrize("kwargs, size, expected", [  # the course's arithmetic, with the closed forms
    (dict(kernel_size=3, strides=2, padding="same"), 7, 14),  # n * s
    (dict(kernel_size=3, strides=2), 7, 15),  # (n - 1) * s + k
    (dict(kernel_size=2, strides=2), 7, 14),  # (n - 1) * s + k: the "valid" 2x2 upsampling doubles exactly
    (dict(kernel_size=1, strides=3), 4, 12),  # (n - 1) * s + max(k, s)
    (dict(kernel_size=3, strides=2, padding="same", output_padding=0), 7, 13),  # (n - 1) * s + k % 2 + op
    (dict(kernel_size=3, strides=2, output_padding=1), 7, 16),  # (n - 1) * s + k + op
    (dict(kernel_size=3, dilation_rate=2), 5, 9),  # (n - 1) + dilated span
    (dict(kernel_size=4, strides=4, padding="same"), 7, 28),
])
def test_output_sizes(kwargs, size, expected):
    layer = Conv2DTranspose(2, **kwargs)
    assert tuple(layer(torch.zeros(1, size, size, 1)).shape) == (1, expected, expected, 2)
    assert layer.compute_output_shape((None, size, None, 1)) == (None, expected, None, 2)


def test_mnist_decoder_shapes():
    x = Input((7, 7, 64))
    y = Conv2DTranspose(32, 3, strides=2, padding="same")(x)
    y = Conv2DTranspose(1, 3, strides=2, padding="same")(y)
    assert y.shape == (None, 28, 28, 1)


@pytest.mark.parametrize("kwargs, size", [(dict(kernel_size=3, strides=2), 15), (dict(kernel_size=3, strides=2,
                                                                                      padding="same"), 14),
                                          (dict(kernel_size=4, strides=2, padding="same"), 14),
                                          (dict(kernel_size=3, dilation_rate=2, padding="same"), 9)])
def test_adjoint_of_the_convolution(kwargs, size):
    """<conv(x), z> = <x, conv_transpose(z)> with the same kernel: the transposed convolution is the convolution's
    gradient with respect to its input (what defines it)."""
    conv, transpose = Conv2D(3, use_bias=False, **kwargs), Conv2DTranspose(2, use_bias=False, **kwargs)
    x = torch.from_numpy(random_input((2, size, size, 2), seed=1))
    y = conv(x).detach()
    z = torch.from_numpy(random_input(tuple(y.shape), seed=2))
    transpose(z)
    transpose.set_weights(conv.get_weights())  # (*k, 2 in, 3 out) read as (*k, 2 filters, 3 in)
    back = transpose(z).detach()
    assert back.shape == x.shape
    np.testing.assert_allclose(float((y * z).sum()), float((x * back).sum()), rtol=1e-4)


def test_1d_by_hand():
    layer = Conv1DTranspose(1, 3, strides=2, use_bias=False)
    layer(torch.zeros(1, 2, 1))
    layer.set_weights([np.array([1.0, 10.0, 100.0]).reshape(3, 1, 1)])
    y = layer(torch.tensor([1.0, 2.0]).reshape(1, 2, 1)).detach().cpu().numpy().ravel()
    # each input scales the kernel into the window starting at 2 * i; overlapping windows add up
    np.testing.assert_allclose(y, [1.0, 10.0, 100.0 + 2.0, 20.0, 200.0])


def test_channels_last_data_reaches_torch_without_copies():
    layer = Conv2DTranspose(4, 3, strides=2, padding="same")
    x = torch.randn(2, 7, 6, 3)
    layer(x)
    seen, function = [], layer._conv
    layer._conv = lambda inputs, kernel, *args: seen.append((inputs, kernel)) or function(inputs, kernel, *args)
    layer(x)
    given, kernel = seen[0]
    assert given.data_ptr() == x.data_ptr() and given.is_contiguous(memory_format=torch.channels_last)
    assert kernel.is_contiguous(memory_format=torch.channels_last)


# --------------------------------------------------------------------------------------------- Keras 1/2 names
@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(conv_transpose, "_warned_names", set())
    monkeypatch.setattr(convolutional, "_warned_positional", set())


def test_keras1_deconvolution2d_honours_output_shape(fresh_warnings):
    x = torch.from_numpy(random_input((2, 7, 7, 4)))
    with pytest.warns(DeprecationWarning) as record:
        old = Deconvolution2D(3, 3, 3, (None, 13, 13, 3), subsample=(2, 2), border_mode="same")
    assert all(w.filename == __file__ for w in record)  # pointing at the caller, so they are shown
    assert "Deconvolution2D is the Keras 1/2 name of Conv2DTranspose; use Conv2DTranspose instead." in \
        [str(w.message) for w in record]
    new = Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=0)  # Keras's rule gives 13 here
    y = old(x)
    new(x)
    new.set_weights(old.get_weights())
    np.testing.assert_allclose(y.detach().cpu().numpy(), new(x).detach().cpu().numpy(), atol=1e-6)
    assert old.get_config()["output_shape"] == [None, 13, 13, 3]


@pytest.mark.parametrize("output_shape, padding, equivalent", [
    ((None, 14, 14, 2), "same", dict()),  # the default size
    ((None, 16, 15, 2), "valid", dict(output_padding=(1, 0))),
    ((None, None, 13, 2), "same", dict(output_padding=(1, 0))),  # None keeps Keras's size (14 = 6 * 2 + 1 + 1)
])
def test_deconvolution2d_output_shape_positions(fresh_warnings, output_shape, padding, equivalent):
    x = torch.from_numpy(random_input((1, 7, 7, 3)))
    with pytest.warns(DeprecationWarning):
        old = Deconvolution2D(2, (3, 3), strides=2, padding=padding, output_shape=output_shape)
    new = Conv2DTranspose(2, 3, strides=2, padding=padding, **equivalent)
    y = old(x)
    new(x)
    new.set_weights(old.get_weights())
    np.testing.assert_allclose(y.detach().cpu().numpy(), new(x).detach().cpu().numpy(), atol=1e-6)


def test_deconvolution2d_unreachable_output_shape(fresh_warnings):
    with pytest.warns(DeprecationWarning):
        layer = Deconvolution2D(2, 3, 3, output_shape=(None, 20, 14, 2), subsample=(2, 2), border_mode="same")
    with pytest.raises(ValueError, match=r"cannot make output_shape \(None, 20, 14, 2\) from input \(1, 7, 7, 1\): "
                                         r"with strides=\(2, 2\) and padding=\"same\" axis 1 can have 13 to 14"):
        layer(torch.zeros(1, 7, 7, 1))


def test_keras2_names(fresh_warnings):
    with pytest.warns(DeprecationWarning, match="Deconvolution3D is the Keras 1/2 name of Conv3DTranspose"):
        layer = Deconvolution3D(4, 2, strides=2)
    assert tuple(layer(torch.zeros(1, 3, 3, 3, 2)).shape) == (1, 6, 6, 6, 4)
    assert Deconv2D is Deconvolution2D and Convolution2DTranspose is Conv2DTranspose
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per name
        Deconvolution3D(4, 2)
    clone = deepglass.layers.deserialize(deepglass.layers.serialize(layer))
    assert type(clone) is Deconvolution3D and clone.get_config() == layer.get_config()


# -------------------------------------------------------------------------------------------------------- configs
def test_config_matches_keras():
    kwargs = dict(filters=8, kernel_size=(3, 2), strides=2, padding="same", output_padding=1, activation="relu")
    ours, theirs = Conv2DTranspose(**kwargs).get_config(), keras.layers.Conv2DTranspose(**kwargs).get_config()
    assert set(theirs) - set(ours) == {"activity_regularizer"}  # written by Keras only when set, as the base does
    for key in ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate",
                "activation", "use_bias"):
        assert ours[key] == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key]), key
    assert Conv1DTranspose(2, 3).get_config()["output_padding"] is None


def test_serialize_round_trip():
    layer = Conv3DTranspose(4, 2, strides=2, padding="same", output_padding=1, data_format="channels_first")
    clone = deepglass.layers.deserialize(deepglass.layers.serialize(layer))
    assert type(clone) is Conv3DTranspose and clone.get_config() == layer.get_config()


def test_repr():
    assert "output_padding=(1, 1)" in repr(Conv2DTranspose(8, 3, strides=2, output_padding=1))


@pytest.mark.parametrize("kwargs, match", [
    (dict(output_padding=2, strides=2), "`output_padding`, expected a non-negative integer"),
    (dict(output_padding=-1, strides=2), "output_padding"), (dict(output_padding=1), "output_padding"),
    (dict(padding="causal"), "Unknown padding"), (dict(strides=2, dilation_rate=2), "cannot be combined"),
    (dict(filters=0), "`filters`, expected a positive integer"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv1DTranspose(**{"filters": 2, "kernel_size": 3, **kwargs})


def test_missing_batch_axis():
    with pytest.raises(ValueError, match=r'Conv2DTranspose "conv2d_transpose\w*" expects 4-D input \(batch, height, '
                                         r"width, channels\); got shape \(7, 7, 1\): add a batch axis"):
        Conv2DTranspose(4, 3)(torch.zeros(7, 7, 1))


def test_tiny_inputs_are_fine():
    # unlike a convolution, a transposed convolution has an output for any input size
    assert tuple(Conv1D(1, 1)(Conv1DTranspose(2, 5)(torch.zeros(1, 1, 3))).shape) == (1, 5, 1)
