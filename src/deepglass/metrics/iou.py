"""Intersection-over-union metrics for segmentation: `IoU`, `MeanIoU`, `BinaryIoU` and their one-hot forms.

They accumulate a `(num_classes, num_classes)` confusion matrix (rows: labels, columns: predictions) on the
device; `IoU = TP / (TP + FP + FN)` per class is read from it.
"""
import warnings

import torch

from deepglass import config
from deepglass.metrics.base import Metric, as_tensor


class _IoUBase(Metric):
    _direction = "up"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(name=name, dtype=dtype or "int32")  # counts; float weights are truncated, as in Keras
        self.num_classes, self.ignore_class = num_classes, ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.total_cm = self.add_variable((num_classes, num_classes), name="total_cm")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add the batch's (weighted) label/prediction pairs; labels or predictions outside the classes (or equal
        to `ignore_class`) are skipped."""
        y_pred = as_tensor(y_pred)
        y_true = as_tensor(y_true, y_pred.device)
        self._to_device(y_pred.device)
        if not self.sparse_y_true:
            y_true = y_true.argmax(dim=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(dim=self.axis)
        dtype = self._dtype
        y_true, y_pred = y_true.to(dtype).reshape(-1).long(), y_pred.to(dtype).reshape(-1).long()
        if sample_weight is None:
            weight = torch.ones((), dtype=dtype, device=y_pred.device)
        else:
            weight = as_tensor(sample_weight, y_pred.device)
            if weight.is_floating_point() and not dtype.is_floating_point:
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result in an incorrect "
                              "weight due to type casting Consider using integer weights.", stacklevel=2)
            weight = weight.to(dtype).reshape(-1) if weight.dim() > 1 else weight.to(dtype)
        weight = weight.expand(y_true.shape)
        valid = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            valid &= y_true != self.ignore_class
        index = torch.where(valid, y_true * self.num_classes + y_pred, torch.zeros_like(y_true))
        self.total_cm.view(-1).index_add_(0, index, torch.where(valid, weight, torch.zeros_like(weight)))

    def reset_state(self):
        self.total_cm.zero_()


class IoU(_IoUBase):
    """Intersection-over-union `TP / (TP + FP + FN)`, averaged over `target_class_ids`.

    Classes absent from both labels and predictions are left out of the average.

    Arguments:
        num_classes: the number of classes.
        target_class_ids: the classes whose IoU is averaged.
        name: as in `Metric`.
        dtype: the type of the counts (default `"int32"`).
        ignore_class: a label value to skip (e.g. the void class of a segmentation map).
        sparse_y_true: labels are class ids (True) or one-hot (False, arg-maxed along `axis`).
        sparse_y_pred: predictions are class ids (True) or scores (False, arg-maxed along `axis`).
        axis: the class axis for the arg-max.

    Example:
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        >>> m.result()
        tensor(0.3333)
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which is [0, {num_classes}).")
        self.target_class_ids = [int(i) for i in target_class_ids]
        self._add_constant("_target_ids", torch.tensor(self.target_class_ids, dtype=torch.long))

    def result(self):
        cm = self.total_cm.float()
        true_positives = torch.diagonal(cm)
        denominator = (cm.sum(dim=0) + cm.sum(dim=1) - true_positives)[self._target_ids]
        true_positives = true_positives[self._target_ids]
        valid = denominator > 1e-9
        eps = config.epsilon()
        iou = torch.where(valid, true_positives / (denominator + eps), torch.zeros_like(denominator))
        return iou.sum() / (valid.float().sum() + eps)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of binary labels against predictions thresholded at `threshold` (positive where `y_pred >= threshold`).

    Arguments:
        target_class_ids: which of the classes 0 and 1 to average over.
        threshold: the score from which a prediction counts as 1.
        name, dtype: as in `IoU`.

    Example:
        >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
        >>> m.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])
        >>> m.result()
        tensor(0.3333)
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, dtype=torch.float32)
        super().update_state(y_true, (y_pred >= self.threshold).to(self._dtype), sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes (those present in labels or predictions).

    Arguments:
        num_classes: the number of classes.
        name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis: as in `IoU`.

    Example:
        >>> m = MeanIoU(num_classes=2)
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        >>> m.result()
        tensor(0.3333)
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """`IoU` for one-hot labels (and, by default, score predictions), both arg-maxed along `axis`.

    Arguments: as in `IoU`, with `sparse_y_pred=False` by default.
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` for one-hot labels (and, by default, score predictions). Arguments: as in `MeanIoU`."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config
