"""Conv1D/2D/3D: outputs, shapes and parameter counts against Keras with the same weights, worked examples by hand,
gradients against torch.nn, channels-last memory, bad-input errors, Keras 1 spellings, configs."""
import os
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import constraints, regularizers
from deepglass.layers import Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D, Input, legacy
from deepglass.layers import convolutional
from deepglass.layers.layer import checked_calls
from tests.layer_conformance import run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RANDOM_BIAS = {"bias_initializer": "random_normal"}
CASES = [  # (class, arguments, input shape): every padding mode, strides, dilation, groups, both formats, odd sizes
    (Conv1D, dict(filters=4, kernel_size=3, **RANDOM_BIAS), (2, 11, 3)),
    (Conv1D, dict(filters=4, kernel_size=4, padding="same"), (2, 11, 3)),
    (Conv1D, dict(filters=4, kernel_size=3, strides=2, padding="same", **RANDOM_BIAS), (2, 11, 3)),
    (Conv1D, dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2), (2, 11, 3)),
    (Conv1D, dict(filters=4, kernel_size=2, padding="causal", strides=2), (2, 10, 3)),
    (Conv1D, dict(filters=6, kernel_size=2, groups=3, data_format="channels_first"), (2, 3, 9)),
    (Conv1D, dict(filters=4, kernel_size=3, strides=3, padding="same", data_format="channels_first"), (2, 3, 10)),
    (Conv2D, dict(filters=5, kernel_size=3, **RANDOM_BIAS), (2, 9, 7, 3)),
    (Conv2D, dict(filters=5, kernel_size=(2, 3), padding="same"), (2, 9, 7, 3)),
    (Conv2D, dict(filters=5, kernel_size=3, strides=2, padding="same", **RANDOM_BIAS), (2, 9, 8, 3)),
    (Conv2D, dict(filters=5, kernel_size=(3, 2), strides=(2, 3)), (2, 11, 10, 3)),
    (Conv2D, dict(filters=4, kernel_size=3, dilation_rate=2, padding="same"), (2, 9, 9, 3)),
    (Conv2D, dict(filters=4, kernel_size=2, dilation_rate=(1, 2), padding="same"), (2, 7, 8, 3)),
    (Conv2D, dict(filters=6, kernel_size=3, groups=2, activation="relu", **RANDOM_BIAS), (2, 7, 7, 4)),
    (Conv2D, dict(filters=4, kernel_size=3, strides=2, padding="same", data_format="channels_first"), (2, 3, 9, 8)),
    (Conv2D, dict(filters=4, kernel_size=2, padding="same", data_format="channels_first", use_bias=False),
     (2, 3, 7, 7)),
    (Conv3D, dict(filters=3, kernel_size=2, strides=2, padding="same", **RANDOM_BIAS), (1, 5, 6, 7, 2)),
    (Conv3D, dict(filters=4, kernel_size=(3, 2, 1), groups=2, dilation_rate=(1, 2, 1)), (1, 6, 5, 4, 2)),
    (Conv3D, dict(filters=3, kernel_size=3, padding="same", data_format="channels_first"), (1, 2, 5, 5, 5)),
]


@pytest.mark.parametrize("cls, kwargs, shape", CASES)
def test_matches_keras(cls, kwargs, shape):
    layer = run_layer_test(cls, kwargs, shape, expected_num_trainable_weights=1 + kwargs.get("use_bias", True))
    kernel = kwargs["kernel_size"]
    kernel = (kernel,) * layer.rank if isinstance(kernel, int) else kernel
    channels = shape[-1] if kwargs.get("data_format", "channels_last") == "channels_last" else shape[1]
    groups = kwargs.get("groups", 1)
    expected = (int(np.prod(kernel)) * channels // groups + kwargs.get("use_bias", True)) * kwargs["filters"]
    assert layer.count_params() == expected
    assert layer.get_weights()[0].shape == tuple(kernel) + (channels // groups, kwargs["filters"])
    assert tuple(layer.kernel.shape) == (kwargs["filters"], channels // groups) + tuple(kernel)  # torch's layout


def test_cross_correlation_1d_by_hand():
    layer = Conv1D(1, 2, use_bias=False)
    layer(torch.zeros(1, 4, 1))
    layer.set_weights([np.array([3.0, 2.0]).reshape(2, 1, 1)])
    y = layer(torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)).detach().cpu().numpy().ravel()
    # Keras slides the kernel without flipping it: 1*3 + 2*2 = 7, ...; a true convolution (np.convolve) flips it.
    np.testing.assert_allclose(y, [7.0, 12.0, 17.0])
    np.testing.assert_allclose(y, np.correlate([1, 2, 3, 4], [3, 2], "valid"))
    np.testing.assert_allclose(np.convolve([1, 2, 3, 4], [3, 2], "valid"), [8.0, 13.0, 18.0])


def test_cross_correlation_2d_by_hand():
    layer = Conv2D(1, 2, use_bias=False)
    layer(torch.zeros(1, 3, 3, 1))
    layer.set_weights([np.array([[3.0, 2.0], [5.0, 1.0]]).reshape(2, 2, 1, 1)])
    image = torch.tensor([[4.0, 6.0, 3.0], [8.0, 5.0, 1.0], [2.0, 4.0, 6.0]]).reshape(1, 3, 3, 1)
    np.testing.assert_allclose(layer(image).detach().cpu().numpy()[0, :, :, 0], [[69.0, 50.0], [48.0, 43.0]])


def test_output_sizes_of_strided_valid_convolutions():
    first, second = Conv2D(8, 3, strides=2), Conv2D(8, 3, strides=2)
    symbolic = second(first(Input((200, 200, 1))))
    assert first.compute_output_shape((None, 200, 200, 1)) == (None, 99, 99, 8)
    assert symbolic.shape == (None, 49, 49, 8)
    assert tuple(Conv1D(2, 3, strides=2)(torch.zeros(1, 200, 1)).shape) == (1, 99, 2)


def test_parameter_count_formula():
    layer = Conv2D(32, (5, 3))
    layer(torch.zeros(1, 8, 8, 3))
    assert layer.count_params() == (5 * 3 * 3 + 1) * 32


def test_unknown_spatial_sizes():
    layer = Conv2D(4, 3, strides=2, padding="same")
    assert layer(Input((None, None, 3))).shape == (None, None, None, 4)
    assert tuple(layer(torch.zeros(1, 9, 6, 3)).shape) == (1, 5, 3, 4)
    assert tuple(layer(torch.zeros(1, 4, 11, 3)).shape) == (1, 2, 6, 4)


def _recording(layer):
    """Wrap the torch function the layer calls, keeping the tensors it receives."""
    seen, function = [], layer._conv

    def record(x, kernel, *args):
        seen.append((x, kernel))
        return function(x, kernel, *args)
    layer._conv = record
    return seen


@pytest.mark.parametrize("cls, shape, memory_format", [(Conv1D, (2, 9, 3), torch.channels_last),
                                                       (Conv2D, (2, 9, 8, 3), torch.channels_last),
                                                       (Conv3D, (2, 5, 6, 4, 3), torch.channels_last_3d)])
def test_channels_last_data_reaches_torch_without_copies(cls, shape, memory_format):
    layer = cls(4, 3, padding="same")
    x = torch.randn(shape)
    layer(x)
    seen = _recording(layer)
    y = layer(x)
    given, kernel = seen[0]
    assert given.data_ptr() == x.data_ptr() and given.is_contiguous(memory_format=memory_format)
    assert kernel.is_contiguous(memory_format=memory_format)
    assert y.is_contiguous()  # torch's channels-last result, moved back to (batch, *spatial, filters) as a view
    # the stored kernel keeps its memory format through set_weights and an optimizer step
    layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(x).square().sum().backward()
    optimizer.step()
    assert layer(x).is_contiguous() and seen[-1][1].is_contiguous(memory_format=memory_format)


@pytest.mark.parametrize("kwargs, shape, pad", [  # pad: Keras's "same" amounts, worked out by hand (extra after)
    (dict(kernel_size=3, strides=2, padding="same"), (2, 8, 8, 3), (0, 1, 0, 1)),
    (dict(kernel_size=2, padding="same"), (2, 5, 6, 3), (0, 1, 0, 1)),
    (dict(kernel_size=2, padding="same", dilation_rate=2), (2, 6, 7, 3), (1, 1, 1, 1)),
])
def test_gradients_match_torch(kwargs, shape, pad):
    layer = Conv2D(4, **kwargs)
    x = torch.randn(shape)
    layer(x).square().sum().backward()
    reference = torch.nn.Conv2d(3, 4, kwargs["kernel_size"], kwargs.get("strides", 1), 0,
                                kwargs.get("dilation_rate", 1))
    kernel, bias = layer.get_weights()
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(kernel).permute(3, 2, 0, 1))
        reference.bias.copy_(torch.from_numpy(bias))
    reference(torch.nn.functional.pad(x.permute(0, 3, 1, 2), pad)).square().sum().backward()
    np.testing.assert_allclose(layer.kernel.grad.numpy(), reference.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.bias.grad.numpy(), reference.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------------------ bad input
def _fails_before_weights(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)
    assert not layer.built and not list(layer.parameters())


def test_missing_batch_axis():
    message = ('Conv2D "conv2d" expects 4-D input (batch, height, width, channels); got shape (28, 28, 1): add a '
               "batch axis or an Input((28, 28, 1)).")
    _fails_before_weights(Conv2D(8, 3), torch.zeros(28, 28, 1), message.replace("(", r"\(").replace(")", r"\)"))


def test_missing_channels_axis():
    with pytest.raises(ValueError, match=r"add a channels axis \(x\[\.\.\., None\] or a Reshape layer\) to get shape "
                                         r"\(None, 28, 28, 1\)"):
        Conv2D(8, 3)(Input((28, 28)))
    _fails_before_weights(Conv1D(8, 3, data_format="channels_first"), torch.zeros(16, 100),
                          r"expects 3-D input \(batch, channels, steps\).*x\[:, None\]")


def test_sample_whose_first_axis_was_taken_for_the_batch():
    with pytest.raises(ValueError, match=r"add a batch axis \(x\[None\] for a single sample\), or use Conv1D"):
        Conv2D(8, 3)(Input((28, 1)))


def test_wrong_family():
    _fails_before_weights(Conv2D(8, 3), torch.zeros(2, 4, 4, 4, 1), "use Conv3D for 3-D data")


@pytest.mark.parametrize("layer, shape, match", [
    (Conv2D(4, 5), (1, 3, 3, 2), r'5x5 kernel but its input \(1, 3, 3, 2\) is only 3x3, too small for '
                                 r'padding="valid": use padding="same"'),
    (Conv1D(4, 3, dilation_rate=3), (1, 6, 2), "3 kernel dilated to span 7"),
    (Conv2D(4, 3, groups=2), (1, 5, 5, 3), r"groups=2, but the input \(1, 5, 5, 3\) has 3 channels"),
])
def test_bad_input_at_build(layer, shape, match):
    _fails_before_weights(layer, torch.zeros(shape), match)


def test_kernel_fits_once_padded():
    assert tuple(Conv2D(4, 5, padding="same")(torch.zeros(1, 3, 3, 2)).shape) == (1, 3, 3, 4)
    assert tuple(Conv1D(4, 5, padding="causal")(torch.zeros(1, 2, 2)).shape) == (1, 2, 4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(filters=0, kernel_size=3), "filters"),
    (dict(filters=4, kernel_size=0), "kernel_size"),
    (dict(filters=4, kernel_size=(3, 3, 3)), "kernel_size"),
    (dict(filters=4, kernel_size=3, strides=0), "strides"),
    (dict(filters=4, kernel_size=3, strides=(1, -2)), "strides"),
    (dict(filters=4, kernel_size=3, dilation_rate=0), "dilation_rate"),
    (dict(filters=4, kernel_size=3, strides=2, dilation_rate=2), "strides > 1 cannot be combined"),
    (dict(filters=5, kernel_size=3, groups=2), "groups"),
    (dict(filters=4, kernel_size=3, padding="causal"), "Unknown padding: 'causal'"),
    (dict(filters=4, kernel_size=3, data_format="channel_last"), "Did you mean 'channels_last'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(**kwargs)


def test_checked_calls_name_the_fix():
    layer = Conv2D(4, 3)
    layer(torch.zeros(1, 8, 8, 3))
    with checked_calls():
        with pytest.raises(ValueError, match=r'Conv2D "conv2d" expects inputs with last axis 3, got shape '
                                             r'\(1, 3, 8, 8\); the input looks channels-first: pass '
                                             r'data_format="channels_first"'):
            layer(torch.zeros(1, 3, 8, 8))
        with pytest.raises(ValueError, match=r"expects 4-D input, got shape \(8, 8, 3\): add a batch axis"):
            layer(torch.zeros(8, 8, 3))


# --------------------------------------------------------------------------------------------- Keras 1 spellings
@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(legacy, "_warned", set())
    monkeypatch.setattr(convolutional, "_warned_positional", set())


def _config(layer):
    return {k: v for k, v in layer.get_config().items() if k != "name"}


def test_keras1_convolution2d(fresh_warnings):
    with pytest.warns(DeprecationWarning) as record:
        old = Convolution2D(32, 6, 6, border_mode="same", init="he_normal", W_regularizer=regularizers.L2(0.01),
                            W_constraint=constraints.MaxNorm(2.0), b_constraint=constraints.NonNeg(),
                            subsample=(2, 2), dim_ordering="th", bias=True)
    assert {str(w.message).split(":")[0] for w in record} >= {"Convolution2D"}
    assert all(w.filename == __file__ for w in record)  # the warnings point at the caller, so they are shown
    new = Conv2D(32, (6, 6), strides=(2, 2), padding="same", data_format="channels_first",
                 kernel_initializer="he_normal", kernel_regularizer=regularizers.L2(0.01),
                 kernel_constraint=constraints.MaxNorm(2.0), bias_constraint=constraints.NonNeg())
    assert _config(old) == _config(new)
    assert tuple(old(torch.zeros(1, 3, 12, 12)).shape) == (1, 32, 6, 6)


def test_keras1_keywords(fresh_warnings):
    with pytest.warns(DeprecationWarning):
        assert Convolution2D(nb_filter=8, nb_row=3, nb_col=2).kernel_size == (3, 2)
        assert Conv2D(nb_filter=8, nb_row=3, nb_col=2, bias=False).use_bias is False
        assert Convolution3D(4, 3, 2, 1, kernel_initializer="zeros").kernel_size == (3, 2, 1)
        layer = Convolution1D(nb_filter=4, filter_length=3, subsample_length=2, input_dim=5, input_length=10)
    assert (layer.filters, layer.kernel_size, layer.strides) == (4, (3,), (2,))
    assert layer._batch_input_shape == (None, 10, 5)


def test_keras1_warns_once(fresh_warnings):
    with pytest.warns(DeprecationWarning):
        Convolution2D(8, 3, 3, border_mode="same")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Convolution2D(8, 3, 3, border_mode="same")


def test_positional_order(fresh_warnings):
    assert Conv2D(8, 3, 2).strides == (2, 2)  # Keras 3: the third positional argument is strides
    with pytest.warns(DeprecationWarning):
        assert Convolution2D(8, 3, 2).kernel_size == (3, 2)  # Keras 1: nb_filter, nb_row, nb_col
    assert Convolution2D(8, (3, 3), (2, 2)).strides == (2, 2)
    with pytest.raises(TypeError, match="by keyword"):
        Convolution2D(8, 3, 3, "same")
    with pytest.raises(TypeError, match="nb_row, nb_col"), pytest.warns(DeprecationWarning):
        Conv2D(8, nb_row=3)


# -------------------------------------------------------------------------------------------------------- configs
def test_config_matches_keras():
    kwargs = dict(filters=8, kernel_size=(3, 2), strides=2, padding="same", activation="relu", groups=2)
    ours, theirs = Conv2D(**kwargs).get_config(), keras.layers.Conv2D(**kwargs).get_config()
    assert set(theirs) - set(ours) == {"activity_regularizer"}  # written by Keras only when set, as the base does
    for key in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                "activation", "use_bias"):
        assert ours[key] == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key]), key


def test_serialize_round_trip():
    layer = Conv3D(4, 2, padding="same", kernel_regularizer="l2", activation="tanh", data_format="channels_first")
    clone = deepglass.layers.deserialize(deepglass.layers.serialize(layer))
    assert type(clone) is Conv3D and clone.get_config() == layer.get_config()


def test_default_data_format_follows_config():
    deepglass.config.set_image_data_format("channels_first")
    try:
        assert Conv2D(4, 3).data_format == "channels_first"
    finally:
        deepglass.config.set_image_data_format("channels_last")
    assert Conv2D(4, 3).data_format == "channels_last"


def test_repr():
    text = repr(Conv2D(32, 3, strides=2, activation="relu"))
    assert "filters=32, kernel_size=(3, 3), strides=(2, 2)" in text and "activation='relu'" in text
