"""Pictures of a Monitor's records: gradient flow through the layers, and activation statistics per layer."""
import math
import statistics

# Okabe & Ito's palette: distinguishable with every common form of colour blindness.
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999")
_HEALTHY_UPDATE_RATIO = 1e-3  # the rule of thumb for update / weight per step (Karpathy, CS231n)


def plot_gradient_flow(monitor, filename=None):
    """Plot each layer's gradient norm (the median and range over the sampled steps, and the first step) and its
    update-to-weight ratio, layers in forward order; save to `filename` when given. Returns the Figure.

    Vanishing gradients show as a curve that falls by orders of magnitude toward the first layers; a healthy
    update-to-weight ratio is near 1e-3. Needs matplotlib (`pip install 'deepglass[plot]'`).

    Arguments:
        monitor: a `Monitor` that watched a training run (or its `history`).
        filename: where to save the picture (PNG, SVG, PDF, ... by extension), or None.

    Example:
    >>> monitor = deepglass.insight.Monitor(every_n_steps=20)
    >>> model.fit(x, y, epochs=3, callbacks=[monitor])
    >>> deepglass.insight.plot_gradient_flow(monitor, "gradient_flow.png")
    """
    plt = _pyplot("plot_gradient_flow")
    history = _history(monitor)
    layers = [(name, entry) for name, entry in history["layers"].items() if entry["parameters"]]
    if not layers:
        raise ValueError("The monitor holds no gradient records; pass it to fit(callbacks=[monitor]) first.")
    names = [name for name, _ in layers]
    positions = list(range(len(names)))
    figure, (grad_axis, ratio_axis) = plt.subplots(1, 2, figsize=(10, 4.2))
    grads = [_positive(entry["grad_norm"]) for _, entry in layers]
    low, high = [_pick(min, g) for g in grads], [_pick(max, g) for g in grads]
    grad_axis.fill_between(positions, low, high, color=SKY, alpha=0.35, label="range over samples")
    grad_axis.plot(positions, [_pick(statistics.median, g) for g in grads], color=BLUE, marker="o", label="median")
    grad_axis.plot(positions, [_first_positive(entry["grad_norm"]) for _, entry in layers], color=ORANGE,
                   linestyle="--", marker="s", markersize=4, label=f"step {history['steps'][0]}")
    _layer_axis(grad_axis, names, "Gradient norm per layer", "gradient L2 norm (log scale)")
    ratios = [_positive(entry["update_ratio"]) for _, entry in layers]
    ratio_axis.plot(positions, [_pick(statistics.median, r) for r in ratios], color=GREEN, marker="o", label="median")
    ratio_axis.axhline(_HEALTHY_UPDATE_RATIO, color=GREY, linestyle=":", label="1e-3 (healthy)")
    _layer_axis(ratio_axis, names, "Update / weight ratio per step", "||update|| / ||weights|| (log scale)")
    figure.suptitle(f"Gradient flow ({len(history['steps'])} sampled steps)")
    return _finish(plt, figure, filename)


def plot_activation_stats(monitor, filename=None):
    """Plot each layer's output mean and standard deviation, fraction of dead ReLU units and fraction of
    saturated sigmoid / tanh outputs, at the first and the last sampled step; save to `filename` when given.
    Returns the Figure.

    A standard deviation that shrinks or grows by orders of magnitude through the layers, dead fractions near 1
    or saturated fractions near 1 point to a bad initialisation or a too-high learning rate. Needs matplotlib
    (`pip install 'deepglass[plot]'`).

    Arguments:
        monitor: a `Monitor` that watched a training run (or its `history`).
        filename: where to save the picture, or None.

    Example:
    >>> deepglass.insight.plot_activation_stats(monitor, "activations.png")
    """
    plt = _pyplot("plot_activation_stats")
    history = _history(monitor)
    names = list(history["layers"])
    if not names or not history["steps"]:
        raise ValueError("The monitor holds no records; pass it to fit(callbacks=[monitor]) first.")
    panels = [("activation_mean", "Output mean", "mean"), ("activation_std", "Output standard deviation", "std"),
              ("dead_fraction", "Dead ReLU units", "fraction of units never active"),
              ("saturated_fraction", "Saturated outputs", "fraction of sigmoid / tanh outputs")]
    panels = [panel for panel in panels if any(history["layers"][n][panel[0]][0] is not None for n in names)]
    figure, axes = plt.subplots(1, len(panels), figsize=(10, 4.2), squeeze=False)
    positions = list(range(len(names)))
    first, last = history["steps"][0], history["steps"][-1]
    for axis, (statistic, title, label) in zip(axes[0], panels):
        axis.plot(positions, [_values(history, n, statistic, 0) for n in names], color=ORANGE, linestyle="--",
                  marker="s", markersize=4, label=f"step {first}")
        axis.plot(positions, [_values(history, n, statistic, -1) for n in names], color=BLUE, marker="o",
                  label=f"step {last}")
        _layer_axis(axis, names, title, label, log=False)
        if statistic.endswith("fraction"):
            axis.set_ylim(-0.05, 1.05)
    figure.suptitle("Activation statistics per layer")
    return _finish(plt, figure, filename)


# ------------------------------------------------------------------------------------------------------ helpers
def _pyplot(function):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(f"{function} needs matplotlib: pip install 'deepglass[plot]'.") from error
    return plt


def _history(monitor):
    history = getattr(monitor, "history", monitor)
    if not isinstance(history, dict) or "layers" not in history:
        raise TypeError(f"Expected a deepglass.insight.Monitor or its history; got {type(monitor).__name__}.")
    return history


def _layer_axis(axis, names, title, label, log=True):
    if log:
        axis.set_yscale("log")
    axis.set_xticks(range(len(names)))
    many = len(names) > 12  # long lists get upright, smaller labels so that they do not overlap
    axis.set_xticklabels(names, rotation=90 if many else 60, ha="center" if many else "right",
                         fontsize=6 if many else 8)
    axis.set_xlabel("layer (input side first)")
    axis.set_ylabel(label)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)


def _finish(plt, figure, filename):
    figure.tight_layout()
    if filename is not None:
        figure.savefig(filename, dpi=100)
        plt.close(figure)
    return figure


def _positive(values):
    return [v for v in values if v is not None and math.isfinite(v) and v > 0]


def _pick(function, values):
    return function(values) if values else math.nan


def _first_positive(values):
    return values[0] if values and values[0] is not None and values[0] > 0 else math.nan


def _values(history, name, statistic, index):
    value = history["layers"][name][statistic][index]
    return math.nan if value is None else value
