"""F-scores: `FBetaScore` and `F1Score`, per class or averaged."""
import torch

from deepglass import config
from deepglass.metrics.base import Metric, as_tensor


class FBetaScore(Metric):
    """F-beta score `(1 + beta**2) * precision * recall / (beta**2 * precision + recall)`, per class.

    Inputs are 2-D `(batch, classes)`: one-hot (or multi-hot) labels and scores. A prediction is positive above
    `threshold`, or, with `threshold=None`, where it is the row's largest score.

    Arguments:
        average: None (one score per class), `"micro"` (pooled counts), `"macro"` (mean of the class scores) or
            `"weighted"` (mean weighted by each class's number of true labels).
        beta: how many times more recall counts than precision (a float > 0).
        threshold: the score above which a prediction is positive, in (0, 1]; None: the arg-max.
        name, dtype: as in `Metric`.

    Example:
        >>> m = FBetaScore(beta=2.0, threshold=0.5)
        >>> m.update_state([[0, 1], [1, 0]], [[0.2, 0.9], [0.6, 0.7]])
        >>> m.result()
        tensor([1.0000, 0.8333])
    """

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"Received an invalid value for `beta`, expected a Python float > 0. "
                             f"Received: beta={beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError("Received an invalid value for `threshold`, expected a Python float with "
                             f"0 < threshold <= 1. Received: threshold={threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true, y_pred):
        if y_pred.dim() != 2 or y_true.dim() != 2:
            raise ValueError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={tuple(y_pred.shape)} and "
                             f"y_true.shape={tuple(y_true.shape)}.")
        shape = () if self.average == "micro" else (y_pred.shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            self.add_variable(shape, name=name)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, dtype=self._dtype)
        y_true = as_tensor(y_true, y_pred.device, self._dtype)
        if not self._built:
            self._build(y_true, y_pred)
        self._to_device(y_pred.device)
        if self.threshold is None:
            # The row's maximum is positive; `abs > 1e-9` keeps an all-zero row all negative.
            y_pred = (y_pred >= y_pred.amax(dim=-1, keepdim=True)) & (y_pred.abs() > 1e-9)
        else:
            y_pred = y_pred > self.threshold
        y_pred = y_pred.to(self._dtype)
        weight = None if sample_weight is None else as_tensor(sample_weight, y_pred.device, self._dtype).unsqueeze(1)

        def weighted_sum(value):
            value = value if weight is None else value * weight
            return value.sum() if self.axis is None else value.sum(dim=self.axis)

        self.true_positives.add_(weighted_sum(y_pred * y_true))
        self.false_positives.add_(weighted_sum(y_pred * (1 - y_true)))
        self.false_negatives.add_(weighted_sum((1 - y_pred) * y_true))
        self.intermediate_weights.add_(weighted_sum(y_true))

    def result(self):
        eps = config.epsilon()
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        beta2 = self.beta ** 2
        score = precision * recall / (beta2 * precision + recall + eps) * (1 + beta2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + eps)
            return torch.sum(score * weights)
        if self.average is not None:
            return score.mean()
        return score

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 score `2 * precision * recall / (precision + recall)`: `FBetaScore` with `beta=1`.

    Arguments:
        average: None, `"micro"`, `"macro"` or `"weighted"` (see `FBetaScore`).
        threshold: the score above which a prediction is positive; None: the arg-max.
        name, dtype: as in `Metric`.

    Example:
        >>> m = F1Score(threshold=0.5)
        >>> m.update_state([[0, 1], [1, 0]], [[0.2, 0.9], [0.6, 0.7]])
        >>> m.result()
        tensor([1.0000, 0.6667])
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
