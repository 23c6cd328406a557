"""Pictures of training: learning curves from a History."""


def plot_history(history, filename=None, title=None):
    """Plot each metric of `history` (a History or its `history` dict) per epoch, training and validation side
    by side, one panel per metric; save to `filename` when given. Returns the matplotlib Figure.

    Needs matplotlib (`pip install 'deepglass[plot]'`).

    Example:
        >>> history = model.fit(x, y, validation_split=0.1, epochs=10)
        >>> deepglass.utils.plot_history(history, "learning_curves.png")
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plot_history needs matplotlib: pip install 'deepglass[plot]'.") from error
    logs = getattr(history, "history", history)
    epochs = list(getattr(history, "epoch", [])) or list(range(len(next(iter(logs.values()), []))))
    names = [name for name in logs if not name.startswith("val_")]
    if not names:
        raise ValueError("The history holds no metrics to plot; train with fit() first.")
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        shown = [epoch + 1 for epoch in epochs]
        axis.plot(shown, logs[name], marker="o", markersize=3, label="training")
        if f"val_{name}" in logs:
            axis.plot(shown, logs[f"val_{name}"], marker="o", markersize=3, label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if filename is not None:
        figure.savefig(filename, dpi=120)
        plt.close(figure)
    return figure
