"""Confusion matrices: which classes the model mistakes for which, as numbers and as a picture."""
import numpy as np
import torch

from deepglass.insight.inspect import _inference
from deepglass.insight.plots import _finish, _pyplot

_NORMALIZE = (None, "true", "pred", "all")
_SHARE_OF = {"true": "of each true class (row)", "pred": "of each predicted class (column)", "all": "of all samples"}


def confusion_matrix(y_true, y_pred, num_classes=None, normalize=None):
    """The confusion matrix `C` with `C[i, j]` the number of samples of true class `i` predicted as class `j`.

    Labels may be class indices `(n,)` or `(n, 1)`, or one-hot `(n, classes)`; predictions may be class indices,
    or per-class scores `(n, classes)` (probabilities, logits or one-hot: their arg-max is taken), or one
    probability per sample for a binary model (`(n,)` or `(n, 1)` floats that are not all whole numbers: class 1
    where `p > 0.5`). Counted with `torch.bincount`, on the device of tensor inputs.

    Arguments:
        y_true: the true labels (NumPy array, tensor or list).
        y_pred: the predicted labels, scores or probabilities.
        num_classes: the number of classes; default: the number of score columns, or the largest label + 1.
        normalize: None for counts; `"true"` to divide each row by its sum (the recall of each class on the
            diagonal), `"pred"` to divide each column by its sum (the precision), `"all"` to divide by the total.
            Rows or columns without samples stay 0.

    Returns:
        A NumPy array `(num_classes, num_classes)`: int64 counts, or float64 fractions when normalised.

    Example:
    >>> confusion_matrix([0, 1, 1, 2], [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.0, 0.1, 0.9]])
    array([[1, 0, 0],
           [1, 1, 0],
           [0, 0, 1]])
    """
    if normalize not in _NORMALIZE:
        raise ValueError(f"Received an invalid value for `normalize`, expected one of {list(_NORMALIZE)}. "
                         f"Received: normalize={normalize!r}")
    truth, true_width = _labels(y_true, "y_true")
    predicted, pred_width = _labels(y_pred, "y_pred")
    if truth.shape[0] != predicted.shape[0]:
        raise ValueError(f"confusion_matrix expects as many labels as predictions; got {truth.shape[0]} labels and "
                         f"{predicted.shape[0]} predictions.")
    predicted = predicted.to(truth.device)
    classes = _num_classes(num_classes, truth, predicted, max(true_width, pred_width))
    counts = torch.bincount(truth * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    counts = counts.cpu().numpy().astype(np.int64)
    return counts if normalize is None else normalize_confusion_matrix(counts, normalize)


def normalize_confusion_matrix(counts, normalize):
    """Counts divided by their row sums (`"true"`), column sums (`"pred"`) or total (`"all"`); 0 where a row or
    column has no samples.

    Example:
    >>> normalize_confusion_matrix(np.array([[3, 1], [0, 0]]), "true")
    array([[0.75, 0.25],
           [0.  , 0.  ]])
    """
    counts = np.asarray(counts, dtype=np.float64)
    if normalize is None:
        return counts
    if normalize not in _NORMALIZE:
        raise ValueError(f"Received an invalid value for `normalize`, expected one of {list(_NORMALIZE)}. "
                         f"Received: normalize={normalize!r}")
    totals = {"true": counts.sum(axis=1, keepdims=True), "pred": counts.sum(axis=0, keepdims=True),
              "all": counts.sum()}[normalize]
    return np.divide(counts, totals, out=np.zeros_like(counts), where=np.asarray(totals) > 0)


def plot_confusion_matrix(cm_or_model, x=None, y=None, class_names=None, normalize=None, path=None, ax=None,
                          batch_size=None):
    """Draw a confusion matrix: each cell shows its count and its percentage, shaded by the value shown.

    The percentage is the share of each true class (row) unless `normalize` names another base (`"pred"`: of each
    predicted class, `"all"`: of all samples); empty cells show just 0. With `normalize` the shading follows the
    fractions, without it the counts. The title gives the accuracy (the diagonal's share of all samples).

    Needs matplotlib (`pip install 'deepglass[plot]'`).

    Arguments:
        cm_or_model: a matrix of counts from `confusion_matrix`, or a model (deepglass or `torch.nn.Module`) to
            predict `x` with.
        x, y: the inputs and true labels, when a model is given.
        class_names: names of the classes, in class-index order (default: the indices).
        normalize: None, `"true"`, `"pred"` or `"all"`, as in `confusion_matrix`.
        path: where to save the picture (PNG, SVG, PDF, ... by extension), or None.
        ax: a matplotlib Axes to draw into (default: a new figure).
        batch_size: the samples per forward pass when a model is given (default 32).

    Returns:
        The matplotlib Figure.

    Example:
    >>> deepglass.insight.plot_confusion_matrix(model, x_test, y_test, class_names=["cat", "dog"], path="cm.png")
    """
    plt = _pyplot("plot_confusion_matrix")
    counts = _counts(cm_or_model, x, y, class_names, batch_size)
    classes = counts.shape[0]
    names = [str(name) for name in class_names] if class_names is not None else [str(i) for i in range(classes)]
    if len(names) != classes:
        raise ValueError(f"plot_confusion_matrix received {len(names)} class_names for a {classes}x{classes} "
                         "matrix; pass one name per class.")
    shares = normalize_confusion_matrix(counts, normalize or "true")
    shown = counts if normalize is None else shares
    if ax is None:
        side = min(12.0, max(4.5, 0.55 * classes + 2.5))
        figure, ax = plt.subplots(figsize=(side + 1.2, side))
    else:
        figure = ax.figure
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=max(float(shown.max()), 1e-12))
    colour_bar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colour_bar.set_label("samples" if normalize is None else f"fraction {_SHARE_OF[normalize]}")
    if classes <= 30:  # beyond that the numbers no longer fit their cells
        _write_cells(ax, image, counts, shares, classes)
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    long_names = max(map(len, names)) > 3  # slanted, so that they do not run into each other
    ax.set_xticklabels(names, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else float("nan")
    ax.set_title(f"Confusion matrix: accuracy {accuracy:.1%} on {total} samples\n"
                 f"(cells: count and percentage {_SHARE_OF[normalize or 'true']})", fontsize=10)
    return _finish(plt, figure, path)


# ------------------------------------------------------------------------------------------------------ helpers
def _labels(values, what):
    """Class indices as a 1-D int64 tensor, and the number of score columns (0 for plain labels)."""
    tensor = values if torch.is_tensor(values) else torch.as_tensor(np.asarray(values))
    tensor = tensor.detach()
    if tensor.dim() == 2 and tensor.shape[1] > 1:
        return tensor.argmax(dim=1), tensor.shape[1]
    if tensor.dim() == 2:
        tensor = tensor[:, 0]
    if tensor.dim() != 1:
        raise ValueError(f"confusion_matrix expects {what} of shape (n,), (n, 1) or (n, classes); got shape "
                         f"{tuple(tensor.shape)}.")
    if tensor.is_floating_point():
        whole = bool(torch.all(tensor == torch.round(tensor))) if tensor.numel() else True
        tensor = torch.round(tensor) if whole else (tensor > 0.5)  # binary probabilities: class 1 above 0.5
    return tensor.long(), 0


def _num_classes(num_classes, truth, predicted, width):
    low = min(int(truth.min()), int(predicted.min())) if truth.numel() else 0
    high = max(int(truth.max()), int(predicted.max())) if truth.numel() else -1
    if low < 0:
        raise ValueError(f"confusion_matrix expects class indices >= 0; got {low}.")
    if num_classes is None:
        return max(high + 1, width, 1)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"Received an invalid value for `num_classes`, expected a positive integer or None. "
                         f"Received: num_classes={num_classes!r}")
    if high >= num_classes or width > num_classes:
        raise ValueError(f"confusion_matrix received num_classes={num_classes}, but the labels reach class "
                         f"{max(high, width - 1)}; pass a larger num_classes or leave it None.")
    return num_classes


def _counts(cm_or_model, x, y, class_names, batch_size):
    if isinstance(cm_or_model, torch.nn.Module):
        if x is None or y is None:
            raise ValueError("plot_confusion_matrix needs x and y with a model: plot_confusion_matrix(model, x, y).")
        predictions = predict_tensors(cm_or_model, x, batch_size)
        classes = len(class_names) if class_names is not None else None
        return confusion_matrix(y, predictions, num_classes=classes)
    counts = np.asarray(cm_or_model.detach().cpu() if torch.is_tensor(cm_or_model) else cm_or_model)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"plot_confusion_matrix expects a square matrix of counts or a model; got an array of "
                         f"shape {counts.shape}.")
    return counts


def _write_cells(ax, image, counts, shares, classes):
    """Each cell's count and percentage (just "0" when empty), in black on light cells and white on dark ones."""
    size = 10 if classes <= 8 else 8 if classes <= 15 else 6
    for row in range(classes):
        for column in range(classes):
            red, green, blue, _ = image.cmap(image.norm(image.get_array()[row, column]))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # perceived brightness
            text = f"{counts[row, column]:g}\n{shares[row, column]:.1%}" if counts[row, column] else "0"
            ax.text(column, row, text, ha="center", va="center", fontsize=size, color="white" if dark else "black")


def predict_tensors(model, x, batch_size=None, y=None):
    """The model's outputs for `x` in inference mode, batch by batch, as one tensor on the model's device; with `y`,
    also the targets batched alongside, as `(outputs, targets)`."""
    from deepglass.training.data_adapters import adapt

    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    data = adapt(x, y, batch_size=batch_size, device=device)
    outputs, targets = [], []
    with _inference(model), torch.no_grad():
        for xb, yb, _ in data.batches():
            prediction = model(xb)
            if isinstance(prediction, (list, tuple, dict)):
                raise ValueError("This needs a model with a single output; the model returned "
                                 f"{len(prediction)} outputs.")
            outputs.append(prediction)
            targets.append(yb)
    if y is None:
        return torch.cat(outputs)
    return torch.cat(outputs), torch.cat(targets)
