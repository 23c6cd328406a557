"""lr_find: the learning-rate range test follows its formulas, suggests a rate below the one where training
diverges, and leaves the model exactly as it found it."""
import importlib.util
import math

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.insight import LRFinderResult, lr_find

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")


def linear_regression(samples=64):
    """Full-batch least squares: the loss `mean((x w - y)^2)` has Hessian `H = 2 x^T x / n`, and gradient descent
    diverges for learning rates above `2 / max eigenvalue(H)`."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.3 * rng.standard_normal(samples)).astype("float32")
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1, use_bias=False)])
    model.compile(optimizer=deepglass.optimizers.SGD(0.01), loss="mse")
    hessian = 2 * x.astype(np.float64).T @ x / samples
    return model, x, y, 2 / np.linalg.eigvalsh(hessian).max()


def test_the_suggestion_lies_where_the_loss_falls_below_the_divergence_point():
    model, x, y, diverging = linear_regression()
    result = lr_find(model, x, y, start_lr=1e-4, end_lr=10, num_steps=100, batch_size=64)
    steps = len(result.lrs)
    assert steps < 100 and result.lrs[-1] > diverging  # it stopped, after passing the point of divergence
    assert result.raw_losses[-1] > 4 * min(result.losses)
    lowest = int(np.argmin(result.losses))
    assert result.min_loss_lr == result.lrs[lowest] and result.suggestion == result.min_loss_lr / 10
    suggestion = result.suggestion
    assert 1e-2 * diverging < suggestion < diverging
    index = int(np.searchsorted(result.lrs, suggestion))
    assert index < lowest and result.losses[index + 3] < result.losses[index - 3] < result.losses[0]  # falling
    assert result.lrs[len(result.lrs) // 10] <= result.steepest_lr < result.min_loss_lr


def test_rates_and_smoothed_losses_follow_their_formulas():
    model, x, y, _ = linear_regression()
    result = lr_find(model, x, y, start_lr=1e-5, end_lr=1e-2, num_steps=30, batch_size=16, smooth=0.9)
    expected = [1e-5 * (1e-2 / 1e-5) ** (i / 29) for i in range(30)]
    np.testing.assert_allclose(result.lrs, expected, rtol=1e-12)
    average, smoothed = 0.0, []
    for step, loss in enumerate(result.raw_losses):
        average = 0.9 * average + 0.1 * loss
        smoothed.append(average / (1 - 0.9 ** (step + 1)))
    np.testing.assert_allclose(result.losses, smoothed, rtol=1e-12)
    assert result.raw_losses[0] == pytest.approx(float(np.mean((model.predict(x, verbose=0)[:, 0] - y) ** 2)),
                                                 rel=0.5)  # one batch of 16 from the same starting weights


def trained_classifier():
    """A model with every kind of state: Adam moments, BatchNormalization statistics, dropout, a schedule."""
    deepglass.config.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    model = deepglass.Sequential([deepglass.Input((6,)), layers.Dense(16, activation="relu"),
                                  layers.BatchNormalization(), layers.Dropout(0.3),
                                  layers.Dense(2, activation="softmax", kernel_regularizer="l2")])
    schedule = deepglass.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.9)
    model.compile(optimizer=deepglass.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model, x, y, schedule


def state(model):
    weights = [value.clone() for value in model.state_dict().values()]
    optimizer = model.optimizer
    moments = [(k, v.clone()) for s in optimizer.torch_optimizer.state.values() for k, v in s.items()]
    return weights, moments, optimizer.iterations, optimizer.learning_rate


def assert_same_state(before, after):
    (weights, moments, iterations, rate), (weights_, moments_, iterations_, rate_) = before, after
    assert len(weights) == len(weights_) and all(torch.equal(a, b) for a, b in zip(weights, weights_))
    assert len(moments) == len(moments_) and all(k == k_ and torch.equal(v, v_)
                                                 for (k, v), (k_, v_) in zip(moments, moments_))
    assert (iterations, rate) == (iterations_, rate_)


def test_the_model_and_its_optimizer_are_restored_bit_for_bit():
    model, x, y, schedule = trained_classifier()
    twin, _, _, _ = trained_classifier()
    before, random_state = state(model), torch.get_rng_state()
    assert_same_state(before, state(twin))
    result = lr_find(model, x, y, start_lr=1e-4, end_lr=100, num_steps=40, batch_size=16)
    assert len(result.lrs) > 5 and max(result.raw_losses) > 2 * result.raw_losses[0]  # it did train, and hard
    assert_same_state(before, state(model))
    assert torch.equal(torch.get_rng_state(), random_state)  # shuffling and dropout drew from a copy
    assert model.optimizer._learning_rate is schedule and not model.training
    assert all(p.grad is None for p in model.parameters()) is all(p.grad is None for p in twin.parameters())
    # Training on afterwards gives exactly what the twin that never ran the test gets.
    for network in (model, twin):
        deepglass.config.set_random_seed(1)
        network.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_state(state(twin), state(model))


def test_an_optimizer_not_built_yet_is_left_unbuilt():
    model, x, y, _ = linear_regression()
    twin, _, _, _ = linear_regression()
    twin.set_weights(model.get_weights())
    lr_find(model, x, y, num_steps=20)
    assert not model.optimizer.built and model.optimizer.iterations == 0
    for network in (model, twin):
        deepglass.config.set_random_seed(1)
        network.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], twin.get_weights()[0])


def test_uncompiled_models_and_bad_arguments_are_explained():
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    x, y = np.zeros((8, 4), "float32"), np.zeros(8, "float32")
    with pytest.raises(RuntimeError, match=r"compile\(\) before lr_find\(\)"):
        lr_find(model, x, y)
    with pytest.raises(TypeError, match="compiled deepglass model"):
        lr_find(torch.nn.Linear(4, 1), x, y)
    model.compile(optimizer="sgd", loss="mse")
    for arguments, message in (({"start_lr": 1.0, "end_lr": 0.1}, "start_lr < end_lr"),
                               ({"num_steps": 1}, "num_steps"), ({"smooth": 1.0}, "smooth"),
                               ({"diverge": 1.0}, "diverge")):
        with pytest.raises(ValueError, match=message):
            lr_find(model, x, y, **arguments)


def test_config_round_trip_and_suggestion_edge_cases():
    result = LRFinderResult([1e-3, 1e-2, 1e-1, 1.0, 10.0], [2.0, 1.9, 1.2, 1.0, math.inf],
                            [2.0, 1.8, 0.5, 0.9, math.nan])
    config = result.get_config()
    assert config["losses"][-1] is None and config["raw_losses"][-1] is None
    again = LRFinderResult.from_config(config)
    assert again.lrs == result.lrs and again.losses[:4] == result.losses[:4] and math.isnan(again.losses[4])
    # np.gradient per decade: -0.1, -0.4, -0.45, -0.2 up to the lowest loss (at 1.0)
    assert result.steepest_lr == 1e-1 and result.min_loss_lr == 1.0 and result.suggestion == 0.1
    assert LRFinderResult([1e-3, 1e-2], [1.0, 0.5]).steepest_lr is None  # too few steps to tell
    assert LRFinderResult([1e-3, 1e-2], [math.nan, math.inf]).suggestion is None
    with pytest.raises(ValueError, match="one loss per learning rate"):
        LRFinderResult([1e-3], [1.0, 2.0])


@needs_matplotlib
def test_the_plot_marks_the_suggestion_on_a_log_axis(tmp_path):
    model, x, y, _ = linear_regression()
    result = lr_find(model, x, y, start_lr=1e-4, end_lr=10, num_steps=60, batch_size=64)
    path = tmp_path / "lr.png"
    figure = result.plot(str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    axis = figure.axes[0]
    assert axis.get_xscale() == "log" and axis.get_xlabel() == "learning rate (log scale)"
    lines = {line.get_label(): line for line in axis.get_lines()}
    np.testing.assert_allclose(lines["smoothed loss"].get_ydata(), result.losses)
    marker = axis.collections[0].get_offsets()[0]
    on_curve = np.interp(np.log10(result.suggestion), np.log10(result.lrs), result.losses)
    np.testing.assert_allclose(marker, [result.suggestion, on_curve])
    assert axis.collections[0].get_label() == f"suggestion {result.suggestion:.2g} (lowest loss / 10)"
    lowest = int(np.argmin(result.losses))
    np.testing.assert_allclose(axis.collections[1].get_offsets()[0], [result.lrs[lowest], result.losses[lowest]])


@pytest.mark.filterwarnings("ignore:The dtype policy computes in float16")  # emulated float16 on this CPU
def test_mixed_float16_scales_the_loss_and_sweeps_the_inner_optimizers_rate():
    """Under mixed_float16 the sweep drives the rate of the optimizer a LossScaleOptimizer wraps and scales the loss
    as fit does, so that it follows the float32 sweep to float16's precision (unscaled, every update would be divided
    by the scale); the optimizer, its loss scale included, is restored afterwards."""
    reference, x, y, diverging = linear_regression()
    deepglass.mixed_precision.set_global_policy("mixed_float16")
    try:
        model, _, _, _ = linear_regression()
    finally:
        deepglass.mixed_precision.set_global_policy("float32")
    model.set_weights(reference.get_weights())
    scaled = deepglass.optimizers.LossScaleOptimizer(deepglass.optimizers.SGD(0.01), initial_scale=256.0)
    model.compile(optimizer=scaled, loss="mse")
    arguments = {"start_lr": 1e-4, "end_lr": 10, "num_steps": 100, "batch_size": 64}
    expected, result = lr_find(reference, x, y, **arguments), lr_find(model, x, y, **arguments)
    stable = int(np.searchsorted(expected.lrs, diverging))  # past it, rounding errors grow at their own pace
    np.testing.assert_allclose(result.raw_losses[:stable], expected.raw_losses[:stable], rtol=5e-3)  # measured 1e-3
    assert diverging < result.lrs[-1] < 10 and 1e-2 * diverging < result.suggestion < diverging
    optimizer = model.optimizer
    assert not optimizer.built and optimizer.iterations == 0 and optimizer.learning_rate == 0.01
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before = [t.clone() for t in (*model.parameters(), optimizer.dynamic_scale, optimizer.step_counter)]
    iterations = optimizer.iterations
    lr_find(model, x, y, **arguments)  # it diverges: non-finite gradients lower the scale on the way
    after = [*model.parameters(), optimizer.dynamic_scale, optimizer.step_counter]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert optimizer.iterations == iterations and optimizer.inner_optimizer.learning_rate == 0.01
