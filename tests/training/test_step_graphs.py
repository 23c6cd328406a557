"""Training steps replayed from CUDA graphs (deepglass.training.step_graphs): the same training as eager steps."""
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.training import step_graphs

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


def _mlp(extra=(), seed=0):
    deepglass.utils.set_random_seed(seed)
    return deepglass.Sequential([
        layers.Input((20,)),
        layers.Dense(32, activation="relu", kernel_regularizer=deepglass.regularizers.L2(1e-3),
                     kernel_constraint=deepglass.constraints.MaxNorm(2.0)),
        layers.BatchNormalization(),
        *extra,
        layers.Dense(4, activation="softmax"),
    ])


def _data(count=1000, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 20)).astype("float32")
    return x, (x[:, :4].argmax(axis=1)).astype("int64")


def _twins(build, **compile_args):
    """The same model twice, with the same weights: one compiled with run_eagerly=True."""
    models = []
    for eager in (False, True):
        model = build()
        model.compile(run_eagerly=eager, **compile_args)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


class _StepLosses(deepglass.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def _fit_both(models, x, y, epochs=3, batch_size=128):
    results = []
    for model in models:
        deepglass.utils.set_random_seed(11)  # the same order of batches for both
        recorder = _StepLosses()
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[recorder])
        results.append((history.history, recorder.losses, [w.copy() for w in model.get_weights()]))
    return results


def _assert_same_training(graphed, eager):
    (history, losses, weights), (eager_history, eager_losses, eager_weights) = graphed, eager
    assert history.keys() == eager_history.keys()
    for name in history:
        np.testing.assert_allclose(history[name], eager_history[name], rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5, atol=1e-6)
    for w, e in zip(weights, eager_weights):
        np.testing.assert_allclose(w, e, rtol=1e-4, atol=1e-5)


@pytest.fixture
def on_the_cpu():
    deepglass.config.set_device("cpu")
    yield
    deepglass.config.set_device(None)


def test_graphs_are_for_cuda_alone(on_the_cpu):
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert step_graphs.for_model(model, torch.device("cpu")) is None
    model.fit(*_data(64), verbose=0)
    assert model._step_graphs is None


def test_run_eagerly_is_kept_and_saved():
    model = _mlp()
    model.compile(optimizer="adam", loss="mse", run_eagerly=True)
    assert model.run_eagerly is True
    assert model.get_compile_config()["run_eagerly"] is True
    model.run_eagerly = False
    assert model.get_compile_config()["run_eagerly"] is False


def test_a_copy_of_a_model_leaves_its_graphs_behind():
    model = _mlp()
    model.compile(optimizer="adam", loss="mse")
    model._step_graphs = step_graphs.StepGraphs(model, torch.device("cuda"))  # made, not recorded: no GPU needed
    assert copy.deepcopy(model)._step_graphs is None
    assert pickle.loads(pickle.dumps(model))._step_graphs is None
    assert isinstance(model._step_graphs, step_graphs.StepGraphs)


def test_a_step_with_hooks_set_is_not_replayed():
    model = _mlp()
    model.compile(optimizer="adam", loss="mse")
    graphs = step_graphs.StepGraphs(model, torch.device("cuda"))
    assert not graphs._hooks_set()
    for register in (lambda: model.layers[0].register_forward_hook(lambda *_: None),
                     lambda: model.layers[1].register_forward_pre_hook(lambda *_: None),
                     lambda: model.layers[0].kernel.register_post_accumulate_grad_hook(lambda _: None),
                     lambda: torch.nn.modules.module.register_module_forward_hook(lambda *_: None)):
        handle = register()
        assert graphs._hooks_set()
        handle.remove()
        assert not graphs._hooks_set()


class _FakeGraph:
    """Stands for a recorded graph, so that the bookkeeping around recording can be tested without a GPU."""

    def replay(self, x, y, sample_weight):
        return "replayed"


@pytest.fixture
def bookkeeping(monkeypatch):
    """StepGraphs of a built model, whose recordings make _FakeGraphs (counted in `recordings`)."""
    model = _mlp()
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_weights)
    graphs = step_graphs.StepGraphs(model, torch.device("cuda"))
    graphs.recordings = []
    monkeypatch.setattr(graphs, "_record", lambda x, *_: graphs.recordings.append(len(x)) or _FakeGraph())
    return model, graphs


def _steps(graphs, batch_sizes):
    return [graphs.run(torch.zeros(n, 20), torch.zeros(n, 4), None, {"training": True}) for n in batch_sizes]


def test_a_replay_gives_every_weight_its_own_gradient_back():
    weights = [torch.nn.Parameter(torch.zeros(2)) for _ in range(3)]
    weights[0].grad, weights[1].grad = torch.ones(2), torch.full((2,), 2.0)  # the third gets none from the step
    replayed = []
    graph = step_graphs._Graph(type("Recorded", (), {"replay": lambda self: replayed.append(1)})(),
                               [torch.zeros(1)], "outputs", weights)
    # Another model sharing the second weight, and an eager step of another kind, set other gradients since.
    weights[1].grad, weights[2].grad = torch.zeros(2), torch.zeros(2)
    assert graph.replay(torch.ones(1), None, None) == "outputs" and replayed == [1]
    assert weights[1].grad is graph.gradients[1] and weights[2].grad is None
    assert graph.inputs[0].item() == 1.0  # the batch copied in


def test_a_metric_class_of_the_user_keeps_steps_eager():
    class Kept(deepglass.metrics.MeanAbsoluteError):
        pass

    x, y = _data(64)
    for metrics, graphed in ((["mae"], True), ([Kept()], False)):
        model = _mlp()
        model.compile(optimizer="adam", loss="mse", metrics=metrics)
        model.fit(x, np.eye(4, dtype="float32")[y], verbose=0)  # builds the metrics
        assert isinstance(step_graphs.for_model(model, torch.device("cuda")), step_graphs.StepGraphs) is graphed


def test_a_failed_recording_puts_back_the_weights_and_buffers_it_replaced():
    model = _mlp()
    model(torch.zeros(2, 20))
    owned = step_graphs._owned_tensors(model)
    norm = model.layers[1]
    mean, kernel = norm.moving_mean, model.layers[0].kernel
    norm.moving_mean = norm.moving_mean + 1  # what a layer's call might do, once during a recording
    model.layers[0].kernel = torch.nn.Parameter(kernel.detach() * 2)
    step_graphs._put_back(owned)
    assert norm.moving_mean is mean and model.layers[0].kernel is kernel


def test_weights_replaced_by_new_tensors_drop_the_graphs(bookkeeping):
    model, graphs = bookkeeping
    graphs.start_fit()
    _steps(graphs, [32, 32, 32])
    assert graphs.graphs
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    model.load_state_dict(state, assign=True)
    graphs.start_fit()
    assert graphs.graphs == {} and graphs._tensors[0] is next(model.parameters())


def test_a_kind_of_batch_is_recorded_after_its_warm_up_steps(bookkeeping):
    _, graphs = bookkeeping
    assert _steps(graphs, [32, 32, 8, 32, 32, 8, 8, 32]) == [None, None, None, "replayed", "replayed", None,
                                                            "replayed", "replayed"]
    assert graphs.recordings == [32, 8]


def test_a_state_that_changes_at_every_step_is_never_recorded(bookkeeping):
    model, graphs = bookkeeping
    for step in range(6):
        model.layers[0].trainable = step % 2 == 0  # as a GAN's loop freezes and unfreezes its discriminator
        assert _steps(graphs, [32]) == [None]
    assert graphs.recordings == []
    _steps(graphs, [32, 32, 32])  # three steps in one state: recorded at the third
    assert graphs.recordings == [32]
    model.layers[0].trainable = True
    assert _steps(graphs, [32]) == [None] and graphs.graphs == {}  # dropped: the state changed


def test_a_third_kind_waits_for_a_graph_the_current_fit_has_not_replayed(bookkeeping):
    _, graphs = bookkeeping
    graphs.start_fit()
    _steps(graphs, [32, 32, 32, 8, 8, 8, 16, 16, 16, 16])
    assert graphs.recordings == [32, 8]  # no room for batches of 16 while this fit replays the other two
    graphs.start_fit()
    assert _steps(graphs, [16]) == ["replayed"] and graphs.recordings == [32, 8, 16]
    assert list(graphs.graphs) == [step_graphs._kind(torch.zeros(16, 20), torch.zeros(16, 4), None,
                                                     {"training": True})]


def test_a_kind_of_batch_is_its_nesting_shapes_and_dtypes():
    x, y = torch.zeros(8, 3), torch.zeros(8, dtype=torch.int64)
    kind = step_graphs._kind(x, y, None, {"training": True})
    assert kind == step_graphs._kind(torch.ones(8, 3), y, None, {"training": True})
    assert kind != step_graphs._kind(torch.zeros(7, 3), y[:7], None, {"training": True})
    assert kind != step_graphs._kind(x, y.float(), None, {"training": True})
    assert kind != step_graphs._kind({"a": x}, y, None, {"training": True})
    assert kind != step_graphs._kind(x, y, torch.ones(8), {"training": True})
    assert step_graphs._kind([x, 3], y, None, {}) is None


@needs_gpu
def test_graphed_training_equals_eager_training():
    """Regularizer, constraint, batch norm's moving averages, an epoch's smaller last batch and per-batch logs."""
    models = _twins(_mlp, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    graphed, eager = _fit_both(models, *_data())
    assert len(models[0]._step_graphs.graphs) == 2  # full batches from the first epoch, the last batch's from the 3rd
    assert models[1]._step_graphs is None
    _assert_same_training(graphed, eager)


@needs_gpu
def test_an_lstm_trains_from_a_graph_as_eagerly():
    def build():
        deepglass.utils.set_random_seed(3)
        return deepglass.Sequential([layers.Input((12, 6)), layers.LSTM(16), layers.Dense(1)])
    rng = np.random.default_rng(4)
    x = rng.normal(size=(256, 12, 6)).astype("float32")
    models = _twins(build, optimizer=deepglass.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    graphed, eager = _fit_both(models, x, x[:, -1, :1], epochs=2, batch_size=32)
    assert models[0]._step_graphs.graphs and models[0]._step_graphs.failure is None
    _assert_same_training(graphed, eager)


@needs_gpu
def test_dropout_draws_a_new_mask_at_each_replay():
    model = _mlp([layers.Dropout(0.5)])
    model.compile(optimizer=deepglass.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    x, y = _data(64)
    losses = [model.train_on_batch(x, y) for _ in range(8)]
    assert model._step_graphs.graphs
    replayed = losses[step_graphs.WARM_UP_STEPS:]
    assert len(set(replayed)) == len(replayed)  # the weights do not change: only the masks do


@needs_gpu
def test_a_seeded_layer_trains_eagerly():
    model = _mlp([layers.Dropout(0.5, seed=7)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(*_data(256), epochs=2, verbose=0)
    assert model._step_graphs is None


class _ReadsTheHost(layers.Layer):
    def call(self, inputs):
        return inputs * float(inputs.abs().max() > 0)  # a host read: no graph can hold it


@needs_gpu
def test_a_step_that_reads_the_host_trains_eagerly_with_the_same_results():
    models = _twins(lambda: _mlp([_ReadsTheHost()]), optimizer="adam", loss="sparse_categorical_crossentropy")
    graphed, eager = _fit_both(models, *_data(512))
    assert models[0]._step_graphs.failure is not None and not models[0]._step_graphs.graphs
    _assert_same_training(graphed, eager)
    torch.randperm(10, device="cuda")  # the failed recording left torch's random generator usable


@needs_gpu
def test_freezing_a_layer_records_the_step_again():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data(512)
    model.fit(x, y, epochs=2, verbose=0)
    first = model.layers[0]
    first.trainable = False
    frozen = [w.copy() for w in first.get_weights()]
    others = [w.copy() for w in model.layers[-1].get_weights()]
    model.fit(x, y, epochs=2, verbose=0)
    for before, after in zip(frozen, first.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(before, after) for before, after in zip(others, model.layers[-1].get_weights()))
    assert model._step_graphs.graphs


@needs_gpu
def test_the_monitor_samples_its_steps_eagerly_between_replayed_ones():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    monitor = deepglass.insight.Monitor(every_n_steps=3)
    model.fit(*_data(512), epochs=2, batch_size=64, verbose=0, callbacks=[monitor])  # 8 steps per epoch
    assert model._step_graphs.graphs
    history = monitor.history
    assert history["steps"] == [0, 3, 6, 9, 12, 15]
    first = history["layers"][model.layers[0].name]
    assert all(norm is not None and norm > 0 for norm in first["grad_norm"])


@needs_gpu
def test_a_new_batch_size_gets_a_graph_in_a_later_fit():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data(500)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)  # 7 batches of 64 and one of 52: two graphs
    assert len(model._step_graphs.graphs) == 2
    model.fit(x, y, epochs=1, batch_size=100, verbose=0)
    [(shapes, _)] = model._step_graphs.graphs.items()
    assert shapes[0][1][0][0] == 100  # x's batch axis


class _RecordingStandIn:
    """torch.cuda's recording calls, standing in on the CPU: the step runs eagerly inside a do-nothing context."""

    def __init__(self, monkeypatch):
        import contextlib
        monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: None)
        monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
        monkeypatch.setattr(torch.cuda, "graph", lambda *args, **kwargs: contextlib.nullcontext())
        monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: type("Graph", (), {"pool": lambda self: "pool"})())


def test_a_recording_keeps_its_outputs_without_their_autograd_history(monkeypatch, on_the_cpu):
    """Else they would keep the recorded backward graph, and the weights' gradient accumulators, alive."""
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data(32)
    model.fit(x, y, verbose=0)  # on the CPU, eagerly: what fit prepares before a first recording
    _RecordingStandIn(monkeypatch)
    graphs = step_graphs.StepGraphs(model, torch.device("cpu"))
    graph = graphs._record(torch.from_numpy(x), torch.from_numpy(y), None, {"training": True})
    assert graph is not None, graphs.failure
    loss, parts, targets, outputs = graph.outputs
    assert all(not t.requires_grad for t in step_graphs.tree.flatten((loss, parts, targets, outputs)))
    assert all(w.grad is not None for w in model.trainable_weights)  # the step's backward pass ran


@needs_gpu
def test_an_eager_backward_pass_after_replayed_steps_meets_no_stream_mismatch():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data(512)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert model._step_graphs.graphs
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when a gradient accumulator belongs to another stream
        model(torch.from_numpy(x[:8]).cuda()).sum().backward()
