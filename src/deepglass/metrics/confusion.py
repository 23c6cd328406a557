"""Metrics from confusion-matrix counts at thresholds: TP/FP/TN/FN, precision, recall, the at-operating-point
metrics and AUC.

Counts are accumulated on the device. With many evenly spaced thresholds (AUC's default) each prediction goes to
one bucket and the counts are a reversed cumulative sum, as in Keras, instead of a thresholds-by-samples comparison.
"""
import numpy as np
import torch

from deepglass import config
from deepglass.losses import _divide_no_nan, squeeze_or_expand_to_same_rank
from deepglass.metrics.base import Metric, as_tensor

NEG_INF = -1e10
_COUNTS = ("true_positives", "false_positives", "true_negatives", "false_negatives")


def parse_thresholds(thresholds, default_threshold=0.5):
    """A list of thresholds from None (the default), a number or a sequence, each checked to lie in [0, 1]."""
    if thresholds is None:
        return [default_threshold]
    values = [float(t) for t in np.atleast_1d(np.asarray(thresholds, dtype=float))]
    invalid = [t for t in values if not 0 <= t <= 1]
    if invalid:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return values


def _config_thresholds(thresholds):
    """The `thresholds` argument as JSON-safe data: None, a float or a list of floats."""
    if thresholds is None or np.ndim(thresholds) == 0:
        return None if thresholds is None else float(thresholds)
    return [float(t) for t in np.asarray(thresholds).reshape(-1)]


def is_evenly_distributed_thresholds(thresholds):
    """True for 3 or more thresholds spaced `i / (n - 1)` (within epsilon), where bucketing applies."""
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=config.epsilon()))


def _filter_top_k(x, k):
    """Keep the `k` largest entries of each row; the rest become NEG_INF, below every threshold."""
    keep = torch.zeros_like(x, dtype=torch.bool).scatter_(-1, x.topk(k, dim=-1).indices, True)
    return torch.where(keep, x, torch.full_like(x, NEG_INF))


def _thresholded_counts(y_true, y_pred, thresholds, weights, multi_label, wanted):
    """Counts by comparing every prediction with every threshold: `(T,)`, or `(T, labels)` when multi-label."""
    if multi_label:
        pred, label, th = y_pred.unsqueeze(0), y_true.bool().unsqueeze(0), thresholds.view(-1, 1, 1)
        weights = None if weights is None else weights.unsqueeze(0)
    else:
        pred, label, th = y_pred.reshape(1, -1), y_true.bool().reshape(1, -1), thresholds.view(-1, 1)
        weights = None if weights is None else weights.reshape(1, -1)
    pred_pos = pred > th
    conditions = {"true_positives": (label, pred_pos), "false_positives": (~label, pred_pos),
                  "true_negatives": (~label, ~pred_pos), "false_negatives": (label, ~pred_pos)}
    counts = {}
    for key in wanted:
        hit = (conditions[key][0] & conditions[key][1]).to(y_pred.dtype)
        counts[key] = (hit if weights is None else hit * weights).sum(dim=1)
    return counts


def _bucketed_counts(y_true, y_pred, num_thresholds, weights, multi_label, with_epsilon, wanted):
    """Counts for evenly spaced thresholds: a weighted histogram of the predictions, summed from the top."""
    y_pred = y_pred.clamp(0.0, 1.0)
    y_true = (y_true != 0).to(y_pred.dtype)
    if not multi_label:
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    true_labels = y_true if weights is None else y_true * weights
    false_labels = 1.0 - y_true if weights is None else (1.0 - y_true) * weights
    # A prediction in (t_i, t_(i+1)] lies above thresholds 0..i: bucket i. Bucket -1 (above none) is dropped,
    # except with an endpoint threshold below 0, which every prediction exceeds.
    bucket = torch.ceil(y_pred * (num_thresholds - 1)) - 1
    bucket = (bucket.clamp(min=0) if with_epsilon else bucket).long()
    kept = bucket >= 0
    bucket = bucket.clamp(min=0)
    if multi_label:
        num_labels = y_pred.shape[-1]
        bucket = (bucket * num_labels + torch.arange(num_labels, device=bucket.device)).reshape(-1)
        shape = (num_thresholds, num_labels)
    else:
        shape = (num_thresholds,)

    def above(labels):
        labels = torch.where(kept, labels, torch.zeros_like(labels)).reshape(-1)
        histogram = torch.zeros(int(np.prod(shape)), dtype=labels.dtype, device=labels.device)
        return histogram.index_add_(0, bucket, labels).view(shape).flip(0).cumsum(0).flip(0)

    counts = {}
    if {"true_positives", "false_negatives"} & set(wanted):
        tp = above(true_labels)
        counts["true_positives"] = tp
        counts["false_negatives"] = true_labels.sum(dim=0) - tp
    if {"false_positives", "true_negatives"} & set(wanted):
        fp = above(false_labels)
        counts["false_positives"] = fp
        counts["true_negatives"] = false_labels.sum(dim=0) - fp
    return counts


def update_confusion_matrix(states, y_true, y_pred, thresholds, evenly=False, with_epsilon=False, top_k=None,
                            class_id=None, sample_weight=None, multi_label=False, label_weights=None):
    """Add one batch's weighted TP/FP/TN/FN counts at each threshold to the tensors in `states`.

    Arguments:
        states: a dict from count names (`"true_positives"`, ...) to state tensors, updated in place.
        thresholds: a tensor of thresholds on the states' device; a prediction is positive when above one.
        evenly: the thresholds are `i / (T - 1)` (bucketing applies); `with_epsilon`: their ends lie outside [0, 1].
        top_k: only each row's `k` largest predictions may count as positive.
        class_id: count only this column of `y_pred`.
        multi_label: keep one count per label (the last axis) instead of pooling them.
        label_weights: a weight per label (pooled counts only).
    """
    dtype = next(iter(states.values())).dtype
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred.to(dtype), y_true.to(dtype))
    if sample_weight is not None:
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight.to(dtype).unsqueeze(-1),
                                                          expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.dim() == 1:
            raise ValueError(f"When class_id is provided, y_pred must be a 2D array with shape (num_samples, "
                             f"num_classes), found shape: {tuple(y_pred.shape)}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    weights = None if sample_weight is None else sample_weight.expand(y_pred.shape)
    if label_weights is not None and not multi_label:
        label_weights = label_weights.unsqueeze(0).expand(y_pred.shape)
        weights = label_weights if weights is None else weights * label_weights
    if evenly:
        counts = _bucketed_counts(y_true, y_pred, thresholds.shape[0], weights, multi_label, with_epsilon, states)
    else:
        counts = _thresholded_counts(y_true, y_pred, thresholds, weights, multi_label, states)
    for key, state in states.items():
        state.add_(counts[key])


class _ThresholdMetric(Metric):
    """Shared by the metrics that count at a list of thresholds."""

    def _set_thresholds(self, thresholds, evenly=None):
        self.thresholds = thresholds
        self._evenly = is_evenly_distributed_thresholds(thresholds) if evenly is None else evenly
        self._with_epsilon = self._evenly and (thresholds[0] < 0.0 or thresholds[-1] > 1.0)
        self._add_constant("_threshold_tensor", torch.tensor(thresholds, dtype=self._dtype))
        for name in self._count_names:
            self.add_variable((len(thresholds),), name=name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add the batch's counts; `sample_weight` weighs each sample (or each entry)."""
        y_pred = as_tensor(y_pred)
        self._to_device(y_pred.device)
        update_confusion_matrix(
            {name: getattr(self, name) for name in self._count_names}, as_tensor(y_true, y_pred.device), y_pred,
            self._threshold_tensor, evenly=self._evenly, with_epsilon=self._with_epsilon,
            top_k=getattr(self, "top_k", None), class_id=getattr(self, "class_id", None),
            sample_weight=None if sample_weight is None else as_tensor(sample_weight, y_pred.device))

    def _single(self, value):
        return value[0] if len(self.thresholds) == 1 else value


class _ConfusionMatrixConditionCount(_ThresholdMetric):
    _count_names = ()

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = _config_thresholds(thresholds)
        self._set_thresholds(parse_thresholds(thresholds))

    def result(self):
        return self._single(getattr(self, self._count_names[0])).clone()

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true positives: label 1 and prediction above the threshold.

    Arguments:
        thresholds: a threshold or a list of thresholds in [0, 1] (default 0.5); with a list the result has one
            count per threshold.
        name, dtype: as in `Metric`.

    Example:
        >>> m = TruePositives()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> m.result()
        tensor(2.)
    """

    _count_names = ("true_positives",)


class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false positives: label 0 and prediction above the threshold. Arguments as in
    `TruePositives`."""

    _count_names = ("false_positives",)


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true negatives: label 0 and prediction at or below the threshold. Arguments as in
    `TruePositives`."""

    _count_names = ("true_negatives",)


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false negatives: label 1 and prediction at or below the threshold. Arguments as in
    `TruePositives`."""

    _count_names = ("false_negatives",)


class _PrecisionRecall(_ThresholdMetric):
    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds, self.top_k, self.class_id = _config_thresholds(thresholds), top_k, class_id
        self._set_thresholds(parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF))

    def result(self):
        tp, other = (getattr(self, name) for name in self._count_names)
        return self._single(_divide_no_nan(tp, tp + other))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """Precision `TP / (TP + FP)`: of the predictions called positive, the fraction that are.

    Arguments:
        thresholds: a threshold or a list of thresholds in [0, 1] (default 0.5; with `top_k`, none).
        top_k: count only each sample's `k` highest predictions as positive.
        class_id: the class (column of `y_pred`) to measure, for one-vs-rest precision.
        name, dtype: as in `Metric`.

    Example:
        >>> m = Precision()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> m.result()
        tensor(0.6667)
    """

    _count_names = ("true_positives", "false_positives")


class Recall(_PrecisionRecall):
    """Recall `TP / (TP + FN)`: of the positives, the fraction predicted positive. Arguments as in `Precision`.

    Example:
        >>> m = Recall()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> m.result()
        tensor(0.6667)
    """

    _count_names = ("true_positives", "false_negatives")


class _AtOperatingPoint(_ThresholdMetric):
    """Sensitivity, specificity, precision and recall at the best threshold meeting a constraint."""

    _direction = "up"
    _count_names = _COUNTS
    _value_name = ""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if not 0 <= value <= 1:
            raise ValueError(f"Argument `{self._value_name}` must be in the range [0, 1]. "
                             f"Received: {self._value_name}={value}")
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        super().__init__(name=name, dtype=dtype)
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        setattr(self, self._value_name, value)
        if num_thresholds == 1:
            self._set_thresholds([0.5], evenly=False)
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._set_thresholds([0.0] + inner + [1.0], evenly=True)

    def _rates(self):
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        return {"sensitivity": _divide_no_nan(tp, tp + fn), "specificity": _divide_no_nan(tn, tn + fp),
                "precision": _divide_no_nan(tp, tp + fp)}

    def _max_under_constraint(self, constrained, dependent):
        feasible = constrained >= self.value
        return torch.where(feasible, dependent, torch.zeros_like(dependent)).max().clamp(min=0)

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._value_name: self.value}


class SensitivityAtSpecificity(_AtOperatingPoint):
    """The best sensitivity (recall) among thresholds whose specificity is at least `specificity`.

    Arguments:
        specificity: the least specificity required, in [0, 1].
        num_thresholds: how many evenly spaced thresholds to try.
        class_id: the class (column of `y_pred`) to measure.
        name, dtype: as in `Metric`.
    """

    _value_name = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["specificity"], rates["sensitivity"])


class SpecificityAtSensitivity(_AtOperatingPoint):
    """The best specificity among thresholds whose sensitivity is at least `sensitivity`. Arguments as in
    `SensitivityAtSpecificity`, with `sensitivity` the least sensitivity required."""

    _value_name = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["sensitivity"], rates["specificity"])


class PrecisionAtRecall(_AtOperatingPoint):
    """The best precision among thresholds whose recall is at least `recall`. Arguments as in
    `SensitivityAtSpecificity`, with `recall` the least recall required."""

    _value_name = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["sensitivity"], rates["precision"])


class RecallAtPrecision(_AtOperatingPoint):
    """The best recall among thresholds whose precision is at least `precision`. Arguments as in
    `SensitivityAtSpecificity`, with `precision` the least precision required."""

    _value_name = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self):
        rates = self._rates()
        return self._max_under_constraint(rates["precision"], rates["sensitivity"])


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(_ThresholdMetric):
    """Area under the ROC or precision-recall curve, approximated over `num_thresholds` thresholds.

    The curve's points come from TP/FP/TN/FN counts at each threshold; the area is a Riemann sum whose heights
    follow `summation_method`: `"interpolation"` (trapezoids for ROC; for PR, Davis & Goadrich's interpolation),
    `"minoring"` (lower sums) or `"majoring"` (upper sums).

    Arguments:
        num_thresholds: how many thresholds (evenly spaced in [0, 1]) to evaluate the curve at; more is closer.
        curve: `"ROC"`, `"PR"` or `"PRGAIN"`.
        summation_method: `"interpolation"`, `"minoring"` or `"majoring"`.
        name, dtype: as in `Metric`.
        thresholds: explicit thresholds in [0, 1] instead of `num_thresholds`.
        multi_label: compute one curve per label (last axis of `y_pred`) and average the areas.
        num_labels: the number of labels when `multi_label`, to create the state before the first batch.
        label_weights: a weight per label: for averaging areas (multi-label) or for the pooled counts.
        from_logits: apply a sigmoid to `y_pred` first.

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> m.result()
        tensor(0.7500)
    """

    _direction = "up"
    _count_names = _COUNTS

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        if str(curve).lower() not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]')
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                             f'["interpolation", "majoring", "minoring"]')
        super().__init__(name=name, dtype=dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
            evenly = is_evenly_distributed_thresholds([0.0] + inner + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        eps = config.epsilon()
        self._threshold_list = [0.0 - eps] + inner + [1.0 + eps]  # endpoints outside [0, 1] for rounding
        self._evenly, self._with_epsilon = evenly, True
        self._add_constant("_threshold_tensor", torch.tensor(self._threshold_list, dtype=self._dtype))
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self.multi_label, self.num_labels = multi_label, num_labels
        self.label_weights = None if label_weights is None else [float(w) for w in label_weights]
        if self.label_weights is not None:
            self._add_constant("_label_weight_tensor", torch.tensor(self.label_weights, dtype=self._dtype))
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build(num_labels)
        elif num_labels:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        else:
            self._build(None)

    @property
    def thresholds(self):
        """The thresholds the curve is evaluated at, endpoints included."""
        return list(self._threshold_list)

    def _build(self, num_labels):
        self._num_labels = num_labels
        shape = (self.num_thresholds, num_labels) if self.multi_label else (self.num_thresholds,)
        for name in _COUNTS:
            self.add_variable(shape, name=name)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred)
        if not self._built:
            if y_pred.dim() != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {y_pred.dim()}. "
                                 f"Full shape received for `y_pred`: {tuple(y_pred.shape)}")
            self._build(y_pred.shape[1])
        self._to_device(y_pred.device)
        if self._from_logits:
            y_pred = torch.sigmoid(y_pred)
        label_weights = None if self.multi_label else getattr(self, "_label_weight_tensor", None)
        update_confusion_matrix(
            {name: getattr(self, name) for name in _COUNTS}, as_tensor(y_true, y_pred.device), y_pred,
            self._threshold_tensor, evenly=self._evenly, with_epsilon=self._with_epsilon,
            sample_weight=None if sample_weight is None else as_tensor(sample_weight, y_pred.device),
            multi_label=self.multi_label, label_weights=label_weights)

    def _average(self, by_label):
        if not self.multi_label:
            return by_label.sum()
        by_label = by_label.sum(dim=0)
        if self.label_weights is None:
            return by_label.mean()
        weights = self._label_weight_tensor
        return _divide_no_nan((by_label * weights).sum(), weights.sum())

    def interpolate_pr_auc(self):
        """PR-AUC by Davis & Goadrich's interpolation between the thresholds' points (exact for linear counts)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, dp.clamp(min=0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = torch.where(both, _divide_no_nan(p[:-1], p[1:].clamp(min=0)), torch.ones_like(p[1:]))
        increment = _divide_no_nan(slope * (dtp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp(min=0))
        return self._average(increment)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN; a gain is set to 0 (recall) or 1 (precision) where there are no true positives
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * _divide_no_nan(fp, tp)
            no_tp = tp == 0
            x = torch.where(no_tp, torch.zeros_like(recall_gain), recall_gain).clamp(min=0)
            y = torch.where(no_tp, torch.ones_like(precision_gain), precision_gain)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": self.label_weights,
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self._threshold_list[1:-1]
        return config
