"""Pictures of a Monitor: what they draw equals the Monitor's records; without matplotlib they say what to install."""
import statistics
import sys

import numpy as np
import pytest

import deepglass
from deepglass import layers
from deepglass.insight import Monitor, plot_activation_stats, plot_gradient_flow

matplotlib = pytest.importorskip("matplotlib")


@pytest.fixture
def monitor():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = deepglass.Sequential([deepglass.Input((8,)), layers.Dense(16, activation="relu", name="first"),
                                  layers.Dense(16, activation="tanh", name="second"),
                                  layers.Dense(2, activation="softmax", name="out")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    watcher = Monitor(every_n_steps=2)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[watcher])
    return watcher


def test_gradient_flow_draws_the_recorded_norms_per_layer(monitor, tmp_path):
    path = tmp_path / "flow.png"
    figure = plot_gradient_flow(monitor, str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    grad_axis, ratio_axis = figure.axes
    assert grad_axis.get_title() == "Gradient norm per layer" and grad_axis.get_yscale() == "log"
    assert [label.get_text() for label in grad_axis.get_xticklabels()] == ["first", "second", "out"]
    layers_ = monitor.history["layers"]
    lines = {line.get_label(): list(line.get_ydata()) for line in grad_axis.get_lines()}
    assert lines["median"] == pytest.approx([statistics.median(layers_[n]["grad_norm"]) for n in layers_])
    assert lines["step 0"] == pytest.approx([layers_[n]["grad_norm"][0] for n in layers_])
    ratios = {line.get_label(): list(line.get_ydata()) for line in ratio_axis.get_lines()}
    assert ratios["median"] == pytest.approx([statistics.median(layers_[n]["update_ratio"]) for n in layers_])
    assert ratio_axis.get_legend() is not None and figure.texts[0].get_text().startswith("Gradient flow (3 sampled")


def test_activation_stats_draw_first_and_last_samples(monitor):
    figure = plot_activation_stats(monitor)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["Output mean", "Output standard deviation", "Dead ReLU units", "Saturated outputs"]
    history = monitor.history
    std_lines = {line.get_label(): list(line.get_ydata()) for line in figure.axes[1].get_lines()}
    last = history["steps"][-1]
    assert std_lines[f"step {last}"] == pytest.approx([history["layers"][n]["activation_std"][-1]
                                                       for n in history["layers"]])
    dead = {line.get_label(): list(line.get_ydata()) for line in figure.axes[2].get_lines()}["step 0"]
    assert dead[0] == pytest.approx(history["layers"]["first"]["dead_fraction"][0])
    assert np.isnan(dead[1]) and np.isnan(dead[2])  # not a ReLU layer: nothing drawn


def test_plots_refuse_empty_monitors_and_other_objects():
    with pytest.raises(ValueError, match="no gradient records"):
        plot_gradient_flow(Monitor())
    with pytest.raises(ValueError, match="no records"):
        plot_activation_stats(Monitor())
    with pytest.raises(TypeError, match="Expected a deepglass.insight.Monitor"):
        plot_gradient_flow([1, 2])


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, monitor):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"plot_gradient_flow needs matplotlib: pip install 'deepglass\[plot\]'"):
        plot_gradient_flow(monitor)
    with pytest.raises(ImportError, match=r"deepglass\[plot\]"):
        plot_activation_stats(monitor)
    assert monitor.findings() == []  # the numbers work without it
