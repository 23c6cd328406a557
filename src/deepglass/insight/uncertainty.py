"""How sure is the model: Monte Carlo dropout predictions, expected calibration error and reliability diagrams."""
import numpy as np
import torch
from torch import nn

from deepglass.insight.inspect import _as_input, _inference
from deepglass.insight.plots import BLUE, GREY, ORANGE, _finish, _pyplot
from deepglass.layers.core import Dropout
from deepglass.layers.regularization import AlphaDropout, GaussianDropout

_DROPOUT = (Dropout, GaussianDropout, AlphaDropout, nn.modules.dropout._DropoutNd)


def mc_dropout_predict(model, x, n=50, batch_size=None):
    """Monte Carlo dropout (Gal & Ghahramani, 2016): `n` predictions with dropout left on, summarised.

    Only the dropout layers (Dropout, SpatialDropout, GaussianDropout, AlphaDropout and torch's dropout modules) are
    put in training mode; everything else, BatchNormalization included, runs in inference mode, and every layer's
    mode is restored afterwards. The spread of the `n` predictions estimates the model's uncertainty: it grows on
    inputs unlike the training data.

    `mean` and `std` are taken over the `n` passes (`std` the population standard deviation); the predictive
    entropy is that of the mean prediction, `-sum_c p_c log p_c` over the last axis, or the binary entropy for a
    single output; it assumes the model outputs probabilities (softmax or sigmoid).

    Arguments:
        model: a deepglass model or a `torch.nn.Module`.
        x: the inputs (batch first).
        n: the number of stochastic passes.
        batch_size: the samples per forward pass (default 32, as for `predict`).

    Returns:
        `(mean, std, predictive_entropy)` as NumPy arrays: the first two shaped like one prediction, the entropy
        one value per sample.

    Example:
    >>> mean, std, entropy = deepglass.insight.mc_dropout_predict(model, x_test, n=50)
    >>> mean.argmax(axis=1), std.max(axis=1)   # the prediction and how much it wavers
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"Received an invalid value for `n`, expected a positive integer. Received: n={n!r}")
    batch_size = 32 if batch_size is None else batch_size
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Received an invalid value for `batch_size`, expected a positive integer or None. "
                         f"Received: batch_size={batch_size!r}")
    inputs = _as_input(model, x)
    dropouts = [module for module in model.modules() if isinstance(module, _DROPOUT)]
    means, stds = [], []
    with _inference(model, keep_training=dropouts), torch.no_grad():
        for start in range(0, inputs.shape[0], batch_size):
            chunk = inputs[start:start + batch_size]
            passes = torch.stack([model(chunk) for _ in range(n)]).double()
            means.append(passes.mean(dim=0))
            stds.append(passes.std(dim=0, correction=0))
    mean, std = torch.cat(means).cpu().numpy(), torch.cat(stds).cpu().numpy()
    return mean.astype(np.float32), std.astype(np.float32), predictive_entropy(mean).astype(np.float32)


def predictive_entropy(probabilities):
    """The entropy in nats of each prediction: `-sum_c p_c log p_c` over the last axis, or the binary entropy
    `-p log p - (1 - p) log(1 - p)` for a single probability per sample.

    Example:
    >>> predictive_entropy(np.array([[0.5, 0.5], [1.0, 0.0]]))   # [log 2, 0]
    """
    p = np.asarray(probabilities, dtype=np.float64)
    p = p.reshape(p.shape[0], -1)
    if p.shape[1] == 1:
        p = np.concatenate([p, 1 - p], axis=1)
    p = np.clip(p, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1)


def expected_calibration_error(y_true, probabilities, bins=10):
    """Expected calibration error (Guo et al., 2017): `ECE = sum_m |B_m| / n * |accuracy(B_m) - confidence(B_m)|`.

    Each sample's confidence is the probability of its predicted class (`max(p, 1 - p)` for a single sigmoid
    output); samples fall into `bins` equal-width bins `((m - 1) / M, m / M]`. 0 means perfectly calibrated.

    Arguments:
        y_true: class labels `(n,)` or one-hot labels `(n, classes)`.
        probabilities: `(n, classes)` predicted probabilities, or `(n,)` / `(n, 1)` for a binary model.
        bins: the number of bins.

    Example:
    >>> expected_calibration_error([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    """
    counts, accuracy, confidence = calibration_bins(y_true, probabilities, bins)
    return float(np.sum(counts / counts.sum() * np.abs(np.nan_to_num(accuracy) - np.nan_to_num(confidence))))


def calibration_bins(y_true, probabilities, bins=10):
    """Per-bin sample count, accuracy and mean confidence (NaN for empty bins), as `expected_calibration_error`
    bins them.

    Example:
    >>> counts, accuracy, confidence = calibration_bins(y_test, model.predict(x_test))
    """
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"Received an invalid value for `bins`, expected a positive integer. Received: bins={bins!r}")
    p = np.asarray(probabilities, dtype=np.float64)
    p = p.reshape(p.shape[0], -1) if p.ndim > 1 else p.reshape(-1, 1)
    labels = np.asarray(y_true)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(axis=-1)
    labels = labels.reshape(-1).astype(np.int64)
    if labels.shape[0] != p.shape[0]:
        raise ValueError(f"Expected as many labels as predictions; got {labels.shape[0]} labels and {p.shape[0]} "
                         "predictions.")
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    predicted, confidence = p.argmax(axis=1), p.max(axis=1)
    correct = (predicted == labels).astype(np.float64)
    # Bin m holds confidences in ((m - 1) / M, m / M], edges as linspace gives them; 0 goes to the first bin.
    index = np.clip(np.searchsorted(np.linspace(0, 1, bins + 1), confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(index, weights=correct, minlength=bins) / counts
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / counts
    return counts, accuracy, mean_confidence


def plot_reliability(y_true, probabilities, bins=10, filename=None):
    """Reliability diagram: accuracy against confidence per bin, next to the diagonal of perfect calibration, with
    the expected calibration error in the title and the bins' sample counts below. Returns the Figure.

    Bars below the diagonal mean over-confidence, above it under-confidence.

    Arguments:
        y_true: class labels or one-hot labels.
        probabilities: predicted probabilities (e.g. `model.predict(x)` or the mean of `mc_dropout_predict`).
        bins: the number of equal-width confidence bins.
        filename: where to save the picture, or None.

    Example:
    >>> deepglass.insight.plot_reliability(y_test, model.predict(x_test), filename="calibration.png")
    """
    plt = _pyplot("plot_reliability")
    counts, accuracy, confidence = calibration_bins(y_true, probabilities, bins)
    ece = expected_calibration_error(y_true, probabilities, bins)
    edges = np.linspace(0, 1, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, 1 / bins
    figure, (axis, count_axis) = plt.subplots(2, 1, figsize=(6, 6), sharex=True,
                                              gridspec_kw={"height_ratios": [3, 1]})
    axis.bar(centres, np.nan_to_num(accuracy), width=width * 0.9, color=BLUE, label="accuracy in bin")
    axis.plot(centres, confidence, color=ORANGE, marker="o", linestyle="none", label="mean confidence in bin")
    axis.plot([0, 1], [0, 1], color=GREY, linestyle="--", label="perfect calibration")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_ylabel("accuracy")
    axis.set_title(f"Reliability diagram (ECE = {ece:.3f}, {bins} bins)")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)
    count_axis.bar(centres, counts, width=width * 0.9, color=GREY)
    count_axis.set_xlabel("confidence (probability of the predicted class)")
    count_axis.set_ylabel("samples")
    count_axis.grid(alpha=0.3)
    return _finish(plt, figure, filename)
