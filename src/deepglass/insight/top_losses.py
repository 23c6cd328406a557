"""The samples a model gets most wrong: the highest per-sample losses, and a picture of those samples."""
import copy
import math

import numpy as np
import torch

from deepglass import losses as losses_module
from deepglass.insight.confusion import predict_tensors
from deepglass.insight.inspect import _unit_range
from deepglass.insight.plots import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, VERMILION, _finish, _pyplot

_KINDS = (None, "image", "signal", "table")


def top_losses(model, x, y, k=9, loss=None, batch_size=None):
    """The `k` samples with the highest loss, worst first: their indices, losses and the model's predictions.

    Each sample's loss is the compiled loss (or `loss`) with reduction `"none"`, averaged over any axes after the
    batch axis (time steps, pixels), without sample weights or regularisation penalties; the model runs in
    inference mode (dropout off), in batches.

    Arguments:
        model: a deepglass model with one output (compiled, unless `loss` is given) or a `torch.nn.Module`.
        x: the inputs (arrays or tensors, batch first; lists or dicts for several inputs).
        y: the targets, as the loss expects them.
        k: how many samples to return (at most the number of samples).
        loss: a loss name, function or `Loss` to use instead of the compiled one.
        batch_size: the samples per forward pass (default 32).

    Returns:
        `(indices, losses, predictions)` as NumPy arrays: int64 `(k,)`, float `(k,)`, and the model's outputs for
        those samples `(k, ...)`. Ties keep the order of the samples.

    Example:
    >>> indices, losses, predictions = deepglass.insight.top_losses(model, x_test, y_test, k=9)
    >>> x_test[indices[0]]   # the sample the model gets most wrong
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"Received an invalid value for `k`, expected a positive integer. Received: k={k!r}")
    per_sample = _per_sample_loss(model, loss)
    outputs, targets = predict_tensors(model, x, batch_size, y=y)
    with torch.no_grad():
        values = per_sample(targets, outputs)
    values = values.reshape(values.shape[0], -1).mean(dim=1) if values.dim() > 1 else values.reshape(-1)
    order = torch.sort(values, descending=True, stable=True).indices[:k]
    return order.cpu().numpy(), values[order].cpu().numpy(), outputs[order].cpu().numpy()


def plot_top_losses(model, x, y, k=9, class_names=None, path=None, loss=None, kind=None, batch_size=None):
    """Draw the `k` samples with the highest loss, worst first; each title gives the true and the predicted class,
    the probability of the predicted class and the loss.

    Images are drawn as images (grey-scale or RGB, channels last or first), 1-D signals `(steps,)` or
    `(steps, channels)` as curves, and other samples as a table of their values. For a model with one output unit
    (binary or regression) the title shows the values; the class is `p > 0.5` when targets are 0 and 1.

    Needs matplotlib (`pip install 'deepglass[plot]'`).

    Arguments:
        model, x, y, k, loss, batch_size: as in `top_losses`.
        class_names: names of the classes, in class-index order (default: the indices).
        path: where to save the picture, or None.
        kind: how to draw a sample, `"image"`, `"signal"` or `"table"`; default: from its shape (rank 3 is an
            image, rank 2 an image unless it is at least 4 times longer than wide, `(steps, channels)`; rank 1 of 16
            values or more is a signal; anything else a table).

    Returns:
        The matplotlib Figure.

    Example:
    >>> deepglass.insight.plot_top_losses(model, x_test, y_test, k=9, class_names=names, path="top_losses.png")
    """
    plt = _pyplot("plot_top_losses")
    if kind not in _KINDS:
        raise ValueError(f"Received an invalid value for `kind`, expected one of {list(_KINDS)}. Received: "
                         f"kind={kind!r}")
    indices, values, predictions = top_losses(model, x, y, k=k, loss=loss, batch_size=batch_size)
    samples = _rows(x, indices)
    truths = _rows(y, indices)
    kind = kind or _kind(samples[0])
    columns = min(len(indices), 3 if kind == "table" else 5 if len(indices) > 9 else 3)
    rows = math.ceil(len(indices) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.2 * rows + 0.5), squeeze=False)
    for axis in axes.flat[len(indices):]:
        axis.axis("off")
    for axis, index, sample, truth, prediction, value in zip(axes.flat, indices, samples, truths, predictions,
                                                             values):
        _DRAW[kind](axis, sample)
        title, wrong = _title(truth, prediction, value, class_names)
        axis.set_title(f"#{index}: {title}", fontsize=9, color=VERMILION if wrong else "black")
    figure.suptitle(f"The {len(indices)} samples with the highest loss (worst first; red: wrongly classified)")
    return _finish(plt, figure, path)


# ------------------------------------------------------------------------------------------------------ helpers
def _per_sample_loss(model, loss):
    """The loss as a `Loss` that returns one value per sample (a copy with reduction "none")."""
    if loss is None:
        compiled = getattr(model, "_compiled_loss", None)
        if compiled is None:
            raise ValueError("top_losses needs a loss: compile the model (model.compile(loss=...)) or pass "
                             "loss=, e.g. loss='sparse_categorical_crossentropy'.")
        if compiled.multi:
            raise ValueError(f"top_losses works on models with one output; this model has "
                             f"{len(compiled.output_names)} outputs {compiled.output_names}.")
        loss = compiled.losses[0]
    loss = losses_module.get(loss)
    loss = loss if isinstance(loss, losses_module.Loss) else losses_module.LossFunctionWrapper(loss)
    per_sample = copy.copy(loss)  # the compiled loss object stays as it is
    per_sample.reduction = "none"
    return per_sample


def _rows(data, indices):
    """The samples at `indices` as a NumPy array (of the first input, when there are several)."""
    if isinstance(data, dict):
        data = next(iter(data.values()))
    elif isinstance(data, (list, tuple)) and data and all(np.ndim(item) > 0 and hasattr(item, "shape")
                                                          for item in data):
        data = data[0]  # a list of arrays is one array per input, as in fit
    array = data.detach().cpu().numpy() if torch.is_tensor(data) else np.asarray(data)
    return array[indices]


def _kind(sample):
    shape = sample.shape
    if sample.ndim == 3:
        return "image"
    if sample.ndim == 2:  # (steps, channels) is long and narrow; (height, width) is not
        return "signal" if shape[0] >= 4 * shape[1] else "image"
    if sample.ndim == 1 and shape[0] >= 16:
        return "signal"
    return "table"


def _draw_image(axis, sample):
    image = np.asarray(sample)
    if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
        image = np.moveaxis(image, 0, -1)  # channels first
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[-1] not in (3, 4):
        image = image[..., 0]  # many channels: show the first
    if image.ndim == 2:
        axis.imshow(image, cmap="gray")
    elif image.dtype == np.uint8 or (image.min() >= 0 and image.max() <= 1):
        axis.imshow(image)
    else:
        axis.imshow(_unit_range(image.astype(np.float64)))
    axis.set_xticks([])
    axis.set_yticks([])


def _draw_signal(axis, sample):
    signal = np.asarray(sample, dtype=np.float64)
    signal = signal.reshape(signal.shape[0], -1)
    colours = [BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, "#000000", GREY]  # Okabe & Ito's eight
    for channel in range(min(signal.shape[1], len(colours))):
        axis.plot(signal[:, channel], color=colours[channel], linewidth=1,
                  label=f"channel {channel}" if signal.shape[1] > 1 else None)
    if signal.shape[1] > 1:
        axis.legend(fontsize=6)
    axis.set_xlabel("step", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)


def _draw_table(axis, sample, limit=10):
    values = np.asarray(sample).reshape(-1)
    cells = [[str(i), f"{v:.4g}" if np.issubdtype(values.dtype, np.number) else str(v)]
             for i, v in enumerate(values[:limit])]
    if len(values) > limit:
        cells.append(["...", f"({len(values) - limit} more)"])
    axis.axis("off")
    table = axis.table(cellText=cells, colLabels=["feature", "value"], loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)


_DRAW = {"image": _draw_image, "signal": _draw_signal, "table": _draw_table}


def _title(truth, prediction, value, class_names):
    """The title of one sample, and whether its predicted class is wrong."""
    prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
    truth = np.asarray(truth).reshape(-1)
    name = (lambda i: str(class_names[i])) if class_names is not None else str  # noqa: E731
    if prediction.size > 1:  # class scores: the arg-max, and its probability if these are probabilities
        predicted = int(prediction.argmax())
        actual = int(truth.argmax()) if truth.size > 1 else int(truth[0])
        is_distribution = prediction.min() >= 0 and abs(prediction.sum() - 1) < 1e-3
        shown = f"p={prediction[predicted]:.2f}" if is_distribution else f"score={prediction[predicted]:.3g}"
        return (f"true {name(actual)}, pred {name(predicted)}\n{shown}, loss {value:.3g}",
                predicted != actual)
    p, target = float(prediction[0]), float(truth[0])
    if target in (0.0, 1.0) and 0.0 <= p <= 1.0:  # one sigmoid unit
        predicted = int(p > 0.5)
        return (f"true {name(int(target))}, pred {name(predicted)}\np={max(p, 1 - p):.2f}, loss {value:.3g}",
                predicted != int(target))
    return f"true {target:.4g}, pred {p:.4g}\nloss {value:.3g}", False
