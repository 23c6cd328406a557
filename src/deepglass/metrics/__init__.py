"""Metrics with Keras's names, arguments and results, accumulated on the device.

A metric is stateful: `update_state(y_true, y_pred, sample_weight=None)` adds a batch, `result()` returns the value
so far as a tensor (no host sync), `reset_state()` starts over. Strings name metrics as in Keras (`"accuracy"`,
`"mse"`, `"auc"`, ...); `resolve`, which `compile(metrics=[...])` uses, also turns `"accuracy"` / `"acc"` (and
`"crossentropy"` / `"ce"`) into the binary, categorical or sparse form that fits the labels and predictions.

Example:
    >>> from deepglass import metrics
    >>> m = metrics.get("auc")
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(float(m.result()), 2)
    0.75
"""
from deepglass import losses as _losses
from deepglass import naming as _naming
from deepglass.losses import (binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
                              categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence,
                              log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                              mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy,
                              squared_hinge)
from deepglass.metrics.accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                                        SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy,
                                        binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                                        sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from deepglass.metrics.base import Mean, MeanMetricWrapper, Metric, Sum, reduce_to_samplewise_values
from deepglass.metrics.confusion import (AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
                                         RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity,
                                         TrueNegatives, TruePositives)
from deepglass.metrics.fscore import F1Score, FBetaScore
from deepglass.metrics.iou import IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from deepglass.metrics.probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, Hinge,
                                             KLDivergence, Poisson, SparseCategoricalCrossentropy, SquaredHinge)
from deepglass.metrics.regression import (CosineSimilarity, LogCoshError, MeanAbsoluteError,
                                          MeanAbsolutePercentageError, MeanSquaredError, MeanSquaredLogarithmicError,
                                          R2Score, RootMeanSquaredError)
from deepglass.serialization import Registry as _Registry

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh

ALL_CLASSES = (
    Metric, Mean, Sum, MeanMetricWrapper,
    MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score,
    AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall, RecallAtPrecision,
    SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives, TruePositives,
    Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, F1Score, FBetaScore, IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU,
)
# Keras finds classes by class name and by snake-case name (`"mean_io_u"`); the aliases add its short names and
# the spellings people expect.
_registry = _Registry("metric", ALL_CLASSES, aliases={
    "bce": BinaryCrossentropy, "mse": MeanSquaredError, "mae": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError, "acc": Accuracy,
    "BCE": BinaryCrossentropy, "MSE": MeanSquaredError, "MAE": MeanAbsoluteError,
    "MAPE": MeanAbsolutePercentageError, "MSLE": MeanSquaredLogarithmicError, "rmse": RootMeanSquaredError,
    "logcosh": LogCoshError, "kld": KLDivergence, "mean_iou": MeanIoU,
    "binary_iou": BinaryIoU, "iou": IoU, "one_hot_iou": OneHotIoU, "one_hot_mean_iou": OneHotMeanIoU,
})
_FUNCTIONS = {fn.__name__: fn for fn in (accuracy, binary_accuracy, categorical_accuracy,
                                         sparse_categorical_accuracy, top_k_categorical_accuracy,
                                         sparse_top_k_categorical_accuracy)}


def _serialize_fn(fn):
    """A metric's function as config data (Keras's form for functions, a config for `Loss` objects)."""
    return _losses.serialize(fn)


def _deserialize_fn(config, custom_objects=None):
    return _losses.deserialize(config, custom_objects={**_FUNCTIONS, **(custom_objects or {})})


def serialize(metric):
    """A metric as JSON-safe data: `{"class_name": ..., "config": ...}`."""
    return _registry.serialize(metric)


def deserialize(config, custom_objects=None):
    """Rebuild a metric from `serialize`'s output or from a name; `custom_objects` maps extra class names to
    classes. Only known classes are built, so a config from a file never runs code it names."""
    return _registry.deserialize(config, custom_objects)


def get(identifier):
    """A metric from an identifier, as Keras's `metrics.get`: None gives None; a name (`"auc"`, `"mse"`,
    `"SparseCategoricalAccuracy"`) or a config dict gives a new instance; a class its default instance; a callable
    or a `Metric` is returned as is."""
    return _registry.get(identifier)


def _object_name(obj):
    if hasattr(obj, "name"):
        return obj.name
    if hasattr(obj, "__name__"):
        return _naming.to_snake_case(obj.__name__)
    return _naming.to_snake_case(type(obj).__name__)


def resolve(identifier, y_true, y_pred):
    """The `Metric` that `compile(metrics=[identifier])` tracks, given the first batch's labels and predictions.

    `"accuracy"` / `"acc"` become `BinaryAccuracy` (one output per sample), `SparseCategoricalAccuracy` (integer
    labels) or `CategoricalAccuracy` (one-hot labels), and `"crossentropy"` / `"ce"` the matching cross-entropy, by
    Keras's shape rule; anything else goes through `get`, and a plain function is wrapped in `MeanMetricWrapper`.
    A string keeps its spelling as the metric's name, so `"acc"` is logged as `acc`.

    Example:
        >>> resolve("accuracy", torch.zeros(8), torch.zeros(8, 10))
        <SparseCategoricalAccuracy name=accuracy>
    """
    if identifier is None:
        raise ValueError("Expected a metric (a name, a function or a Metric instance); received None.")
    key = str(identifier).lower()
    if key in ("accuracy", "acc", "crossentropy", "ce"):
        is_binary, is_sparse = _losses.is_binary_or_sparse_categorical(y_true, y_pred)
        if key in ("accuracy", "acc"):
            choices = (BinaryAccuracy, SparseCategoricalAccuracy, CategoricalAccuracy)
        else:
            choices = (BinaryCrossentropy, SparseCategoricalCrossentropy, CategoricalCrossentropy)
        metric = choices[0 if is_binary else 1 if is_sparse else 2](name=str(identifier))
    else:
        metric = get(identifier)
    name = identifier if isinstance(identifier, str) else _object_name(metric)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric)
    metric.name = name
    return metric


__all__ = [cls.__name__ for cls in ALL_CLASSES] + list(_FUNCTIONS) + [
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "categorical_hinge", "hinge", "huber", "kl_divergence", "log_cosh", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error", "poisson",
    "sparse_categorical_crossentropy", "squared_hinge", "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE",
    "kld", "KLD", "logcosh", "reduce_to_samplewise_values", "get", "serialize", "deserialize", "resolve",
]
