"""Bidirectional and TimeDistributed: outputs against Keras with the same weights (merge modes, masks, states,
backward layers, Dense and Conv2D inside), configs, saved models read by the other side, and errors."""
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.layers import GRU, LSTM, Bidirectional, Conv2D, Dense, SimpleRNN, TimeDistributed
from tests.layer_conformance import run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

X = np.random.default_rng(0).standard_normal((4, 6, 3)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [1] * 6], bool)


def numpy_list(outputs):
    if isinstance(outputs, (list, tuple)):
        return [array for item in outputs for array in numpy_list(item)]
    return [outputs.detach().cpu().numpy() if torch.is_tensor(outputs) else keras.ops.convert_to_numpy(outputs)]


def assert_same(mine, theirs, atol=2e-6):
    assert isinstance(mine, tuple) == isinstance(theirs, tuple)
    mine, theirs = numpy_list(mine), numpy_list(theirs)
    assert [a.shape for a in mine] == [b.shape for b in theirs]
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)


def twin_of(layer):
    """The Keras layer with the same config and weights."""
    twin = keras.saving.deserialize_keras_object(deepglass.saving.serialize_keras_object(layer))
    twin(X)
    twin.set_weights(layer.get_weights())
    return twin


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"return_sequences": True, "return_state": True},
                                     {"return_state": True}])
@pytest.mark.parametrize("mask", [None, MASK])
def test_bidirectional_matches_keras(merge_mode, options, mask):
    layer = Bidirectional(LSTM(4, bias_initializer="random_normal", **options), merge_mode=merge_mode)
    call = {} if mask is None else {"mask": mask}
    mine = layer(torch.from_numpy(X), **{k: torch.from_numpy(v) for k, v in call.items()})
    assert_same(mine, twin_of(layer)(X, **call))
    assert [w.shape for w in layer.get_weights()] == [(3, 16), (4, 16), (16,)] * 2  # forward's, then backward's
    expected = layer.compute_output_shape((4, 6, 3))
    shapes = [tuple(a.shape) for a in numpy_list(mine)]
    assert shapes == [tuple(s) for s in (expected if isinstance(expected[0], tuple) else [expected])]


@pytest.mark.parametrize("forward, backward", [
    (GRU(3, return_sequences=True), SimpleRNN(3, go_backwards=True, return_sequences=True)),
    (GRU(3, reset_after=False), LSTM(3, go_backwards=True)),
])
def test_bidirectional_with_a_backward_layer_matches_keras(forward, backward):
    layer = Bidirectional(forward, backward_layer=backward)
    mine = layer(torch.from_numpy(X), mask=torch.from_numpy(MASK))
    assert_same(mine, twin_of(layer)(X, mask=MASK))
    assert layer.backward_layer is backward and layer.forward_layer.name == f"forward_{forward.name}"
    assert Bidirectional(LSTM(2, use_cudnn=False)).backward_layer.use_cudnn is False


def test_bidirectional_initial_state_and_mask_output():
    layer = Bidirectional(GRU(4, return_sequences=True, return_state=True))
    states = [np.random.default_rng(i).standard_normal((4, 4)).astype("float32") for i in range(2)]
    mine = layer(torch.from_numpy(X), initial_state=[torch.from_numpy(s) for s in states])
    assert_same(mine, twin_of(layer)(X, initial_state=states))
    embedded = layers.Embedding(9, 3, mask_zero=True)(torch.tensor([[1, 2, 0], [3, 0, 0]]))
    output = Bidirectional(LSTM(2, return_sequences=True))(embedded)
    assert torch.equal(output._keras_mask, embedded._keras_mask)
    assert getattr(Bidirectional(LSTM(2))(embedded), "_keras_mask", None) is None


def test_bidirectional_run_layer_test_and_config():
    layer = run_layer_test(Bidirectional, {"layer": LSTM(3, return_sequences=True), "merge_mode": "sum"}, (2, 5, 4),
                           expected_output_shape=(2, 5, 3), expected_num_params=2 * 4 * (4 * 3 + 3 * 3 + 3),
                           compare_keras=False)  # Keras's Bidirectional wraps Keras layers: compared above
    config = layer.get_config()
    assert set(config) == {"name", "trainable", "dtype", "merge_mode", "layer", "backward_layer"}
    assert config["layer"]["config"]["name"] == "forward_lstm" and config["backward_layer"]["config"]["go_backwards"]
    assert config["layer"]["module"] == "keras.layers"  # so that Keras finds the nested layer


def test_bidirectional_weights_argument_and_stateful_reset():
    source = Bidirectional(SimpleRNN(2))
    source(torch.from_numpy(X))
    layer = Bidirectional(SimpleRNN(2), weights=source.get_weights())
    torch.testing.assert_close(layer(torch.from_numpy(X)), source(torch.from_numpy(X)))
    stateful = Bidirectional(LSTM(2, stateful=True))
    first = stateful(torch.from_numpy(X))
    assert len(stateful.states) == 4
    assert not torch.allclose(stateful(torch.from_numpy(X)), first)
    stateful.reset_states()
    torch.testing.assert_close(stateful(torch.from_numpy(X)), first)
    with pytest.raises(AttributeError, match="stateful=True"):
        source.reset_state()


def test_bidirectional_keras2_input_shapes():
    model = deepglass.Sequential([Bidirectional(LSTM(10, return_sequences=True), input_shape=(5, 3)),
                                  Bidirectional(GRU(4, input_shape=(5, 20)))])
    assert model.layers[0].output.shape == (None, 5, 20) and model.layers[1].output.shape == (None, 8)
    assert deepglass.Sequential([Bidirectional(SimpleRNN(2, input_shape=(5, 3)))]).layers[0].output.shape == (None, 4)


def test_bidirectional_errors():
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer instance"):
        Bidirectional(LSTM)
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True))


@pytest.mark.parametrize("inner, shape, expected", [
    (lambda: Dense(5, activation="relu", bias_initializer="random_normal"), (4, 6, 3), (4, 6, 5)),
    (lambda: Conv2D(4, 3, padding="same", bias_initializer="random_normal"), (2, 5, 8, 7, 3), (2, 5, 8, 7, 4)),
    (lambda: Conv2D(4, (2, 3), strides=2), (2, 3, 9, 9, 2), (2, 3, 4, 4, 4)),
])
def test_time_distributed_matches_keras(inner, shape, expected):
    x = np.random.default_rng(1).standard_normal(shape).astype("float32")
    layer = TimeDistributed(inner())
    mine = layer(torch.from_numpy(x))
    assert tuple(mine.shape) == expected == layer.compute_output_shape(shape)
    twin = keras.saving.deserialize_keras_object(deepglass.saving.serialize_keras_object(layer))
    twin(x)
    twin.set_weights(layer.get_weights())
    assert_same(mine, twin(x), atol=1e-5)
    run_layer_test(TimeDistributed, {"layer": inner()}, shape, expected_output_shape=expected, compare_keras=False)


def test_time_distributed_in_a_model_passes_masks_and_training():
    ids = torch.tensor([[1, 2, 0, 0], [3, 4, 5, 0]])
    embedded = layers.Embedding(9, 3, mask_zero=True)(ids)
    output = TimeDistributed(Dense(2))(embedded)
    assert torch.equal(output._keras_mask, ids != 0)
    dropout = TimeDistributed(layers.Dropout(0.5))
    x = torch.ones(2, 4, 8)
    assert torch.equal(dropout(x), x) and not torch.equal(dropout(x, training=True), x)
    model = deepglass.Sequential([deepglass.Input((4, 8)), TimeDistributed(Dense(3)), LSTM(2)])
    assert model(x).shape == (2, 2)
    assert model.layers[0].output.shape == (None, 4, 3)


def test_time_distributed_config_and_errors():
    layer = TimeDistributed(Dense(2, name="inner"))
    config = layer.get_config()
    assert config["layer"]["class_name"] == "Dense" and config["layer"]["config"]["name"] == "inner"
    clone = TimeDistributed.from_config(config)
    assert isinstance(clone.layer, Dense) and clone.layer.units == 2
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        TimeDistributed(Dense(2))(torch.ones(4, 3))
    with pytest.raises(ValueError, match="layer instance"):
        TimeDistributed(Dense)


def test_models_saved_by_either_side_load_in_the_other(tmp_path):
    def build(lib):
        return lib.Sequential([lib.Input((6, 3)), lib.layers.TimeDistributed(lib.layers.Dense(4)),
                               lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True)),
                               lib.layers.GRU(2)])
    model = build(deepglass)
    model.save(tmp_path / "mine.keras")
    theirs = keras.saving.load_model(tmp_path / "mine.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(X)), model(torch.from_numpy(X)).detach().cpu().numpy(),
                               atol=1e-6)
    twin = build(keras)
    twin.save(tmp_path / "theirs.keras")
    mine = deepglass.saving.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(mine(torch.from_numpy(X)).detach().cpu().numpy(), keras.ops.convert_to_numpy(twin(X)),
                               atol=1e-6)
