"""Activation layers against the conformance test (which compares with Keras where Keras has the layer), NumPy
formulas, Softmax masks, Maxout (not in Keras) against NumPy, legacy spellings and errors."""
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


@pytest.mark.parametrize("cls, kwargs", [
    (layers.ReLU, {}),
    (layers.ReLU, {"max_value": 0.5, "negative_slope": 0.1, "threshold": 0.2}),
    (layers.LeakyReLU, {}),
    (layers.LeakyReLU, {"negative_slope": 0.05}),
    (layers.ELU, {"alpha": 0.7}),
    (layers.Softmax, {}),
    (layers.Softmax, {"axis": 1}),
    (layers.Softmax, {"axis": [1, 2]}),
])
def test_weightless_activation_layers(cls, kwargs):
    run_layer_test(cls, kwargs, (2, 3, 4), expected_output_shape=(2, 3, 4), expected_num_params=0)


@pytest.mark.parametrize("kwargs, params", [
    ({"alpha_initializer": "random_normal"}, 12),  # one slope per input position: (3, 4)
    ({"alpha_initializer": "random_normal", "shared_axes": [1]}, 4),  # (1, 4)
    ({"alpha_initializer": "random_normal", "shared_axes": 2}, 3),  # (3, 1)
])
def test_prelu(kwargs, params):
    layer = run_layer_test(layers.PReLU, kwargs, (2, 3, 4), expected_output_shape=(2, 3, 4),
                           expected_num_params=params, expected_num_trainable_weights=1)
    x = random_input((2, 3, 4))
    alpha = layer.get_weights()[0]
    np.testing.assert_allclose(layer(x).detach().cpu().numpy(), np.where(x > 0, x, alpha * x), rtol=1e-6)


def test_prelu_per_channel_weights_match_keras_shape():
    ours, theirs = layers.PReLU(shared_axes=[1, 2]), keras.layers.PReLU(shared_axes=[1, 2])
    ours(deepglass.Input((8, 8, 16))), theirs(keras.Input((8, 8, 16)))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()] == [(1, 1, 16)]
    assert not ours.get_weights()[0].any()  # zeros: the layer starts as a ReLU


def test_prelu_regularizer_and_constraint():
    layer = layers.PReLU(alpha_initializer="ones", alpha_regularizer="l2", alpha_constraint="non_neg")
    layer(torch.ones(2, 3))
    torch.testing.assert_close(sum(layer.losses), torch.tensor(0.01 * 3))  # l2 default factor 0.01, alpha = 1
    with torch.no_grad():
        layer.alpha.fill_(-1.0)
    layer.apply_constraints()
    assert torch.all(layer.alpha == 0)


def test_prelu_unknown_unshared_axis_is_an_error():
    with pytest.raises(ValueError, match=r"known sizes.*\(None, None, 3\).*shared_axes"):
        layers.PReLU()(deepglass.Input((None, 3)))
    assert layers.PReLU(shared_axes=[1])(deepglass.Input((None, 3))).shape == (None, None, 3)


def test_relu_formula():
    x = np.array([-10.0, -5.0, 0.0, 0.5, 1.0, 5.0, 10.0], dtype="float32")
    result = layers.ReLU(max_value=6.0, negative_slope=0.5, threshold=1.0)(torch.from_numpy(x)).numpy()
    # at the threshold itself the unit is off (as Keras computes it): 1.0 gives 0.5 * (1.0 - 1.0) = 0
    expected = np.where(x >= 6.0, 6.0, np.where(x > 1.0, x, 0.5 * (x - 1.0)))
    np.testing.assert_allclose(result, expected)


def test_elu_and_leaky_relu_formulas():
    x = random_input((3, 5))
    np.testing.assert_allclose(layers.ELU(alpha=0.5)(x).numpy(), np.where(x > 0, x, 0.5 * np.expm1(x)), rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU()(x).numpy(), np.where(x >= 0, x, 0.3 * x), rtol=1e-6)


def test_leaky_relu_accepts_alpha_with_a_warning(monkeypatch):
    monkeypatch.setattr(legacy, "_warned", set())
    with pytest.warns(DeprecationWarning, match="negative_slope"):
        layer = layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and layer.get_config()["negative_slope"] == 0.1


@pytest.mark.parametrize("cls, kwargs, message", [
    (layers.ReLU, {"max_value": -1.0}, "max_value"),
    (layers.ReLU, {"negative_slope": -0.1}, "negative_slope"),
    (layers.ReLU, {"threshold": None}, "threshold"),
    (layers.LeakyReLU, {"negative_slope": -1}, "negative_slope"),
    (layers.Maxout, {"num_units": 0}, "num_units"),
    (layers.Maxout, {"num_units": 2, "axis": "last"}, "axis"),
])
def test_invalid_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=f"invalid value for `{message}`"):
        cls(**kwargs)


@pytest.mark.parametrize("mask_shape", [(2, 3, 5), (2, 1, 5), (5,)])
def test_softmax_mask_matches_keras(mask_shape):
    x = random_input((2, 3, 5))
    mask = np.random.default_rng(1).random(mask_shape) > 0.4
    ours = layers.Softmax()(torch.from_numpy(x), mask=torch.from_numpy(mask)).numpy()
    theirs = keras.ops.convert_to_numpy(keras.layers.Softmax()(x, mask=mask))
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    full = np.broadcast_to(mask, x.shape)
    assert np.all(ours[~full] == 0)
    rows = full.any(axis=-1)
    np.testing.assert_allclose(ours.sum(axis=-1)[rows], 1.0, rtol=1e-6)  # kept positions share all probability


def test_softmax_numeric_mask_and_shape_error():
    x = torch.tensor([[1.0, 2.0, 3.0]])
    result = layers.Softmax()(x, mask=torch.tensor([[1.0, 0.0, 1.0]]))
    e1, e3 = np.exp(1.0), np.exp(3.0)
    np.testing.assert_allclose(result.numpy(), [[e1 / (e1 + e3), 0.0, e3 / (e1 + e3)]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"broadcastable.*\(1, 3\).*\(1, 2\)"):
        layers.Softmax()(x, mask=torch.ones(1, 2, dtype=torch.bool))


def numpy_maxout(x, num_units, axis):
    axis = axis % x.ndim
    shape = x.shape[:axis] + (num_units, x.shape[axis] // num_units) + x.shape[axis + 1:]
    return x.reshape(shape).max(axis=axis + 1)


@pytest.mark.parametrize("kwargs, shape, out", [
    ({"num_units": 3}, (2, 12), (2, 3)),
    ({"num_units": 4, "axis": 1}, (2, 8, 5), (2, 4, 5)),
    ({"num_units": 2, "axis": -2}, (2, 3, 6, 2), (2, 3, 2, 2)),
    ({"num_units": 5}, (2, 5), (2, 5)),  # groups of one: the identity
])
def test_maxout(kwargs, shape, out):
    layer = run_layer_test(layers.Maxout, kwargs, shape, expected_output_shape=out, expected_num_params=0)
    x = random_input(shape)
    np.testing.assert_array_equal(layer(x).numpy(), numpy_maxout(x, kwargs["num_units"], kwargs.get("axis", -1)))


def test_maxout_worked_example_and_gradient():
    x = torch.tensor([[1.0, 4.0, 2.0, 0.0, -1.0, 3.0]], requires_grad=True)
    y = layers.Maxout(2)(x)
    assert y.tolist() == [[4.0, 3.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]]  # the gradient flows to each group's winner


def test_maxout_errors():
    with pytest.raises(ValueError, match=r"size 10 .*num_units=3.*not a multiple of 3.*\(None, 10\)"):
        layers.Maxout(3)(deepglass.Input((10,)))
    with pytest.raises(ValueError, match="batch axis"):
        layers.Maxout(2, axis=0)(torch.ones(4, 4))


def test_maxout_after_dense_trains_in_a_model():
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(12), layers.Maxout(3), layers.Dense(1)])
    assert model.output_shape == (None, 1)
    x = random_input((32, 4))
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, np.abs(x).sum(axis=1, keepdims=True), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_activation_layers_deserialize_by_name():
    for layer in [layers.ReLU(max_value=6.0), layers.LeakyReLU(0.2), layers.PReLU(shared_axes=[1]), layers.ELU(),
                  layers.Softmax(axis=[1, 2]), layers.Maxout(4)]:
        clone = layers.deserialize(layers.serialize(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
