"""ConvLSTM1D/2D/3D: outputs and states against Keras with the same weights (padding, strides, dilation, layouts,
return options, masks, initial and stateful states), configs that Keras reads back, dropout in training, errors,
and Model.reset_states on a stateful model."""
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass.layers import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from tests.layer_conformance import run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)


def keras_twin(layer, **overrides):
    """The Keras layer built from `layer`'s config (so the config is read by Keras too)."""
    config = {**{k: v for k, v in layer.get_config().items() if k != "name"}, **overrides}
    twin = getattr(keras.layers, type(layer).__name__).from_config(config)
    return twin


def as_numpy(outputs):
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [o.detach().cpu().numpy() if torch.is_tensor(o) else keras.ops.convert_to_numpy(o) for o in outputs]


def check_against_keras(layer, x, atol=1e-5, **call_kwargs):
    ours = layer(torch.from_numpy(x), **{k: torch.as_tensor(v) if isinstance(v, np.ndarray) else
                                         [torch.from_numpy(s) for s in v] for k, v in call_kwargs.items()})
    twin = keras_twin(layer)
    twin(x, **call_kwargs)
    twin.set_weights(layer.get_weights())
    theirs = twin(x, **call_kwargs)
    ours, theirs = as_numpy(ours), as_numpy(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=atol)
    return ours


def randomised(layer, x):
    """`layer` built on `x` with a random bias (zeros and ones would hide a gate mix-up)."""
    layer(torch.from_numpy(x))
    weights = layer.get_weights()
    weights = [w + RNG.standard_normal(w.shape).astype("float32") * 0.3 for w in weights]
    layer.set_weights(weights)
    return layer


CASES = [
    (ConvLSTM1D, {"filters": 3, "kernel_size": 3}, (2, 4, 8, 2)),
    (ConvLSTM1D, {"filters": 3, "kernel_size": 2, "padding": "same", "strides": 2, "return_sequences": True},
     (2, 4, 7, 2)),
    (ConvLSTM1D, {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same", "return_state": True},
     (2, 3, 9, 2)),
    (ConvLSTM2D, {"filters": 2, "kernel_size": 3, "padding": "same", "return_sequences": True, "return_state": True},
     (2, 3, 5, 5, 2)),
    (ConvLSTM2D, {"filters": 2, "kernel_size": (3, 2), "strides": (2, 1), "go_backwards": True,
                  "return_sequences": True}, (2, 3, 7, 6, 1)),
    (ConvLSTM2D, {"filters": 2, "kernel_size": 3, "data_format": "channels_first", "padding": "same",
                  "return_state": True}, (2, 3, 2, 5, 4)),
    (ConvLSTM2D, {"filters": 2, "kernel_size": 2, "use_bias": False, "unit_forget_bias": False,
                  "activation": "relu", "recurrent_activation": "hard_sigmoid"}, (2, 3, 4, 4, 1)),
    (ConvLSTM3D, {"filters": 2, "kernel_size": 2, "padding": "same", "return_sequences": True}, (1, 3, 3, 4, 3, 1)),
    (ConvLSTM3D, {"filters": 2, "kernel_size": 3, "data_format": "channels_first", "strides": 2,
                  "return_state": True}, (1, 2, 1, 5, 5, 5)),
]


@pytest.mark.parametrize("cls, kwargs, shape", CASES)
def test_matches_keras(cls, kwargs, shape):
    x = RNG.standard_normal(shape).astype("float32")
    check_against_keras(randomised(cls(**kwargs), x), x)


def test_mask_and_initial_state_match_keras():
    x = RNG.standard_normal((3, 4, 6, 2)).astype("float32")
    layer = randomised(ConvLSTM1D(2, 3, padding="same", return_sequences=True, return_state=True), x)
    mask = np.array([[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 1]], bool)
    check_against_keras(layer, x, mask=mask)
    states = [RNG.standard_normal((3, 6, 2)).astype("float32") for _ in range(2)]
    check_against_keras(layer, x, initial_state=states)


@pytest.mark.parametrize("cls, kwargs, shape, out_shape, params", [
    (ConvLSTM1D, {"filters": 3, "kernel_size": 3}, (2, 4, 8, 2), (2, 6, 3), 3 * 2 * 12 + 3 * 3 * 12 + 12),
    (ConvLSTM2D, {"filters": 2, "kernel_size": 3, "padding": "same", "return_sequences": True}, (2, 3, 5, 5, 2),
     (2, 3, 5, 5, 2), 9 * 2 * 8 + 9 * 2 * 8 + 8),
    (ConvLSTM3D, {"filters": 2, "kernel_size": 2}, (1, 2, 3, 3, 3, 1), (1, 2, 2, 2, 2), 8 * 8 + 8 * 2 * 8 + 8),
])
def test_conformance(cls, kwargs, shape, out_shape, params):
    run_layer_test(cls, kwargs, shape, expected_output_shape=out_shape, expected_num_params=params,
                   expected_num_trainable_weights=3)


def test_weight_layouts_and_forget_bias():
    layer = ConvLSTM2D(4, (3, 2))
    layer(torch.zeros(1, 2, 5, 5, 3))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 3, 16) and recurrent.shape == (3, 2, 4, 16) and bias.shape == (16,)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])


def test_config_round_trip_is_json_and_keras_readable():
    layer = ConvLSTM2D(3, 3, strides=2, padding="same", dropout=0.1, recurrent_dropout=0.2, seed=3,
                       kernel_regularizer="l2", return_state=True)
    config = layer.get_config()
    import json
    assert json.loads(json.dumps(config)) == config
    assert ConvLSTM2D.from_config(config).get_config() == config
    theirs = keras.layers.ConvLSTM2D.from_config({k: v for k, v in config.items() if k != "name"})
    assert list(theirs.kernel_size) == [3, 3] and theirs.padding == "same" and theirs.recurrent_dropout == 0.2
    assert set(config) >= {k for k in theirs.get_config() if k not in ("dtype", "name")}


def test_dropout_only_in_training_and_masks_fixed_per_sequence():
    x = torch.from_numpy(RNG.standard_normal((4, 5, 6, 2)).astype("float32"))
    layer = ConvLSTM1D(2, 3, dropout=0.5, recurrent_dropout=0.5, seed=1, return_sequences=True)
    plain = ConvLSTM1D(2, 3, return_sequences=True)
    plain(x)
    layer(x)
    plain.set_weights(layer.get_weights())
    torch.testing.assert_close(layer(x), plain(x))  # inference: dropout off
    trained = layer(x, training=True)
    assert not torch.allclose(trained, plain(x))
    trained.sum().backward()
    assert all(w.grad is not None for w in layer.parameters())
    # The input masks are drawn once per sequence: a sequence of equal steps has, at each step, the same projection.
    cell = layer.cell
    cell.reset_dropout_mask()
    same = x[:, :1].expand(-1, 5, -1, -1)
    projected = cell.project(same, training=True)
    torch.testing.assert_close(projected, projected[:, :1].expand_as(projected))
    cell.reset_dropout_mask()


def test_stateful_carries_states_and_model_reset_states_zeroes_them():
    x = RNG.standard_normal((2, 3, 6, 1)).astype("float32")
    inputs = deepglass.Input((3, 6, 1), batch_size=2)
    layer = ConvLSTM1D(2, 3, padding="same", stateful=True)
    model = deepglass.Model(inputs, deepglass.layers.Flatten()(layer(inputs)))
    run = lambda: model(torch.from_numpy(x)).detach().cpu().numpy()  # noqa: E731
    first = run()
    second = run()
    assert not np.allclose(first, second)  # the second call starts from the first one's states
    twin = keras_twin(layer, stateful=False)
    twin(x)
    twin.set_weights(layer.get_weights())
    h = keras.ops.convert_to_numpy(twin(x))
    np.testing.assert_allclose(first, h.reshape(2, -1), atol=1e-5)
    model.reset_states()
    assert all(not s.any() for s in layer.states)
    np.testing.assert_allclose(run(), first, atol=1e-6)


def test_reset_states_leaves_stateless_layers_and_returns_none():
    model = deepglass.Sequential([deepglass.Input((3, 4, 1)), ConvLSTM1D(2, 3), deepglass.layers.Flatten(),
                                  deepglass.layers.Dense(2)])
    before = model.predict(np.ones((2, 3, 4, 1), "float32"), verbose=0)
    assert model.reset_states() is None
    np.testing.assert_allclose(model.predict(np.ones((2, 3, 4, 1), "float32"), verbose=0), before)


def test_errors():
    with pytest.raises(ValueError, match="filters"):
        ConvLSTM2D(0, 3)
    with pytest.raises(ValueError, match="dilation_rate"):
        ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding"):
        ConvLSTM1D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="5-D"):
        ConvLSTM2D(2, 3)(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="spans more than"):
        ConvLSTM1D(2, 5).compute_output_shape((2, 3, 4, 1))

