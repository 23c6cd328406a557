"""MonitorCallback: the shared base of callbacks that watch a metric for improvement."""
import operator
import re
import warnings

from deepglass.callbacks.callback import Callback

# Metrics that are better when higher (Keras's `_direction = "up"`); any other known metric is a loss or an
# error, better when lower.
_HIGHER_IS_BETTER = ("accuracy", "acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "r2_score",
                     "iou", "cosine_similarity", "pearson_correlation", "concordance_correlation",
                     "precision_at_recall", "recall_at_precision", "sensitivity_at_specificity",
                     "specificity_at_sensitivity")
_LOWER_IS_BETTER = ("loss", "error", "crossentropy", "hinge", "divergence", "mse", "mae", "mape", "msle",
                    "rmse", "poisson", "logcosh", "kld")


def _named_direction(name):
    """`"up"`, `"down"` or `None` from the metric's name alone: `val_accuracy`, `precision_1`, `out_auc`."""
    name = re.sub(r"_\d+$", "", name.removeprefix("val_"))
    for direction, suffixes in (("up", _HIGHER_IS_BETTER), ("down", _LOWER_IS_BETTER)):
        if any(name == suffix or name.endswith("_" + suffix) for suffix in suffixes):
            return direction
    return None


def _model_direction(model, name):
    """The `_direction` that one of the model's metrics called `name` declares, if any."""
    pending = list(getattr(model, "metrics", None) or ())
    while pending:
        metric = pending.pop()
        pending.extend(getattr(metric, "metrics", None) or ())  # containers of compiled metrics
        if getattr(metric, "name", None) == name and getattr(metric, "_direction", None) in ("up", "down"):
            return metric._direction
    return None


class MonitorCallback(Callback):
    """Base class for callbacks that track whether a monitored metric improves (EarlyStopping, ...).

    In `"auto"` mode the direction comes from the name: `loss` (and `val_loss`, `*_loss`) is minimised;
    otherwise the model's metric of that name says (`_direction`), else the name is matched against the
    metrics Keras knows (accuracy, AUC, precision, ... are maximised; errors and losses minimised).

    Arguments:
        monitor: the name of the metric in the epoch logs.
        mode: `"auto"`, `"min"` or `"max"`.
        baseline: the initial best value, or `None` to take the first one seen.
        min_delta: the least change that counts as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, expected 'auto', 'min' or 'max'; "
                          "falling back to 'auto'.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        """Choose `<` or `>`; done at the first epoch end, once the model's metrics exist."""
        direction = {"min": "down", "max": "up"}.get(self.mode)
        if direction is None:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                direction = "down"
            else:
                direction = _model_direction(self.model, name) or _named_direction(self.monitor)
        if direction is None:
            raise ValueError(f"{type(self).__name__} callback received monitor={self.monitor}, but cannot tell "
                             "whether that metric should be maximized or minimized; pass `mode='max'` to "
                             "keep the highest value or `mode='min'` to keep the lowest.")
        self.monitor_op = operator.gt if direction == "up" else operator.lt

    def _is_improvement(self, value, reference):
        """Whether `value` beats `reference` by more than `min_delta` (`None` is always beaten)."""
        if reference is None:
            return True
        if self.monitor_op is operator.lt:
            return value + self.min_delta < reference
        return value - self.min_delta > reference
