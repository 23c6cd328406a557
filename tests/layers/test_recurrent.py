"""SimpleRNN, LSTM, GRU, their cells, RNN and StackedRNNCells: outputs and states against Keras with the same weights
for every option and kind of mask, the fused kernels against the step loop (outputs and gradients), dropout masks
against a NumPy step loop, statefulness, configs, errors, and an LSTM that learns what a SimpleRNN cannot."""
import os
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells
from deepglass.layers import recurrent
from deepglass.layers.layer import checked_calls
from tests.layer_conformance import run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

X = np.random.default_rng(0).standard_normal((5, 7, 3)).astype("float32")
MASKS = {
    "right": np.arange(7) < np.array([7, 5, 3, 1, 6])[:, None],  # right padding (pad_sequences(padding="post"))
    "mixed": np.array([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 0, 0, 0], [0] * 7, [1] * 7], bool),
    "holes": np.array([[1, 0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 1, 0, 0], [0, 1, 0, 1, 0, 0, 1], [0] * 7, [1] * 7], bool),
}
RANDOM_BIAS = {"bias_initializer": "random_normal"}
OPTIONS = [
    {},
    {"return_sequences": True, "return_state": True},
    {"go_backwards": True, "return_sequences": True, "return_state": True},
    {"return_sequences": True, "zero_output_for_mask": True, "return_state": True},
    {"go_backwards": True, "return_sequences": True, "zero_output_for_mask": True},
    {"unroll": True, "return_sequences": True, "return_state": True},
    {"unroll": True, "go_backwards": True, "return_sequences": True},
    {"use_bias": False, "return_sequences": True},
]
CLASS_OPTIONS = {
    SimpleRNN: [{"activation": "relu", "return_sequences": True}, {"activation": "sigmoid", "return_state": True}],
    LSTM: [{"unit_forget_bias": False, "return_state": True},
           {"activation": "relu", "recurrent_activation": "hard_sigmoid", "return_sequences": True},
           {"use_cudnn": False, "go_backwards": True, "return_sequences": True}],
    GRU: [{"reset_after": False, "return_sequences": True, "return_state": True},
          {"reset_after": False, "go_backwards": True, "return_sequences": True},
          {"activation": "softsign", "return_sequences": True}],
}
CASES = [(cls, options) for cls in (SimpleRNN, LSTM, GRU) for options in OPTIONS + CLASS_OPTIONS[cls]]


def numpy_list(outputs):
    if isinstance(outputs, (list, tuple)):
        return [array for item in outputs for array in numpy_list(item)]
    return [keras.ops.convert_to_numpy(outputs) if not torch.is_tensor(outputs) else outputs.detach().cpu().numpy()]


def keras_twin(layer, **overrides):
    """The Keras layer of the same class and arguments, holding `layer`'s weights. `unroll` and `use_cudnn` only
    choose an implementation, so the twin leaves them out (Keras's unrolled loop cannot go backwards over a mask)."""
    config = {k: v for k, v in layer.get_config().items() if k not in ("unroll", "use_cudnn", "name")}
    twin = getattr(keras.layers, type(layer).__name__).from_config({**config, **overrides})
    twin(X[:1, :2])
    twin.set_weights(layer.get_weights())
    return twin


def assert_outputs_close(mine, theirs, atol=2e-6):
    mine, theirs = numpy_list(mine), numpy_list(theirs)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)


@pytest.mark.parametrize("mask", [None, "right", "mixed", "holes"])
@pytest.mark.parametrize("cls, options", CASES)
def test_matches_keras(cls, options, mask):
    layer = cls(4, **RANDOM_BIAS, **options)
    call = {} if mask is None else {"mask": MASKS[mask]}
    outputs = layer(torch.from_numpy(X), **{k: torch.from_numpy(v) for k, v in call.items()})
    assert_outputs_close(outputs, keras_twin(layer)(X, **call))


class Spy:
    """Wraps `recurrent.run_fused`, recording whether each call ran fused (a result) or fell back (None)."""

    def __init__(self, monkeypatch):
        self.results = []
        original = recurrent.run_fused
        monkeypatch.setattr(recurrent, "run_fused", lambda *a, **k: self.results.append(original(*a, **k)) or
                            self.results[-1])

    @property
    def fused(self):
        return [result is not None for result in self.results]


@pytest.mark.parametrize("cls, options, mask, fused", [
    (LSTM, {}, None, [True]),
    (LSTM, {}, "right", [True]),
    (LSTM, {"go_backwards": True}, "mixed", [True]),
    (LSTM, {}, "holes", [False]),
    (LSTM, {"unroll": True}, None, []),
    (LSTM, {"use_cudnn": False}, None, []),
    (LSTM, {"activation": "relu"}, None, []),
    (GRU, {}, "mixed", [True]),
    (GRU, {"reset_after": False}, None, []),
    (SimpleRNN, {"activation": "relu"}, "right", [True]),
    (SimpleRNN, {"activation": "sigmoid"}, None, []),
])
def test_fused_kernel_is_used_when_the_configuration_allows(monkeypatch, cls, options, mask, fused):
    spy = Spy(monkeypatch)
    layer = cls(4, **options)
    layer(torch.from_numpy(X), mask=None if mask is None else torch.from_numpy(MASKS[mask]))
    assert spy.fused == fused


def test_recurrent_dropout_in_training_takes_the_loop_but_inference_stays_fused(monkeypatch):
    spy = Spy(monkeypatch)
    layer = LSTM(4, dropout=0.2, recurrent_dropout=0.2)
    layer(torch.from_numpy(X), training=True)
    layer(torch.from_numpy(X), training=False)
    layer(torch.from_numpy(X))  # layers start in inference mode
    assert spy.fused == [True, True]


@pytest.mark.parametrize("mask", [None, "right", "mixed"])
@pytest.mark.parametrize("options", [{"return_sequences": True, "return_state": True},
                                     {"go_backwards": True, "return_sequences": True},
                                     {"zero_output_for_mask": True, "return_sequences": True, "go_backwards": True}])
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_fused_equals_loop_outputs_and_gradients(cls, options, mask):
    x = torch.from_numpy(X).requires_grad_()
    fused, loop = cls(4, **RANDOM_BIAS, **options), cls(4, unroll=True, **options)
    call = {} if mask is None else {"mask": torch.from_numpy(MASKS[mask])}
    fused(x, **call)
    loop(x, **call)
    loop.set_weights(fused.get_weights())
    results = []
    for layer in (fused, loop):
        layer.train()
        outputs = layer(x, **call)
        outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
        grads = torch.autograd.grad(sum((o ** 2).sum() for o in outputs), [x] + list(layer.parameters()))
        results.append([o.detach().cpu().numpy() for o in outputs] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls, n_states", [(SimpleRNN, 1), (LSTM, 2), (GRU, 1)])
@pytest.mark.parametrize("mask", [None, "mixed"])
def test_initial_state_matches_keras(cls, n_states, mask):
    states = [np.random.default_rng(i).standard_normal((5, 4)).astype("float32") for i in range(n_states)]
    layer = cls(4, return_sequences=True, return_state=True, **RANDOM_BIAS)
    call = {} if mask is None else {"mask": MASKS[mask]}
    outputs = layer(torch.from_numpy(X), initial_state=[torch.from_numpy(s) for s in states],
                    **{k: torch.from_numpy(v) for k, v in call.items()})
    assert_outputs_close(outputs, keras_twin(layer)(X, initial_state=states, **call))
    # the initial state matters: a fully masked sequence returns it unchanged
    if mask is not None:
        for state, given in zip(numpy_list(outputs)[1:], states):
            np.testing.assert_array_equal(state[3], given[3])


def test_cells_match_keras_and_run_inside_rnn():
    h, c = (np.random.default_rng(i).standard_normal((5, 4)).astype("float32") for i in (1, 2))
    for cls, states in [(SimpleRNNCell, [h]), (LSTMCell, [h, c]), (GRUCell, [h]), (GRUCell, h)]:
        cell = cls(4, **RANDOM_BIAS)
        given = [torch.from_numpy(s) for s in states] if isinstance(states, list) else torch.from_numpy(states)
        output, new_states = cell(torch.from_numpy(X[:, 0]), given)
        twin = getattr(keras.layers, cls.__name__)(4)
        twin.build((None, 3))
        twin.set_weights(cell.get_weights())
        their_output, their_states = twin(X[:, 0], states)
        assert isinstance(new_states, list) == isinstance(states, list)
        assert_outputs_close([output, new_states], [their_output, their_states])
        rnn = RNN(cls(4, **RANDOM_BIAS), return_sequences=True, return_state=True)
        rnn_outputs = rnn(torch.from_numpy(X), mask=torch.from_numpy(MASKS["holes"]))
        their_rnn = keras.layers.RNN(getattr(keras.layers, cls.__name__)(4), return_sequences=True,
                                     return_state=True)
        their_rnn(X)
        their_rnn.set_weights(rnn.get_weights())
        assert_outputs_close(rnn_outputs, their_rnn(X, mask=MASKS["holes"]))


def test_stacked_cells_match_keras():
    rnn = RNN([LSTMCell(4, **RANDOM_BIAS), GRUCell(3), SimpleRNNCell(2)], return_sequences=True, return_state=True)
    outputs = rnn(torch.from_numpy(X), mask=torch.from_numpy(MASKS["mixed"]))
    assert isinstance(rnn.cell, StackedRNNCells)
    assert [w.shape for w in rnn.get_weights()] == [(3, 16), (4, 16), (16,), (4, 9), (3, 9), (2, 9), (3, 2),
                                                    (2, 2), (2,)]
    twin = keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.GRUCell(3), keras.layers.SimpleRNNCell(2)],
                            return_sequences=True, return_state=True)
    twin(X)
    twin.set_weights(rnn.get_weights())
    theirs = twin(X, mask=MASKS["mixed"])
    assert [type(s) for s in outputs[1:]] == [list, list, list]
    assert_outputs_close(outputs, theirs)
    assert rnn.compute_output_shape((None, 7, 3)) == twin.compute_output_shape((None, 7, 3))
    clone = layers.deserialize(layers.serialize(rnn))
    clone(torch.from_numpy(X))
    clone.set_weights(rnn.get_weights())
    assert_outputs_close(clone(torch.from_numpy(X), mask=torch.from_numpy(MASKS["mixed"])), outputs)


class MinimalCell(deepglass.layers.Layer):
    """Keras's documented custom cell: `h = x @ kernel + h_prev @ recurrent_kernel`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.add_weight((input_shape[-1], self.units), "uniform", name="kernel", layout=(1, 0))
        self.add_weight((self.units, self.units), "uniform", name="recurrent_kernel")

    def call(self, inputs, states):
        output = torch.nn.functional.linear(inputs, self.kernel) + states[0] @ self.recurrent_kernel
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class KerasMinimalCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        output = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(states[0], self.recurrent_kernel)
        return output, [output]


def test_custom_cell_and_stack_match_keras():
    for cells, their_cells in [(MinimalCell(4), KerasMinimalCell(4)),
                               ([MinimalCell(4), MinimalCell(2)], [KerasMinimalCell(4), KerasMinimalCell(2)])]:
        rnn = RNN(cells, return_sequences=True, go_backwards=True)
        outputs = rnn(torch.from_numpy(X), mask=torch.from_numpy(MASKS["holes"]))
        twin = keras.layers.RNN(their_cells, return_sequences=True, go_backwards=True)
        twin(X)
        twin.set_weights(rnn.get_weights())
        assert_outputs_close(outputs, twin(X, mask=MASKS["holes"]), atol=1e-5)
    config = deepglass.saving.serialize_keras_object(RNN(MinimalCell(3)))
    clone = deepglass.saving.deserialize_keras_object(config, custom_objects={"MinimalCell": MinimalCell})
    assert isinstance(clone.cell, MinimalCell) and clone.cell.units == 3


def test_run_layer_test():
    run_layer_test(SimpleRNN, {"units": 4, **RANDOM_BIAS}, (3, 6, 5), expected_output_shape=(3, 4),
                   expected_num_params=5 * 4 + 4 * 4 + 4)
    run_layer_test(LSTM, {"units": 4, "return_sequences": True}, (3, 6, 5), expected_output_shape=(3, 6, 4),
                   expected_num_params=4 * (5 * 4 + 4 * 4 + 4), expected_num_trainable_weights=3)
    run_layer_test(GRU, {"units": 4, "go_backwards": True}, (3, 6, 5), expected_num_params=3 * (5 * 4 + 4 * 4 + 8))
    run_layer_test(GRU, {"units": 4, "reset_after": False}, (3, 6, 5), expected_num_params=3 * (5 * 4 + 4 * 4 + 4))
    # Keras's RNN takes a Keras cell, so the cells' own outputs are compared with Keras above.
    run_layer_test(RNN, {"cell": [LSTMCell(3), GRUCell(2)], "return_sequences": True}, (3, 6, 5),
                   expected_output_shape=(3, 6, 2), compare_keras=False)


def test_weights_are_keras_layouts_and_stored_for_torch():
    lstm = LSTM(4, unit_forget_bias=True)
    lstm(torch.from_numpy(X))
    kernel, recurrent_kernel, bias = lstm.get_weights()
    assert (kernel.shape, recurrent_kernel.shape, bias.shape) == ((3, 16), (4, 16), (16,))
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])  # i, f, c, o: forget is 1
    assert tuple(lstm.cell.kernel.shape) == (16, 3)  # torch's weight_ih layout, as the fused kernel takes it
    gru = GRU(4)
    gru(torch.from_numpy(X))
    assert [w.shape for w in gru.get_weights()] == [(3, 12), (4, 12), (2, 12)]
    torch_gru = torch.nn.GRU(3, 4, batch_first=True)
    with torch.no_grad():  # Keras's z, r, h gates are torch's r, z, n reordered
        for name, value in zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"],
                               gru._fused_kernel(False)[1]):
            getattr(torch_gru, name).copy_(value)
    np.testing.assert_allclose(torch_gru(torch.from_numpy(X))[1][0].detach().cpu().numpy(),
                               gru(torch.from_numpy(X)).detach().cpu().numpy(), atol=1e-6)


def test_configs_have_keras_keys_and_round_trip():
    for cls, extra in [(SimpleRNN, {"seed"}), (LSTM, set()), (GRU, set())]:
        layer = cls(4, dropout=0.1, seed=3, return_sequences=True)
        layer(torch.from_numpy(X))
        twin = getattr(keras.layers, cls.__name__)(4)
        assert set(layer.get_config()) == set(twin.get_config()) | extra
        clone = layers.deserialize(layers.serialize(layer))
        assert clone.get_config() == layer.get_config()
    for cls in (SimpleRNNCell, LSTMCell, GRUCell):
        assert set(cls(3).get_config()) == set(getattr(keras.layers, cls.__name__)(3).get_config())
    rnn = RNN(LSTMCell(3), stateful=True)
    assert set(rnn.get_config()) == set(keras.layers.RNN(keras.layers.LSTMCell(3)).get_config())
    assert rnn.get_config()["cell"]["class_name"] == "LSTMCell"


def test_keras_config_loads():
    twin = keras.layers.LSTM(5, go_backwards=True, recurrent_activation="hard_sigmoid", dropout=0.25)
    config = keras.saving.serialize_keras_object(twin)
    layer = deepglass.saving.deserialize_keras_object(config)
    assert (layer.units, layer.go_backwards, layer.dropout) == (5, True, 0.25)
    assert layer.recurrent_activation is deepglass.activations.hard_sigmoid


def test_stateful_carries_states_across_calls_and_resets():
    whole = LSTM(4, return_sequences=True, return_state=True, **RANDOM_BIAS)
    expected = numpy_list(whole(torch.from_numpy(X)))
    stateful = LSTM(4, return_sequences=True, return_state=True, stateful=True)
    stateful(torch.from_numpy(X[:, :3]))
    stateful.set_weights(whole.get_weights())
    stateful.reset_states()
    first = numpy_list(stateful(torch.from_numpy(X[:, :3])))
    second = numpy_list(stateful(torch.from_numpy(X[:, 3:])))
    np.testing.assert_allclose(np.concatenate([first[0], second[0]], 1), expected[0], atol=1e-6)
    np.testing.assert_allclose(second[1], expected[1], atol=1e-6)
    np.testing.assert_allclose(stateful.states[1].numpy(), expected[2], atol=1e-6)
    assert not stateful.states[0].requires_grad
    stateful.reset_state()
    assert all(float(s.abs().sum()) == 0 for s in stateful.states)
    np.testing.assert_allclose(numpy_list(stateful(torch.from_numpy(X[:, :3])))[0], first[0], atol=1e-6)
    stateful.reset_states([np.ones((5, 4)), np.zeros((5, 4))])
    assert float(stateful.states[0].sum()) == 20
    with pytest.raises(ValueError, match="batch of 2"):
        stateful(torch.from_numpy(X[:2]))
    assert stateful.count_params() == whole.count_params()  # states are not weights
    assert len(stateful.state_dict()) == 3


def test_stateful_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match="batch_size="):
        GRU(4, stateful=True)(deepglass.Input((7, 3)))
    output = GRU(4, stateful=True, return_sequences=True)(deepglass.Input((7, 3), batch_size=5))
    assert output.shape == (5, 7, 4)
    model = deepglass.Sequential([SimpleRNN(4, stateful=True, batch_input_shape=(5, 7, 3))])
    first = model(torch.from_numpy(X))
    assert not torch.allclose(model(torch.from_numpy(X)), first)  # the second batch starts from the first's states
    model.layers[0].reset_states()
    torch.testing.assert_close(model(torch.from_numpy(X)), first)
    # states stored by predict (under torch.inference_mode) can start a training batch
    model.compile("adam", "mse")
    model.predict(X, batch_size=5, verbose=0)
    history = model.fit(X, np.zeros((5, 4), "float32"), batch_size=5, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def numpy_reference(kind, x, weights, input_masks, recurrent_masks, reset_after=True):
    """Keras's implementation-1 step loop in NumPy: each gate has its own input and recurrent dropout mask."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    kernel, recurrent_kernel, bias = weights
    gates = {"simple": 1, "lstm": 4, "gru": 3}[kind]
    units = recurrent_kernel.shape[0]
    k, u = np.split(kernel, gates, 1), np.split(recurrent_kernel, gates, 1)
    input_bias, recurrent_bias = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))
    b, rb = np.split(input_bias, gates), np.split(recurrent_bias, gates)
    h, c = np.zeros((x.shape[0], units)), np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        xs = [(x[:, t] * input_masks[g]) @ k[g] + b[g] for g in range(gates)]
        hs = [h * recurrent_masks[g] for g in range(gates)]
        if kind == "simple":
            h = np.tanh(xs[0] + hs[0] @ u[0])
        elif kind == "lstm":
            i, f, o = (sigmoid(xs[g] + hs[g] @ u[g]) for g in (0, 1, 3))
            c = f * c + i * np.tanh(xs[2] + hs[2] @ u[2])
            h = o * np.tanh(c)
        else:
            z, r = (sigmoid(xs[g] + hs[g] @ u[g] + rb[g]) for g in (0, 1))
            candidate = xs[2] + (r * (hs[2] @ u[2] + rb[2]) if reset_after else (r * hs[2]) @ u[2])
            h = z * h + (1 - z) * np.tanh(candidate)
    return h


@pytest.mark.parametrize("cls, kind, options", [
    (SimpleRNN, "simple", {}), (LSTM, "lstm", {}), (GRU, "gru", {}), (GRU, "gru", {"reset_after": False}),
    (LSTM, "lstm", {"recurrent_dropout": 0.0, "implementation": 1}),
])
def test_dropout_masks_are_drawn_once_per_sequence(monkeypatch, cls, kind, options):
    options = {"dropout": 0.3, "recurrent_dropout": 0.4, **options}
    layer = cls(4, seed=7, **RANDOM_BIAS, **options)
    layer(torch.from_numpy(X))
    drawn = []
    original = type(layer.cell)._draw_mask
    monkeypatch.setattr(type(layer.cell), "_draw_mask",
                        lambda self, like, rate: drawn.append(original(self, like, rate)) or drawn[-1])
    output = layer(torch.from_numpy(X), training=True).detach().cpu().numpy()
    gates = layer.cell.gates if kind != "simple" else 1
    expected_draws = 1 + (options["recurrent_dropout"] > 0)
    assert len(drawn) == expected_draws  # once per sequence, not per step
    input_masks = drawn[0].numpy() if drawn[0].dim() == 3 else [drawn[0].numpy()] * gates
    recurrent_masks = (drawn[1].numpy() if drawn[1].dim() == 3 else [drawn[1].numpy()] * gates) \
        if len(drawn) > 1 else [np.ones((5, 4))] * gates
    for mask, rate in [(input_masks, 0.3), (recurrent_masks, options["recurrent_dropout"])]:
        values = np.unique(np.asarray(mask))
        assert np.all((values == 0) | np.isclose(values, 1 / (1 - rate))), values
    reference = numpy_reference(kind, X.astype(np.float64), [w.astype(np.float64) for w in layer.get_weights()],
                                input_masks, recurrent_masks, options.get("reset_after", True))
    np.testing.assert_allclose(output, reference, atol=1e-5)
    # outside training dropout does nothing; the same seed draws the same masks
    np.testing.assert_allclose(layer(torch.from_numpy(X)).detach().cpu().numpy(),
                               numpy_reference(kind, X, layer.get_weights(), [np.ones((5, 3))] * gates,
                                               [np.ones((5, 4))] * gates, options.get("reset_after", True)),
                               atol=1e-5)


def test_seeded_dropout_is_reproducible():
    def run():
        deepglass.config.set_random_seed(1)
        layer = LSTM(4, dropout=0.5, seed=3)
        return layer(torch.from_numpy(X), training=True)
    torch.testing.assert_close(run(), run())


def test_masks_travel_from_embedding_and_match_keras():
    ids = np.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 0, 0, 0], [0, 0, 0, 0, 0, 0], [4, 0, 2, 0, 1, 9]])
    model = deepglass.Sequential([deepglass.Input((6,), dtype="int64"), layers.Embedding(10, 4, mask_zero=True),
                                  LSTM(5, return_sequences=True, **RANDOM_BIAS), GRU(3, go_backwards=True)])
    twin = keras.Sequential([keras.Input((6,), dtype="int64"), keras.layers.Embedding(10, 4, mask_zero=True),
                             keras.layers.LSTM(5, return_sequences=True), keras.layers.GRU(3, go_backwards=True)])
    twin.set_weights(model.get_weights())
    assert_outputs_close(model(torch.from_numpy(ids)), twin(ids))
    sequences = LSTM(2, return_sequences=True)(layers.Embedding(10, 4, mask_zero=True)(torch.from_numpy(ids)))
    assert torch.equal(sequences._keras_mask, torch.from_numpy(ids != 0))
    last = LSTM(2)(layers.Embedding(10, 4, mask_zero=True)(torch.from_numpy(ids)))
    assert getattr(last, "_keras_mask", None) is None
    layer = LSTM(2, return_sequences=True, return_state=True)
    mask = torch.from_numpy(ids != 0)
    assert layer.compute_mask(None, mask)[0] is mask and layer.compute_mask(None, mask)[1:] == [None, None]


def test_imdb_style_model_matches_keras_and_trains():
    model = deepglass.Sequential([deepglass.Input((12,), dtype="int64"), layers.Embedding(50, 8),
                                  LSTM(6, dropout=0.2, recurrent_dropout=0.2), layers.Dense(1, activation="sigmoid")])
    twin = keras.Sequential([keras.Input((12,), dtype="int64"), keras.layers.Embedding(50, 8),
                             keras.layers.LSTM(6, dropout=0.2, recurrent_dropout=0.2),
                             keras.layers.Dense(1, activation="sigmoid")])
    twin.set_weights(model.get_weights())
    ids = np.random.default_rng(0).integers(0, 50, (16, 12))
    # atol: predict runs on a GPU where there is one, whose fused LSTM sums in another order.
    np.testing.assert_allclose(model.predict(ids, verbose=0), keras.ops.convert_to_numpy(twin(ids)), atol=5e-6)
    model.compile("adam", "binary_crossentropy")
    history = model.fit(ids, (ids[:, 0] > 25).astype("float32"), epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_symbolic_shapes():
    inputs = deepglass.Input((7, 3))
    output, h, c = LSTM(4, return_sequences=True, return_state=True)(inputs)
    assert (output.shape, h.shape, c.shape) == ((None, 7, 4), (None, 4), (None, 4))
    assert GRU(2)(inputs).shape == (None, 2)
    assert SimpleRNN(2, return_state=True).compute_output_shape((None, None, 3)) == ((None, 2), (None, 2))


def test_encoder_decoder_with_initial_state_matches_keras():
    def build(lib):
        encoder_inputs, decoder_inputs = lib.Input((7, 3)), lib.Input((4, 3))
        _, h, c = lib.layers.LSTM(5, return_state=True)(encoder_inputs)
        outputs = lib.layers.LSTM(5, return_sequences=True)(decoder_inputs, initial_state=[h, c])
        return lib.Model([encoder_inputs, decoder_inputs], outputs)
    model, twin = build(deepglass), build(keras)
    twin.set_weights(model.get_weights())
    decoder_x = X[:, :4]
    assert_outputs_close(model([torch.from_numpy(X), torch.from_numpy(decoder_x)]), twin([X, decoder_x]))


def test_float64_layers_run_fused():
    layer = LSTM(3, dtype="float64", return_sequences=True)
    output = layer(torch.from_numpy(X), mask=torch.from_numpy(MASKS["right"]))
    assert output.dtype == torch.float64
    loop = LSTM(3, dtype="float64", return_sequences=True, use_cudnn=False)
    loop(torch.from_numpy(X))
    loop.set_weights(layer.get_weights())
    torch.testing.assert_close(loop(torch.from_numpy(X), mask=torch.from_numpy(MASKS["right"])), output)


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\).*Reshape\(\(10, 1\)\).*Embedding"):
        LSTM(4)(torch.ones(32, 10))
    with pytest.raises(ValueError, match=r"Reshape\(\(10, 1\)\)"):
        deepglass.Sequential([deepglass.Input((10,)), GRU(4)])
    built = SimpleRNN(4)
    built(torch.ones(2, 10, 1))
    with pytest.raises(ValueError, match="timesteps, features"):
        built(torch.ones(2, 10))
    with checked_calls(), pytest.raises(ValueError, match="Reshape"):
        built(torch.ones(2, 10))
    with pytest.raises(ValueError, match="units=0"):
        LSTM(0)
    with pytest.raises(ValueError, match="use_cudnn='auto'"):
        LSTM(4, activation="relu", use_cudnn=True)(torch.from_numpy(X))
    with pytest.raises(ValueError, match="use_cudnn"):
        GRU(4, use_cudnn="yes")
    with pytest.raises(ValueError, match="state_size"):
        RNN(deepglass.layers.Dense(3))


def test_keras1_spellings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = LSTM(output_dim=4, inner_activation="hard_sigmoid", W_regularizer="l2", dropout_U=0.1,
                     input_dim=3, input_length=7)
    assert any("inner_activation" in str(w.message) for w in caught)
    assert (layer.units, layer.recurrent_dropout) == (4, 0.1)
    assert layer.recurrent_activation is deepglass.activations.hard_sigmoid
    assert layer.kernel_regularizer is not None
    model = deepglass.Sequential([layer])
    assert model(torch.from_numpy(X)).shape == (5, 4)
    assert model.layers[0].get_config()["batch_input_shape"] == [None, 7, 3]


def marked_value(n, seed, first_positions, length=30):
    """Sequences of (value, marker) pairs, values uniform in [-1, 1], one marked step among `first_positions`; the
    target is the marked value: the network must keep one number and ignore every other input after it."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, length, 2), "float32")
    x[:, :, 0] = rng.uniform(-1, 1, (n, length))
    position = rng.integers(0, first_positions, n)
    x[np.arange(n), position, 1] = 1
    return x, x[np.arange(n), position, 0][:, None]


def test_lstm_keeps_a_value_over_25_steps_where_simple_rnn_does_not():
    # Trained with the marker anywhere (short lags teach what to keep), tested with it in the first 5 of 30 steps.
    x, y = marked_value(300 * 64, 0, 30)
    x_test, y_test = marked_value(512, 1, 5)
    errors = {}
    for cls in (LSTM, SimpleRNN):
        deepglass.config.set_random_seed(0)
        model = deepglass.Sequential([deepglass.Input((30, 2)), cls(32), layers.Dense(1)])
        model.compile(deepglass.optimizers.Adam(0.01), "mse")
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
        errors[cls.__name__] = model.evaluate(x_test, y_test, verbose=0)
    baseline = float(np.var(y_test))  # the error of always predicting the mean
    assert errors["LSTM"] < 0.1 * baseline, errors
    assert errors["SimpleRNN"] > 0.5 * baseline, errors
