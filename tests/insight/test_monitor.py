"""Monitor: its statistics equal those computed by hand for the sampled steps, and its findings name the layers."""
import json

import numpy as np
import pytest
import torch

import deepglass
from deepglass import initializers, layers
from deepglass.callbacks import Callback
from deepglass.insight import MONITOR_FINDINGS, STATISTICS, Monitor, MonitorThresholds


def digits_like(n=256, features=16, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    return x, (x[:, :classes].argmax(1)).astype("int64")


def deep_mlp(activation, initializer, depth=20, width=32, features=16):
    hidden = [layers.Dense(width, activation=activation, kernel_initializer=initializer) for _ in range(depth - 1)]
    return deepglass.Sequential([deepglass.Input((features,))] + hidden + [layers.Dense(4, activation="softmax")])


def monitored_fit(model, monitor, epochs=1, batch_size=32, learning_rate=0.01, extra=()):
    x, y = digits_like()
    model.compile(optimizer=deepglass.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, callbacks=[monitor, *extra])
    return monitor


def test_a_deep_sigmoid_mlp_has_vanishing_gradients_and_relu_with_he_init_does_not():
    sigmoid = monitored_fit(deep_mlp("sigmoid", "glorot_uniform"), Monitor(every_n_steps=4))
    findings = sigmoid.findings()
    assert [f.name for f in findings] == ["vanishing_gradients"]
    history = sigmoid.history
    first, last = list(history["layers"])[0], list(history["layers"])[-1]
    first_norm = history["layers"][first]["grad_norm"][0]
    last_norm = history["layers"][last]["grad_norm"][0]
    assert first_norm < 1e-4 * last_norm  # orders of magnitude apart
    assert findings[0].layers[0] == first and last not in findings[0].layers
    relu = monitored_fit(deep_mlp("relu", "he_normal"), Monitor(every_n_steps=4))
    assert relu.findings() == []


class HandMeasure(Callback):
    """Keeps, for one step, the weights before it and the gradients and weights after it, read directly."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, -1

    def on_train_batch_begin(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            self.before = {n: p.detach().clone() for n, p in self.model.named_parameters()}

    def on_train_batch_end(self, batch, logs=None):
        if self.seen == self.step:
            self.grads = {n: p.grad.detach().clone() for n, p in self.model.named_parameters()}
            self.after = {n: p.detach().clone() for n, p in self.model.named_parameters()}


def test_recorded_norms_and_ratios_equal_those_computed_by_hand():
    model = deepglass.Sequential([deepglass.Input((16,)), layers.Dense(8, activation="relu", name="hidden"),
                                  layers.Dense(4, activation="softmax", name="out")])
    hand = HandMeasure(step=3)
    monitor = monitored_fit(model, Monitor(every_n_steps=3), extra=[hand])
    history = monitor.history
    assert history["steps"] == [0, 3, 6]
    for layer in ("hidden", "out"):
        names = [n for n in hand.grads if n.startswith(layer + ".")]
        grad = np.sqrt(sum((hand.grads[n].double() ** 2).sum().item() for n in names))
        weight = np.sqrt(sum((hand.after[n].double() ** 2).sum().item() for n in names))
        update = np.sqrt(sum(((hand.after[n] - hand.before[n]).double() ** 2).sum().item() for n in names))
        before = np.sqrt(sum((hand.before[n].double() ** 2).sum().item() for n in names))
        recorded = history["layers"][layer]
        assert recorded["grad_norm"][1] == pytest.approx(grad, rel=1e-5)
        assert recorded["weight_norm"][1] == pytest.approx(weight, rel=1e-5)
        assert recorded["update_ratio"][1] == pytest.approx(update / before, rel=1e-4)
        assert recorded["parameters"] == sum(hand.grads[n].numel() for n in names)


def test_activation_statistics_of_a_convolution_equal_numpy_on_the_first_batch():
    model = deepglass.Sequential([
        deepglass.Input((6, 6, 2)),
        layers.Conv2D(5, 3, activation="relu", name="conv", bias_initializer=initializers.Constant(-0.5)),
        layers.Flatten(), layers.Dense(3, activation="sigmoid", name="gate"), layers.Dense(2, activation="softmax")])
    kernel, bias = [w.copy() for w in model.get_layer("conv").get_weights()]
    x = np.random.default_rng(3).standard_normal((16, 6, 6, 2)).astype("float32")
    y = np.zeros(16, dtype="int64")
    monitor = Monitor(every_n_steps=100, thresholds=MonitorThresholds(saturation_margin=0.2))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[monitor])
    # The first sampled step sees the first batch with the initial weights: a valid 3x3 convolution by hand.
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (16, 4, 4, 2, 3, 3)
    output = np.maximum(np.einsum("nhwcij,ijco->nhwo", windows, kernel) + bias, 0)
    conv = monitor.history["layers"]["conv"]
    assert conv["kind"] == "relu" and conv["saturated_fraction"] == [None]
    assert conv["activation_mean"][0] == pytest.approx(output.mean(), rel=1e-4)
    assert conv["activation_std"][0] == pytest.approx(output.std(ddof=1), rel=1e-4)
    assert conv["dead_fraction"][0] == pytest.approx((output.max(axis=(0, 1, 2)) <= 0).mean())
    gate = monitor.history["layers"]["gate"]
    assert gate["kind"] == "sigmoid" and gate["dead_fraction"] == [None]
    assert 0 <= gate["saturated_fraction"][0] <= 1


def test_only_sampled_steps_are_recorded_and_no_hook_is_left_behind():
    model = deep_mlp("relu", "he_normal", depth=3)
    monitor = monitored_fit(model, Monitor(every_n_steps=5), epochs=2)  # 8 steps per epoch
    assert monitor.history["steps"] == [0, 5, 10, 15]
    for module in model.modules():
        assert not module._forward_hooks
    for param in model.parameters():
        assert not getattr(param, "_post_accumulate_grad_hooks", None)
    # A second fit goes on counting steps.
    model.fit(*digits_like(), epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
    assert monitor.history["steps"] == [0, 5, 10, 15, 20]


def test_history_is_plain_data_in_forward_order():
    model = deep_mlp("tanh", "glorot_uniform", depth=3)
    history = monitored_fit(model, Monitor(every_n_steps=4)).history
    assert list(history["layers"]) == [layer.name for layer in model.layers]
    assert json.loads(json.dumps(history)) == history
    for entry in history["layers"].values():
        assert set(STATISTICS) <= set(entry)
        assert entry["dead_fraction"] == [None, None]


def test_layers_can_be_chosen_by_name_or_object_and_unknown_names_are_refused():
    model = deep_mlp("relu", "he_normal", depth=3)
    chosen = Monitor(every_n_steps=4, layers=[model.layers[0].name, model.layers[2]])
    assert list(monitored_fit(model, chosen).history["layers"]) == [model.layers[0].name, model.layers[2].name]
    with pytest.raises(ValueError, match="Unknown layer: 'dens'"):
        monitored_fit(deep_mlp("relu", "he_normal", depth=3), Monitor(layers=["dens"]))


def test_dead_relu_layers_and_a_bad_initialisation_are_named():
    model = deepglass.Sequential([deepglass.Input((16,)),
                                  layers.Dense(16, activation="relu", name="ok"),
                                  layers.Dense(16, activation="relu", name="dead",
                                               bias_initializer=initializers.Constant(-100.0)),
                                  layers.Dense(4, activation="softmax")])
    findings = {f.name: f for f in monitored_fit(model, Monitor(every_n_steps=4)).findings()}
    assert findings["dead_layers"].layers == ["ok", "dead"]  # "ok" gets no gradient through "dead"
    assert findings["dead_layers"].evidence["largest_dead_fraction"] == 1.0
    assert findings["bad_initialisation"].layers == ["dead"]


def test_saturated_tanh_from_a_large_initialisation_is_a_bad_initialisation():
    model = deep_mlp("tanh", initializers.RandomNormal(stddev=1.0), depth=6)
    findings = monitored_fit(model, Monitor(every_n_steps=4)).findings()
    assert [f.name for f in findings] == ["bad_initialisation"]
    hidden = [layer.name for layer in model.layers[:-1]]
    # The first layer sees unit-variance inputs through unit-variance weights: 16 inputs give pre-activations of
    # std 4, saturated (|tanh| > 0.98, |z| > 2.3) more than half the time; deeper layers more still.
    assert findings[0].layers == hidden
    assert findings[0].evidence["saturated_layers"] == len(hidden)


def test_gradients_that_grow_toward_the_input_are_exploding():
    # tanh keeps each layer's output bounded while the backward pass multiplies by weights of std 1.5 over 32
    # units (norm about 8.5) at every one of 19 layers: the first layer's gradients dwarf the last's.
    model = deep_mlp("tanh", initializers.RandomNormal(stddev=1.5), depth=20)
    findings = {f.name: f for f in monitored_fit(model, Monitor(every_n_steps=4)).findings()}
    assert set(findings) == {"exploding_gradients", "bad_initialisation"}
    assert findings["exploding_gradients"].evidence["ratio"] > 1e3
    assert findings["exploding_gradients"].layers[0] == model.layers[0].name


def test_non_finite_gradients_are_exploding():
    model = deep_mlp("relu", "he_normal", depth=3)
    findings = monitored_fit(model, Monitor(every_n_steps=1), learning_rate=1e30).findings()
    assert findings[0].name == "exploding_gradients" and "non-finite" in findings[0].summary


def test_config_round_trip_and_argument_check():
    monitor = Monitor(every_n_steps=7, layers=["a"], thresholds=MonitorThresholds(dead=0.9))
    rebuilt = Monitor.from_config(json.loads(json.dumps(monitor.get_config())))
    assert rebuilt.every_n_steps == 7 and rebuilt.layers == ["a"] and rebuilt.thresholds.dead == 0.9
    with pytest.raises(ValueError, match="every_n_steps=0"):
        Monitor(every_n_steps=0)
    assert Monitor().findings() == [] and Monitor().history == {"steps": [], "layers": {}}
    assert set(MONITOR_FINDINGS) == {"exploding_gradients", "vanishing_gradients", "dead_layers",
                                     "bad_initialisation"}


def test_a_plain_torch_module_is_watched_too():
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    model = deepglass.Sequential([deepglass.Input((16,)), layers.TorchModuleWrapper(net),
                                  layers.Activation("softmax")])
    history = monitored_fit(model, Monitor(every_n_steps=4)).history
    kinds = {name: entry["kind"] for name, entry in history["layers"].items()}
    assert list(kinds.values()) == [None, "relu", None]


def test_a_float64_model_is_monitored_in_its_own_precision():
    model = deepglass.Sequential([deepglass.Input((16,)), layers.Dense(8, activation="relu", dtype="float64"),
                                  layers.Dense(4, activation="softmax", dtype="float64")])
    monitor = monitored_fit(model, Monitor(every_n_steps=2))
    norms = [value for entry in monitor.history["layers"].values() for value in entry["grad_norm"]]
    assert len(norms) == 2 * len(monitor.history["steps"]) and all(np.isfinite(norms)) and min(norms) > 0


class WithAnUnusedLayer(deepglass.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(8, activation="relu")
        self.unused = layers.Dense(8)  # built, never called: no output and no gradient
        self.out = layers.Dense(4, activation="softmax")

    def build(self, input_shape):
        self.unused.build(input_shape)

    def call(self, x):
        return self.out(self.hidden(x))


def test_a_layer_that_did_not_run_has_no_activation_statistics_and_a_zero_gradient():
    monitor = monitored_fit(WithAnUnusedLayer(), Monitor(every_n_steps=4))
    unused = monitor.history["layers"][next(name for name in monitor.history["layers"] if "dense_1" in name)]
    assert all(value == 0.0 for value in unused["grad_norm"]) and all(value == 0.0 for value in unused["update_ratio"])
    assert all(value > 0 for value in unused["weight_norm"])
    assert all(np.isnan(value) for value in unused["activation_mean"] + unused["activation_std"])
    used = monitor.history["layers"][next(name for name in monitor.history["layers"] if name.endswith("dense"))]
    assert all(value > 0 for value in used["grad_norm"]) and all(np.isfinite(used["activation_mean"]))
