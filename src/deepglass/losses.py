"""Loss functions and classes with Keras's names, arguments, defaults and reductions, computed by torch.

A loss *function* (`mean_squared_error(y_true, y_pred)`) returns one value per sample (the last axis averaged or
summed away). A loss *class* (`MeanSquaredError()`) wraps such a function; calling it applies the sample weights
and reduces to a scalar tensor (see `Loss`). Probabilities are clipped to `[epsilon, 1 - epsilon]` as Keras does;
with `from_logits=True` the logits go to torch's numerically stable kernels instead.

Every loss has `validate_targets(y_true, y_pred)`, which the fit loop calls once on the first batch to catch the
classic label mistakes (one-hot labels given to a sparse loss, class ids given to a categorical one, labels outside
[0, 1] for binary cross-entropy) with an error that says what to change. For a loss given by function name,
`get` returns the function itself (as Keras does) carrying a `validate_targets` attribute; `resolve`, which
`compile` uses, wraps it in a `LossFunctionWrapper` whose `validate_targets` runs that check.

Example:
    >>> from deepglass import losses
    >>> losses.MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
    tensor(0.5000)
"""
import functools
import inspect
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from deepglass import config, naming
from deepglass import loss_batch_means as batch_means

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
MASK_ATTR = "_keras_mask"  # attribute of a tensor holding its boolean mask, as Keras's torch backend stores it
LOGITS_ATTR = "_keras_logits"  # attribute of softmax and sigmoid outputs holding their inputs, as Keras sets it


# ----------------------------------------------------------------------------------------------------------------
# Tensors, ranks and reductions
# ----------------------------------------------------------------------------------------------------------------

def _tensor(x, device=None):
    """Tensors pass through (moved to `device` if given); arrays, lists and numbers become tensors."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if device is not None and x.device != device:
        x = x.to(device)
    return x


def _pred_true(y_true, y_pred):
    """`y_pred` as a float tensor and `y_true` as a tensor of the same dtype on the same device."""
    y_pred = _tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.standardize_dtype())
    return _tensor(y_true, y_pred.device).to(y_pred.dtype), y_pred


def _use_logits(y_pred, from_logits):
    """`(y_pred or its logits, from_logits)`: probabilities made by softmax or sigmoid remember their logits
    (`_keras_logits`), and cross-entropy then works from those, exactly and stably, as Keras's TensorFlow backend
    does. It differs from the clipped probabilities only where a probability falls below `epsilon()`."""
    logits = None if from_logits else getattr(y_pred, LOGITS_ATTR, None)
    if logits is None or logits.shape != y_pred.shape:
        return y_pred, from_logits
    return logits.to(y_pred.dtype), True


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def _compute_dtype(dtype):
    """The float type a loss or metric computes in; Keras's mixed policies (`"mixed_float16"`) give their half type."""
    if isinstance(dtype, str) and dtype.startswith("mixed_"):
        dtype = dtype[len("mixed_"):]
    return config.standardize_dtype(dtype)


def standardize_reduction(reduction):
    """Check `reduction` is one Keras knows and return it."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Received an invalid value for `reduction`, expected one of {_REDUCTIONS}. "
            f"Received: reduction={reduction!r}"
        )
    return reduction


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks equal when they differ by one trailing axis of size 1 (Keras's rule, kept exactly).

    `(N,)` against `(N, 1)` becomes `(N, 1)` and `(N, 1)`; `(N, T, 1)` against `(N, T)` loses its last axis.
    """
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _divide_no_nan(x, y):
    """`x / y`, and 0 where `y` is 0, without leaving the device."""
    return torch.where(y == 0, torch.zeros_like(x), x / torch.where(y == 0, torch.ones_like(y), y))


def apply_mask(sample_weight, mask, dtype, reduction):
    """Fold a boolean `mask` into the sample weights (masked entries weigh 0).

    For the averaging reductions the kept entries weigh `total / kept`, so that dividing by the number of elements
    averages over the kept ones only.
    """
    if mask is None:
        return sample_weight
    mask = _tensor(mask)
    if reduction in ("mean", "sum_over_batch_size"):
        kept = mask.sum(dtype=dtype)
        scale = torch.where(kept == 0, torch.zeros_like(kept), mask.numel() / kept.clamp(min=1))
        float_mask = torch.where(mask.bool(), scale, torch.zeros_like(scale))
    else:
        float_mask = mask.to(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, _tensor(sample_weight).to(dtype))
    return sample_weight * float_mask


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Reduce (already weighted) per-sample losses: see `Loss` for the meaning of each reduction."""
    if reduction is None or reduction == "none" or values.dim() == 0 or values.numel() == 0:
        return values
    if reduction == "sum":
        return values.sum()
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(values.sum(), sample_weight.sum())
    return values.mean()  # sum divided by the number of elements, not by the sum of the weights


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size", dtype=None):
    """Multiply per-sample losses by `sample_weight` (and `mask`) and reduce them as `reduction` says."""
    reduction = standardize_reduction(reduction)
    values = _tensor(values)
    if dtype is not None:
        values = values.to(dtype)
    if sample_weight is not None:
        sample_weight = _tensor(sample_weight, values.device).to(values.dtype)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        # Weights per sample against losses per time step: broadcast over the trailing axes.
        while 0 < sample_weight.dim() < values.dim():
            sample_weight = sample_weight.unsqueeze(-1)
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


# ----------------------------------------------------------------------------------------------------------------
# Target checks, run once on the first batch
# ----------------------------------------------------------------------------------------------------------------

def _shape_text(shape):
    """`(32, 10)` -> `"(batch, 10)"`: the shape a user should give, with the batch axis named."""
    rest = [str(d) for d in tuple(shape)[1:]]
    return "(batch,)" if not rest else f"(batch, {', '.join(rest)})"


def _check_sparse_labels(y_true, y_pred, ignore_class=None, axis=-1, **_):
    y_true, y_pred = _tensor(y_true), _tensor(y_pred)
    if y_pred.dim() == 0:
        return
    axis = axis % y_pred.dim()
    num_classes = y_pred.shape[axis]
    expected = _shape_text([d for i, d in enumerate(y_pred.shape) if i != axis])
    if y_true.dim() == y_pred.dim() and y_true.shape[axis] != 1:
        raise ValueError(
            f"sparse_categorical_crossentropy expects integer class labels of shape {expected} (or with a trailing "
            f"axis of 1); got one-hot labels of shape {tuple(y_true.shape)}; use categorical_crossentropy or "
            f"labels.argmax(-1)."
        )
    labels = y_true.reshape(-1)  # read where they are: the host's copy costs no wait for an accelerator
    if ignore_class is not None:
        labels = labels[labels != ignore_class]
    if labels.numel() == 0:
        return
    if labels.is_floating_point() and not bool(torch.all(labels == labels.round())):
        raise ValueError(
            f"sparse_categorical_crossentropy expects integer class labels; got non-integer values such as "
            f"{labels[labels != labels.round()][0].item()}; for soft or one-hot targets use categorical_crossentropy."
        )
    low, high = map(int, torch.stack(torch.aminmax(labels)).tolist())  # both ends in one read from the device
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"sparse_categorical_crossentropy expects class labels in [0, {num_classes}) for predictions with "
            f"{num_classes} classes; got labels from {low} to {high}; give the last layer {max(high + 1, 2)} units "
            f"or renumber the labels 0..{num_classes - 1}."
        )


def _one_hot_check(loss_name):
    def check(y_true, y_pred, **_):
        y_true, y_pred = _tensor(y_true), _tensor(y_pred)
        if y_pred.dim() and y_pred.shape[-1] > 1 and tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(
                f"{loss_name} expects one-hot labels of shape {_shape_text(y_pred.shape)}; got shape "
                f"{_shape_text(y_true.shape)}; use sparse_categorical_crossentropy or deepglass.utils.to_categorical."
            )
    return check


def _check_binary_labels(y_true, y_pred, **_):
    y_true = _tensor(y_true)
    if y_true.numel() == 0:
        return
    low, high = float(y_true.min()), float(y_true.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"binary_crossentropy expects labels in [0, 1]; got labels from {low:g} to {high:g}; for class ids of "
            f"more than two classes use sparse_categorical_crossentropy with one output unit per class."
        )


# ----------------------------------------------------------------------------------------------------------------
# Loss functions: one value per sample
# ----------------------------------------------------------------------------------------------------------------

def mean_squared_error(y_true, y_pred):
    """Mean squared error over the last axis: `mean(square(y_true - y_pred), axis=-1)`.

    Example:
        >>> mean_squared_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        tensor([0.5000])
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    return F.mse_loss(y_pred, y_true, reduction="none").mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    """Mean absolute error over the last axis: `mean(abs(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    return F.l1_loss(y_pred, y_true, reduction="none").mean(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    diff = torch.abs((y_true - y_pred) / torch.clamp(torch.abs(y_true), min=config.epsilon()))
    return 100.0 * diff.mean(dim=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)`."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    eps = config.epsilon()
    return F.mse_loss(torch.log1p(y_pred.clamp(min=eps)), torch.log1p(y_true.clamp(min=eps)), reduction="none").mean(-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Negative cosine similarity: `-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`, in [-1, 1].

    Arguments:
        axis: the axis along which the similarity is computed.
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    eps = config.epsilon()
    return -torch.sum(F.normalize(y_true, dim=axis, eps=eps) * F.normalize(y_pred, dim=axis, eps=eps), dim=axis)


def huber(y_true, y_pred, delta=1.0):
    """Huber loss: `0.5 * x**2` where `|x| <= delta`, else `delta * (|x| - 0.5 * delta)`, with `x = y_pred - y_true`,
    averaged over the last axis.

    Arguments:
        delta: where the loss turns from quadratic to linear.
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    return F.huber_loss(y_pred, y_true, reduction="none", delta=float(delta)).mean(dim=-1)


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed as `x + softplus(-2x) - log(2)` to stay finite."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


def kl_divergence(y_true, y_pred):
    """Kullback-Leibler divergence: `sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[eps, 1]`."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    eps = config.epsilon()
    y_true, y_pred = y_true.clamp(eps, 1.0), y_pred.clamp(eps, 1.0)
    return F.kl_div(torch.log(y_pred), y_true, reduction="none").sum(dim=-1)


def poisson(y_true, y_pred):
    """Poisson loss: `mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    return F.poisson_nll_loss(y_pred, y_true, log_input=False, eps=config.epsilon(), reduction="none").mean(dim=-1)


def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1}; other labels (already -1/1) stay; decided on the device, without a sync."""
    is_binary = torch.all((y_true == 0) | (y_true == 1))
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    """Hinge loss: `mean(max(1 - y_true * y_pred, 0), axis=-1)`; labels 0/1 are read as -1/1."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    return F.relu(1.0 - _hinge_labels(y_true) * y_pred).mean(dim=-1)


def squared_hinge(y_true, y_pred):
    """Squared hinge loss: `mean(square(max(1 - y_true * y_pred, 0)), axis=-1)`; labels 0/1 are read as -1/1."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    return torch.square(F.relu(1.0 - _hinge_labels(y_true) * y_pred)).mean(dim=-1)


def categorical_hinge(y_true, y_pred):
    """`max(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred)` and `neg = max((1 - y_true) * y_pred)`."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    pos = torch.sum(y_true * y_pred, dim=-1)
    neg = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    return F.relu(neg - pos + 1.0)


def _warn_single_class(loss_name, y_pred):
    if y_pred.dim() and y_pred.shape[-1] == 1:
        warnings.warn(
            f"In loss {loss_name}, expected y_pred.shape to be (batch_size, num_classes) with num_classes > 1. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}. Consider using 'binary_crossentropy' if you only have "
            f"2 classes.", SyntaxWarning, stacklevel=3,
        )


def _smooth_categorical(y_true, label_smoothing):
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]  # Keras divides by the last axis


def _check_axis(axis):
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")


def _normalized_probabilities(y_pred, axis):
    """Keras's treatment of probabilities: rescale to sum to 1 along `axis`, then clip to `[eps, 1 - eps]`."""
    eps = config.epsilon()
    return (y_pred / y_pred.sum(dim=axis, keepdim=True)).clamp(eps, 1.0 - eps)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Categorical cross-entropy for one-hot (or soft) labels: `-sum(y_true * log(y_pred), axis)`.

    Arguments:
        from_logits: whether `y_pred` holds logits (log-softmax is applied) rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y_true * (1 - s) + s / num_classes`.
        axis: the class axis.

    Example:
        >>> categorical_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.8]]))
        tensor([0.2231])
    """
    _check_axis(axis)
    y_true, y_pred = _pred_true(y_true, y_pred)
    _warn_single_class("categorical_crossentropy", y_pred)
    if y_true.shape != y_pred.shape:
        _one_hot_check("categorical_crossentropy")(y_true, y_pred)
        raise ValueError(f"categorical_crossentropy expects y_true and y_pred of the same shape; got "
                         f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}.")
    y_true = _smooth_categorical(y_true, label_smoothing)
    y_pred, from_logits = _use_logits(y_pred, from_logits)
    if from_logits:
        log_prob = F.log_softmax(y_pred, dim=axis)
    else:
        log_prob = torch.log(_normalized_probabilities(y_pred, axis))
    return -torch.sum(y_true * log_prob, dim=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """Focal cross-entropy for one-hot labels: `-sum(alpha * (1 - p)**gamma * y_true * log(p), axis)`.

    Arguments:
        alpha: weight of every class's term.
        gamma: focusing exponent; larger values down-weight well-classified examples.
        from_logits, label_smoothing, axis: as in `categorical_crossentropy`.
    """
    _check_axis(axis)
    y_true, y_pred = _pred_true(y_true, y_pred)
    _warn_single_class("categorical_focal_crossentropy", y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        y_pred = F.softmax(y_pred, dim=axis)
    output = _normalized_probabilities(y_pred, axis)
    focal = alpha * torch.pow(1.0 - output, gamma) * (-y_true * torch.log(output))
    return focal.sum(dim=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy for integer class labels: `-log(y_pred[y_true])`.

    `y_true` holds class ids of shape `(batch,)` or `(batch, 1)` (or `(batch, steps)` for sequences), as integers
    or as integer-valued floats. Probabilities are rescaled and clipped as Keras does, but only the probability of
    the true class is gathered, so no one-hot matrix is built.

    Arguments:
        from_logits: whether `y_pred` holds logits (`torch.nn.functional.cross_entropy`) rather than probabilities.
        ignore_class: a label value whose positions count for nothing (their loss is 0 and they are masked out of
            the average), e.g. the padding id of a segmentation map.
        axis: the class axis of `y_pred`.

    Example:
        >>> sparse_categorical_crossentropy(torch.tensor([1, 0]), torch.tensor([[0.2, 0.8], [0.5, 0.5]]))
        tensor([0.2231, 0.6931])
    """
    y_pred = _tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.standardize_dtype())
    y_true = _tensor(y_true, y_pred.device)
    axis = axis % max(y_pred.dim(), 1)
    if y_true.dim() == y_pred.dim() and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    if list(y_true.shape) != [d for i, d in enumerate(y_pred.shape) if i != axis]:
        _check_sparse_labels(y_true, y_pred, axis=axis)  # names the usual mistakes
        raise ValueError(f"sparse_categorical_crossentropy expects labels of shape {tuple(y_pred.shape[:axis])} for "
                         f"y_pred of shape {tuple(y_pred.shape)}; got {tuple(y_true.shape)}.")
    labels = y_true.long()
    y_pred, from_logits = _use_logits(y_pred, from_logits)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = torch.where(valid, labels, torch.zeros_like(labels))
    if from_logits:
        logits = y_pred if y_pred.dim() < 2 else y_pred.movedim(axis, 1)
        result = F.cross_entropy(logits, labels, reduction="none")
    else:
        eps = config.epsilon()
        true_prob = y_pred.gather(axis, labels.unsqueeze(axis)).squeeze(axis) / y_pred.sum(dim=axis)
        result = -torch.log(true_prob.clamp(eps, 1.0 - eps))
    if valid is not None:
        result = torch.where(valid, result, torch.zeros_like(result))
        setattr(result, MASK_ATTR, valid)
    return result


def _binary_crossentropy_elements(y_true, y_pred, from_logits):
    if y_true.shape != y_pred.shape:
        raise ValueError(f"binary_crossentropy expects y_true and y_pred of the same shape; got "
                         f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}; reshape the labels to match the outputs.")
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    eps = config.epsilon()
    y_pred = y_pred.clamp(eps, 1.0 - eps)
    # Written out because F.binary_cross_entropy refuses to run under autocast (mixed precision); with the clip
    # above both logarithms are finite, so this equals it.
    return -(y_true * torch.log(y_pred) + (1.0 - y_true) * torch.log1p(-y_pred))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy: `mean(-(y * log(p) + (1 - y) * log(1 - p)), axis)`.

    Arguments:
        from_logits: whether `y_pred` holds logits (`binary_cross_entropy_with_logits`) rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y_true * (1 - s) + 0.5 * s`.
        axis: the axis averaged over.

    Example:
        >>> binary_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.4, 0.6]]))
        tensor([0.5108])
    """
    y_true, y_pred = _pred_true(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    y_pred, from_logits = _use_logits(y_pred, from_logits)
    return _binary_crossentropy_elements(y_true, y_pred, from_logits).mean(dim=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """Focal binary cross-entropy: `mean((1 - p_t)**gamma * bce, axis)`, `p_t` the probability of the true label.

    Arguments:
        apply_class_balancing: multiply positives by `alpha` and negatives by `1 - alpha`.
        alpha: the class-balancing weight.
        gamma: focusing exponent; 0 gives binary cross-entropy.
        from_logits, label_smoothing, axis: as in `binary_crossentropy`.
    """
    y_true, y_pred = _pred_true(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    bce = _binary_crossentropy_elements(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return focal.mean(dim=axis)


def dice(y_true, y_pred, axis=None):
    """Dice loss: `1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + eps)`.

    Arguments:
        axis: the axes summed over; None sums over everything (one value for the batch).
    """
    y_true, y_pred = _pred_true(y_true, y_pred)
    dims = () if axis is None else axis
    intersection = torch.sum(y_true * y_pred, dim=dims)
    return 1 - 2.0 * intersection / (torch.sum(y_true, dim=dims) + torch.sum(y_pred, dim=dims) + config.epsilon())


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """Tversky loss: `1 - TP / (TP + alpha * FP + beta * FN + epsilon)` on soft counts (`alpha = beta = 0.5`: Dice),
    with `TP = sum(y_true * y_pred)` and, in Keras's naming, `FP = sum(y_true * (1 - y_pred))` and
    `FN = sum((1 - y_true) * y_pred)`.

    Arguments:
        alpha: weight of `FP` (Keras's "false positives").
        beta: weight of `FN` (Keras's "false negatives").
        axis: the axes summed over; None sums over everything.
    """
    y_true, y_pred = _pred_true(y_true, y_pred)
    dims = () if axis is None else axis
    tp = torch.sum(y_true * y_pred, dim=dims)
    fp = torch.sum((1 - y_pred) * y_true, dim=dims)  # Keras's naming, kept so results match
    fn = torch.sum(y_pred * (1 - y_true), dim=dims)
    return 1 - tp / (tp + fp * alpha + fn * beta + config.epsilon())


sparse_categorical_crossentropy.validate_targets = _check_sparse_labels
categorical_crossentropy.validate_targets = _one_hot_check("categorical_crossentropy")
categorical_focal_crossentropy.validate_targets = _one_hot_check("categorical_focal_crossentropy")
categorical_hinge.validate_targets = _one_hot_check("categorical_hinge")
binary_crossentropy.validate_targets = _check_binary_labels
binary_focal_crossentropy.validate_targets = _check_binary_labels

# Keras's short and legacy names.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
bce = BCE = binary_crossentropy


# ----------------------------------------------------------------------------------------------------------------
# Loss classes
# ----------------------------------------------------------------------------------------------------------------

class Loss:
    """Base class of losses: `loss(y_true, y_pred, sample_weight=None)` gives the weighted, reduced loss.

    Subclasses implement `call(y_true, y_pred)`, returning one loss per sample. `__call__` converts both inputs to
    the loss's dtype, multiplies the per-sample losses by `sample_weight` (broadcast as Keras does) and reduces:

    - `"sum_over_batch_size"` (default) and `"mean"`: the sum of the weighted losses divided by their number of
      elements (not by the sum of the weights, so weights of 0 still count in the denominator);
    - `"mean_with_sample_weight"`: the sum divided by the sum of the weights;
    - `"sum"`: the sum;
    - `None` or `"none"`: no reduction, the weighted per-sample losses.

    Arguments:
        name: the name shown in logs; by default the class name in snake_case.
        reduction: one of the reductions above.
        dtype: the float type of the computation (default `deepglass.config.floatx()`).

    Example:
        >>> class MyMSE(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return torch.mean(torch.square(y_pred - y_true), dim=-1)
    """

    _cast_targets = True  # labels are converted to the loss's dtype before `call`, as Keras does

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or naming.unique_name(naming.to_snake_case(type(self).__name__))
        self.reduction = standardize_reduction(reduction)
        self._dtype = _compute_dtype(dtype)

    @property
    def dtype(self):
        """The float type of the computation, as a string (`"float32"`)."""
        return _dtype_name(self._dtype)

    _batch_mean = None  # a function giving the unweighted batch mean directly, where one is known (`_BATCH_MEANS`)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if (sample_weight is None and self._batch_mean is not None and type(y_pred) is torch.Tensor and
                type(y_true) is torch.Tensor and y_pred.dtype == self._dtype and y_true.device == y_pred.device and
                getattr(y_pred, MASK_ATTR, None) is None):
            value = self._batch_mean(y_true, y_pred)  # None where the shapes or options need the general path
            if value is not None:
                return value
        in_mask = getattr(y_pred, MASK_ATTR, None)
        y_pred = _tensor(y_pred).to(self._dtype)
        y_true = _tensor(y_true, y_pred.device)
        if self._cast_targets or y_true.is_floating_point():
            y_true = y_true.to(self._dtype)
        losses = self.call(y_true, y_pred)
        out_mask = getattr(losses, MASK_ATTR, None)
        if in_mask is not None and out_mask is not None:
            mask = in_mask.to(out_mask.device) & out_mask
        else:
            mask = out_mask if out_mask is not None else in_mask
        return reduce_weighted_values(losses, sample_weight, mask, self.reduction, self._dtype)

    def call(self, y_true, y_pred):
        """The loss of each sample; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement `call(y_true, y_pred)`.")

    def validate_targets(self, y_true, y_pred):
        """Check the labels suit this loss; the fit loop calls it once on the first batch. The base does nothing."""

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A `Loss` made from a loss function: `LossFunctionWrapper(fn, **kwargs)` computes `fn(y_true, y_pred, **kwargs)`.

    Its `validate_targets` runs the function's own check (`fn.validate_targets`) where it has one.

    Arguments:
        fn: a function `(y_true, y_pred, **kwargs)` returning one loss per sample.
        reduction, name, dtype: as in `Loss`.
        **kwargs: passed to `fn` on every call.

    Example:
        >>> loss = LossFunctionWrapper(binary_crossentropy, from_logits=True)
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs
        # The built-in functions convert labels themselves; integer class ids then skip a float round trip.
        self._cast_targets = fn not in _FUNCTIONS
        if fn in _BATCH_MEANS and self.reduction == "sum_over_batch_size":
            self._batch_mean = functools.partial(_BATCH_MEANS[fn], **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def validate_targets(self, y_true, y_pred):
        check = getattr(self.fn, "validate_targets", None)
        if check is not None:
            y_true, y_pred = squeeze_or_expand_to_same_rank(_tensor(y_true), _tensor(y_pred))
            check(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), "fn": serialize(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({getattr(self.fn, '__name__', self.fn)}, kwargs={self._fn_kwargs})>"


class _Builtin(LossFunctionWrapper):
    """A built-in loss class: its config is its own constructor arguments (`_keys`), not the wrapped function."""

    _keys = ()

    def get_config(self):
        return {**Loss.get_config(self), **{key: getattr(self, key) for key in self._keys}}

    def __repr__(self):
        return Loss.__repr__(self)


class MeanSquaredError(_Builtin):
    """Mean of squares of errors: `mean(square(y_true - y_pred))`.

    Arguments:
        reduction, name, dtype: as in `Loss`.

    Example:
        >>> MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        tensor(0.5000)
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_Builtin):
    """Mean of absolute errors: `mean(abs(y_true - y_pred))`. Arguments as in `Loss`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_Builtin):
    """`100 * mean(abs((y_true - y_pred) / y_true))`, the denominator kept at least epsilon. Arguments as in `Loss`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction, dtype=dtype)


class MeanSquaredLogarithmicError(_Builtin):
    """`mean(square(log(y_true + 1) - log(y_pred + 1)))`. Arguments as in `Loss`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(_Builtin):
    """Negative cosine similarity, `-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`: -1 for the same
    direction, 1 for opposite ones.

    Arguments:
        axis: the axis along which the similarity is computed.
        reduction, name, dtype: as in `Loss`.
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis)


class Huber(_Builtin):
    """Huber loss: `0.5 * x**2` for errors `|x| <= delta`, `delta * (|x| - 0.5 * delta)` beyond (see `huber`).

    Arguments:
        delta: where the loss turns from quadratic to linear.
        reduction, name, dtype: as in `Loss`.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class LogCosh(_Builtin):
    """`mean(log(cosh(y_pred - y_true)))`: about `x**2 / 2` for small errors, `|x| - log(2)` for large ones."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)


class Hinge(_Builtin):
    """Hinge loss `mean(max(1 - y_true * y_pred, 0))` for labels -1/1 (0/1 are converted). Arguments as in `Loss`."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_Builtin):
    """Squared hinge loss `mean(square(max(1 - y_true * y_pred, 0)))`. Arguments as in `Loss`."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_Builtin):
    """Categorical hinge `max(neg - pos + 1, 0)` for one-hot labels (see `categorical_hinge`)."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)


class KLDivergence(_Builtin):
    """Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))`, both clipped to `[epsilon, 1]`. Arguments
    as in `Loss`."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(_Builtin):
    """Poisson loss `mean(y_pred - y_true * log(y_pred + epsilon))`, for count data. Arguments as in `Loss`."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(_Builtin):
    """Binary cross-entropy, for labels in [0, 1] and one probability (or logit) per output.

    Arguments:
        from_logits: whether `y_pred` holds logits rather than probabilities (more stable: no sigmoid in the model).
        label_smoothing: in [0, 1]; labels become `y_true * (1 - s) + 0.5 * s`.
        axis: the axis averaged over.
        reduction, name, dtype: as in `Loss`.

    Example:
        >>> BinaryCrossentropy(from_logits=True)(torch.tensor([[0.0, 1.0]]), torch.tensor([[-2.0, 3.0]]))
        tensor(0.0878)
    """

    _keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class BinaryFocalCrossentropy(_Builtin):
    """Binary focal cross-entropy: binary cross-entropy scaled by `(1 - p_t)**gamma` (see `binary_focal_crossentropy`).

    Arguments:
        apply_class_balancing, alpha, gamma: as in `binary_focal_crossentropy`.
        from_logits, label_smoothing, axis: as in `BinaryCrossentropy`.
        reduction, name, dtype: as in `Loss`.
    """

    _keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self.apply_class_balancing, self.alpha, self.gamma = apply_class_balancing, alpha, gamma


class CategoricalCrossentropy(_Builtin):
    """Categorical cross-entropy, for one-hot (or soft) labels of shape `(batch, num_classes)`.

    For integer class ids use `SparseCategoricalCrossentropy`.

    Arguments:
        from_logits: whether `y_pred` holds logits rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y_true * (1 - s) + s / num_classes`.
        axis: the class axis.
        reduction, name, dtype: as in `Loss`.

    Example:
        >>> CategoricalCrossentropy()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.8]]))
        tensor(0.2231)
    """

    _keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class CategoricalFocalCrossentropy(_Builtin):
    """Categorical focal cross-entropy `-sum(alpha * (1 - p)**gamma * y_true * log(p), axis)`, for one-hot labels
    (see `categorical_focal_crossentropy`).

    Arguments:
        alpha, gamma: as in `categorical_focal_crossentropy`.
        from_logits, label_smoothing, axis: as in `CategoricalCrossentropy`.
        reduction, name, dtype: as in `Loss`.
    """

    _keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self.alpha, self.gamma = alpha, gamma


class SparseCategoricalCrossentropy(_Builtin):
    """Cross-entropy for integer class labels (`(batch,)` or `(batch, 1)`), the usual loss of a classifier.

    Arguments:
        from_logits: whether `y_pred` holds logits rather than probabilities.
        ignore_class: a label value whose positions are left out of the loss and of its average.
        reduction: as in `Loss`.
        axis: the class axis of `y_pred`.
        name, dtype: as in `Loss`.

    Example:
        >>> SparseCategoricalCrossentropy()(torch.tensor([1, 0]), torch.tensor([[0.2, 0.8], [0.5, 0.5]]))
        tensor(0.4581)
    """

    _keys = ("from_logits", "ignore_class", "axis")

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis


class Dice(_Builtin):
    """Dice loss `1 - 2|y_true * y_pred| / (|y_true| + |y_pred|)`, for segmentation masks.

    Arguments:
        reduction, name: as in `Loss`.
        axis: the axes summed over; None sums over everything (one value for the batch).
        dtype: as in `Loss`.
    """

    _keys = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        axis = tuple(axis) if isinstance(axis, list) else axis  # a config read from JSON gives a list
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(_Builtin):
    """Tversky loss `1 - TP / (TP + alpha * FP + beta * FN + epsilon)`, a Dice loss with separate error weights
    (`TP`, `FP`, `FN` as in `tversky`).

    Arguments:
        alpha: weight of `FP = sum(y_true * (1 - y_pred))` (Keras's "false positives").
        beta: weight of `FN = sum((1 - y_true) * y_pred)` (Keras's "false negatives").
        reduction, name: as in `Loss`.
        axis: the axes summed over; None sums over everything.
        dtype: as in `Loss`.
    """

    _keys = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        axis = tuple(axis) if isinstance(axis, list) else axis
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha, beta=beta, axis=axis)
        self.alpha, self.beta, self.axis = alpha, beta, axis


# ----------------------------------------------------------------------------------------------------------------
# Look-up by name, serialization
# ----------------------------------------------------------------------------------------------------------------

def checks_labels_where_they_are(loss):
    """Whether `loss.validate_targets` is one of deepglass's own label checks, which read the labels on whatever
    device they are (so the host's copy serves, with no wait for an accelerator). A check of the user's gets the labels
    on the predictions' device, as it always has."""
    own_check = type(loss).validate_targets is LossFunctionWrapper.validate_targets
    return isinstance(loss, LossFunctionWrapper) and own_check and loss.fn in _FUNCTIONS


_CLASSES = (Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
            MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge,
            KLDivergence, Poisson, BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
            CategoricalFocalCrossentropy, SparseCategoricalCrossentropy, Dice, Tversky)
_FUNCTIONS = (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error,
              cosine_similarity, huber, log_cosh, hinge, squared_hinge, categorical_hinge, kl_divergence, poisson,
              binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy,
              sparse_categorical_crossentropy, dice, tversky)
ALL_OBJECTS = {obj.__name__: obj for obj in _CLASSES + _FUNCTIONS}
_BATCH_MEANS = {mean_squared_error: batch_means.mean_squared_error,
                sparse_categorical_crossentropy: batch_means.sparse_categorical_crossentropy,
                categorical_crossentropy: batch_means.categorical_crossentropy,
                binary_crossentropy: batch_means.binary_crossentropy}
ALL_OBJECTS.update({"mse": mse, "MSE": mse, "mae": mae, "MAE": mae, "mape": mape, "MAPE": mape, "msle": msle,
                    "MSLE": msle, "kld": kld, "KLD": kld, "kullback_leibler_divergence": kld, "logcosh": log_cosh,
                    "bce": bce, "BCE": bce})
# Case-insensitive fallback; where a class and a function share a lower-case name ("poisson"), the function wins.
_LOWER = {**{c.__name__.lower(): c for c in _CLASSES}, **{k.lower(): v for k, v in ALL_OBJECTS.items()
                                                         if not inspect.isclass(v)}}


def _lookup(name, custom_objects=None):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in ALL_OBJECTS:
        return ALL_OBJECTS[name]
    return naming.lookup("loss", name, _LOWER)


def serialize(loss):
    """A loss as JSON-safe data: `{"class_name": ..., "config": ...}` for a `Loss`, and for a function
    `{"class_name": "function", "config": "<its name>"}` (Keras's form)."""
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    if callable(loss) and hasattr(loss, "__name__"):
        return {"class_name": "function", "config": loss.__name__}
    raise ValueError(f"Expected a Loss instance or a loss function to serialize; received: {loss!r}.")


def deserialize(config, custom_objects=None):
    """Rebuild a loss from `serialize`'s output or from a name; `custom_objects` maps extra names to classes or
    functions. Only known names are built, so a config from a file never runs code it names."""
    if isinstance(config, str):
        return _lookup(config, custom_objects)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a loss name or a dict with keys 'class_name' and 'config'; received: {config!r}.")
    if config["class_name"] == "function":
        return _lookup(config["config"], custom_objects)
    cls = _lookup(config["class_name"], custom_objects)
    if not (inspect.isclass(cls) and issubclass(cls, Loss)):
        raise ValueError(f"Expected the name of a Loss class in 'class_name'; received: {config['class_name']!r}.")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """A loss from an identifier, as Keras's `losses.get`.

    None gives None; a function name (`"mse"`, `"sparse_categorical_crossentropy"`) gives the function (which
    carries `validate_targets` where a check exists); a class name (`"MeanSquaredError"`) or a config dict gives an
    instance; a class gives its default instance; a callable or `Loss` instance is returned as is.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _lookup(identifier)
    else:
        obj = identifier
    if inspect.isclass(obj):
        return obj()
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret loss identifier: expected None, a name, a config dict or a callable; "
                     f"received: {identifier!r}.")


def is_binary_or_sparse_categorical(y_true, y_pred):
    """`(is_binary, is_sparse)` from the shapes of labels and predictions, as Keras decides what "accuracy" means."""
    true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
    is_binary = pred_shape[-1] == 1
    is_sparse = len(true_shape) < len(pred_shape) or (true_shape[-1] == 1 and pred_shape[-1] > 1)
    return is_binary, is_sparse


def resolve(identifier, y_true, y_pred):
    """The `Loss` that `compile(loss=identifier)` trains with, given the first batch's labels and predictions.

    `"crossentropy"` / `"ce"` become binary, sparse categorical or categorical cross-entropy by the shapes (Keras's
    rule); anything else goes through `get`; a function is wrapped in a `LossFunctionWrapper` named after the string
    given (or the function), so that `validate_targets` and the reductions apply.
    """
    if identifier is None:
        return None
    if str(identifier).lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = is_binary_or_sparse_categorical(y_true, y_pred)
        obj = binary_crossentropy if is_binary else (
            sparse_categorical_crossentropy if is_sparse else categorical_crossentropy)
    else:
        obj = get(identifier)
    if isinstance(obj, Loss):
        return obj
    name = identifier if isinstance(identifier, str) else getattr(obj, "__name__", None) or naming.to_snake_case(
        type(obj).__name__)
    return LossFunctionWrapper(obj, name=name)
