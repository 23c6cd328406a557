"""Regression metrics: mean errors, RMSE, cosine similarity, log-cosh and R²."""
import warnings

import torch
import torch.nn.functional as F

from deepglass import losses
from deepglass.metrics.base import Mean, Metric, _FixedWrapper, as_tensor


def cosine_similarity(y_true, y_pred, axis=-1):
    """Cosine similarity along `axis`: `sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`."""
    return -losses.cosine_similarity(y_true, y_pred, axis=axis)


class MeanSquaredError(_FixedWrapper):
    """The mean of `square(y_true - y_pred)`.

    Arguments:
        name, dtype: as in `Metric`.

    Example:
        >>> m = MeanSquaredError()
        >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        >>> m.result()
        tensor(0.2500)
    """

    _fn_default = staticmethod(losses.mean_squared_error)
    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsoluteError(_FixedWrapper):
    """The mean of `abs(y_true - y_pred)`. Arguments: name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.mean_absolute_error)
    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsolutePercentageError(_FixedWrapper):
    """The mean of `100 * abs((y_true - y_pred) / y_true)`. Arguments: name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.mean_absolute_percentage_error)
    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_FixedWrapper):
    """The mean of `square(log(y_true + 1) - log(y_pred + 1))`. Arguments: name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.mean_squared_logarithmic_error)
    _direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class LogCoshError(_FixedWrapper):
    """The mean of `log(cosh(y_pred - y_true))`. Arguments: name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.log_cosh)
    _direction = "down"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CosineSimilarity(_FixedWrapper):
    """The mean cosine similarity between labels and predictions,
    `sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`, in [-1, 1] (1: same direction).

    Arguments:
        name, dtype: as in `Metric`.
        axis: the axis along which the similarity is computed.
    """

    _fn_default = staticmethod(cosine_similarity)
    _keys = ("axis",)  # Keras leaves `axis` out of the config, which loses it on reloading
    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """`sqrt(mean(square(y_true - y_pred)))`, the mean over every element (and weight) seen so far.

    Arguments:
        name, dtype: as in `Metric`.

    Example:
        >>> m = RootMeanSquaredError()
        >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        >>> m.result()
        tensor(0.5000)
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, dtype=self._dtype)
        y_true, y_pred = losses.squeeze_or_expand_to_same_rank(as_tensor(y_true, y_pred.device, self._dtype), y_pred)
        super().update_state(F.mse_loss(y_pred, y_true, reduction="none"), sample_weight=sample_weight)

    def result(self):
        return torch.sqrt(super().result())


class R2Score(Metric):
    """Coefficient of determination `1 - SS_res / SS_tot` per output column, then aggregated.

    Inputs are 2-D, `(batch, outputs)`.

    Arguments:
        class_aggregation: `"uniform_average"` (mean over outputs), `"variance_weighted_average"` (weighted by each
            output's variance) or None (one score per output).
        num_regressors: the number of independent variables, for the adjusted R² (0: the plain R²).
        name, dtype: as in `Metric`.

    Example:
        >>> m = R2Score()
        >>> m.update_state([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])
        >>> m.result()
        tensor(0.5714)
    """

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(
                "Received an invalid value for `class_aggregation`, expected one of None, 'uniform_average', "
                f"'variance_weighted_average'. Received: class_aggregation={class_aggregation!r}"
            )
        if num_regressors < 0:
            raise ValueError(f"Received an invalid value for `num_regressors`, expected an integer >= 0. "
                             f"Received: num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = 0  # a Python count (shapes are known on the host), so `result` needs no sync
        self._built = False

    def _build(self, y_true, y_pred):
        if y_pred.dim() != 2 or y_true.dim() != 2:
            raise ValueError(f"R2Score expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                             f"y_pred.shape={tuple(y_pred.shape)} and y_true.shape={tuple(y_true.shape)}.")
        for name in ("squared_sum", "sum", "total_mse", "count"):
            self.add_variable((y_pred.shape[-1],), name=name)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, dtype=self._dtype)
        y_true, y_pred = losses.squeeze_or_expand_to_same_rank(as_tensor(y_true, y_pred.device, self._dtype), y_pred)
        if not self._built:
            self._build(y_true, y_pred)
        self._to_device(y_pred.device)
        weight = as_tensor(1.0 if sample_weight is None else sample_weight, y_pred.device, self._dtype)
        if weight.dim() == 1:
            weight = weight.unsqueeze(1)
        weight = weight.expand(y_true.shape)
        weighted = y_true * weight
        self.sum.add_(weighted.sum(dim=0))
        self.squared_sum.add_((y_true * weighted).sum(dim=0))
        self.total_mse.add_((torch.square(y_true - y_pred) * weight).sum(dim=0))
        self.count.add_(weight.sum(dim=0))
        self.num_samples += y_true.numel()  # Keras counts elements, not rows

    def result(self):
        mean = self.sum / self.count
        total = self.squared_sum - self.sum * mean
        raw = 1 - self.total_mse / total
        raw = torch.where(torch.isinf(raw), torch.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        if self.num_regressors:
            n, p = self.num_samples, self.num_regressors
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score

    def reset_state(self):
        super().reset_state()
        self.num_samples = 0

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
