"""The common losses' unweighted batch means in one torch call each: the training step's fast path.

`Loss.__call__` uses these when there are no sample weights or masks and the reduction is the default
`"sum_over_batch_size"`; each gives what the general path (per-sample losses, then their mean) gives, up to
rounding, or None where its shapes or options need the general path. Cross-entropy takes this path only from logits:
given with `from_logits=True`, or remembered by a softmax or sigmoid output (see `losses._use_logits`).
"""
import torch
import torch.nn.functional as F


def _logits(y_pred, from_logits):
    if from_logits:
        return y_pred
    logits = getattr(y_pred, "_keras_logits", None)
    return logits if logits is not None and logits.shape == y_pred.shape else None


def mean_squared_error(y_true, y_pred):
    if y_pred.dim() < 2 or y_true.shape != y_pred.shape:
        return None
    return F.mse_loss(y_pred, _as_dtype(y_true, y_pred.dtype))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    if ignore_class is not None or y_pred.dim() != 2 or axis not in (-1, 1) or y_true.is_floating_point():
        return None
    if y_true.dim() == 2 and y_true.shape[1] == 1:
        y_true = y_true.view(-1)
    logits = _logits(y_pred, from_logits)
    if logits is None or y_true.shape != y_pred.shape[:1]:
        return None
    return F.cross_entropy(_as_dtype(logits, y_pred.dtype), _as_dtype(y_true, torch.int64))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    logits = _logits(y_pred, from_logits)
    if logits is None or y_pred.dim() != 2 or axis not in (-1, 1) or y_true.shape != y_pred.shape:
        return None
    # torch smooths soft targets as Keras does: y * (1 - s) + s / num_classes
    return F.cross_entropy(_as_dtype(logits, y_pred.dtype), _as_dtype(y_true, y_pred.dtype),
                           label_smoothing=label_smoothing)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    logits = _logits(y_pred, from_logits)
    if logits is None or y_pred.dim() < 2 or axis != -1 or y_true.shape != y_pred.shape:
        return None
    y_true = _as_dtype(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return F.binary_cross_entropy_with_logits(_as_dtype(logits, y_pred.dtype), y_true)


def _as_dtype(tensor, dtype):
    """`tensor.to(dtype)` without the operator call when it already has it: these run at every step."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)
