"""Pictures of training: learning curves from a History."""
import math

# Okabe & Ito's palette: distinguishable with every common form of colour blindness.
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999")
_RATES = ("learning_rate", "lr")  # logged by ReduceLROnPlateau and LearningRateScheduler: no "best" epoch


def plot_history(history, filename=None, title=None):
    """Plot each metric of `history` (a History or its `history` dict) per epoch, one panel per metric with the
    training and validation curves, and mark the best epoch: the lowest validation value of a loss or error, the
    highest of an accuracy-like metric (accuracy, AUC, precision, recall, ...), read on the training curve when
    there is no validation curve. Saves to `filename` when given; returns the matplotlib Figure.

    Needs matplotlib (`pip install 'deepglass[plot]'`).

    Arguments:
        history: the `History` returned by `fit`, or its `history` dict (`{"loss": [...], "val_loss": [...]}`).
        filename: where to save the picture (PNG, SVG, PDF, ... by extension), or None.
        title: a title above the panels.

    Example:
        >>> history = model.fit(x, y, validation_split=0.1, epochs=10)
        >>> deepglass.utils.plot_history(history, "learning_curves.png")
    """
    try:
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as error:
        raise ImportError("plot_history needs matplotlib: pip install 'deepglass[plot]'.") from error
    logs = getattr(history, "history", history)
    epochs = list(getattr(history, "epoch", [])) or list(range(len(next(iter(logs.values()), []))))
    names = [name for name in logs if not name.startswith("val_")]
    names += [name[4:] for name in logs if name.startswith("val_") and name[4:] not in logs]
    if not names:
        raise ValueError("The history holds no metrics to plot; train with fit() first.")
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    for axis in axes.flat[len(names):]:
        figure.delaxes(axis)
    shown = [epoch + 1 for epoch in epochs]
    for axis, name in zip(axes.flat, names):
        for key, label, colour in ((name, "training", BLUE), (f"val_{name}", "validation", ORANGE)):
            if key in logs:
                axis.plot(shown[:len(logs[key])], logs[key], color=colour, marker="o", markersize=3, label=label)
        if name in _RATES:
            axis.set_yscale("log")
        else:
            _mark_best(axis, name, logs, shown)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(name)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if filename is not None:
        figure.savefig(filename, dpi=120)
        plt.close(figure)
    return figure


def best_epoch(name, values):
    """The index of the best value of metric `name` (its highest for accuracy-like metrics, else its lowest),
    ignoring NaN; None when no value is finite.

    Example:
        >>> best_epoch("val_accuracy", [0.5, 0.9, 0.8]), best_epoch("val_loss", [0.5, 0.3, 0.4])
        (1, 1)
    """
    from deepglass.callbacks.monitor_callback import _named_direction

    finite = [(value, index) for index, value in enumerate(values) if value is not None and math.isfinite(value)]
    if not finite:
        return None
    if _named_direction(name) == "up":
        return max(finite, key=lambda pair: (pair[0], -pair[1]))[1]  # the first of equal values
    return min(finite)[1]


def _mark_best(axis, name, logs, shown):
    """A marker on the best epoch of the validation curve (else the training curve), with its epoch and value."""
    key = f"val_{name}" if f"val_{name}" in logs else name
    index = best_epoch(key, logs[key])
    if index is None:
        return
    epoch, value = shown[index], logs[key][index]
    axis.scatter([epoch], [value], s=110, marker="*", color=VERMILION, zorder=3,
                 label=f"best epoch {epoch} ({key} {value:.4g})")
    low, high = axis.get_ylim()
    below = (value - low) > (high - low) / 2  # write the note on the side with more room
    place = index / max(len(shown) - 1, 1)
    align = "left" if place < 0.2 else "right" if place > 0.8 else "center"  # keep the note inside the panel
    axis.annotate(f"best: epoch {epoch}\n{value:.4g}", (epoch, value), xytext=(0, -26 if below else 16),
                  textcoords="offset points", ha=align, va="top" if below else "bottom", fontsize=8,
                  color=VERMILION, arrowprops={"arrowstyle": "-", "color": VERMILION, "linewidth": 0.8},
                  bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
