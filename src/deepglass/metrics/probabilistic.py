"""Loss values as metrics: cross-entropies, KL divergence, Poisson and the hinge family, averaged over samples."""
from deepglass import losses
from deepglass.metrics.base import _FixedWrapper


class BinaryCrossentropy(_FixedWrapper):
    """The mean binary cross-entropy between labels and predictions: the mean of
    `mean(-(y * log(p) + (1 - y) * log(1 - p)), axis=-1)` (see `losses.binary_crossentropy`).

    Arguments:
        name, dtype: as in `Metric`.
        from_logits: whether `y_pred` holds logits rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y_true * (1 - s) + 0.5 * s`.

    Example:
        >>> m = BinaryCrossentropy()
        >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
        >>> m.result()
        tensor(0.8149)
    """

    _fn_default = staticmethod(losses.binary_crossentropy)
    _keys = ("from_logits", "label_smoothing")
    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_FixedWrapper):
    """The mean categorical cross-entropy, for one-hot labels: the mean of `-sum(y_true * log(y_pred), axis)`
    (see `losses.categorical_crossentropy`).

    Arguments:
        name, dtype: as in `Metric`.
        from_logits: whether `y_pred` holds logits rather than probabilities.
        label_smoothing: in [0, 1]; labels become `y_true * (1 - s) + s / num_classes`.
        axis: the class axis.
    """

    _fn_default = staticmethod(losses.categorical_crossentropy)
    _keys = ("from_logits", "label_smoothing", "axis")
    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_FixedWrapper):
    """The mean cross-entropy for integer labels: the mean of `-log(y_pred[y_true])`
    (see `losses.sparse_categorical_crossentropy`).

    Arguments:
        name, dtype: as in `Metric`.
        from_logits: whether `y_pred` holds logits rather than probabilities.
        ignore_class: a label value left out of the mean.
        axis: the class axis.
    """

    _fn_default = staticmethod(losses.sparse_categorical_crossentropy)
    _keys = ("from_logits", "ignore_class", "axis")
    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis)


class KLDivergence(_FixedWrapper):
    """The mean Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to
    `[epsilon, 1]`. Arguments: name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.kl_divergence)

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name=name, dtype=dtype)


class Poisson(_FixedWrapper):
    """The mean Poisson loss `mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`. Arguments: name, dtype as in
    `Metric`."""

    _fn_default = staticmethod(losses.poisson)

    def __init__(self, name="poisson", dtype=None):
        super().__init__(name=name, dtype=dtype)


class Hinge(_FixedWrapper):
    """The mean hinge loss `mean(max(1 - y_true * y_pred, 0), axis=-1)` (labels 0/1 read as -1/1). Arguments:
    name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.hinge)
    _direction = "down"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SquaredHinge(_FixedWrapper):
    """The mean squared hinge loss `mean(square(max(1 - y_true * y_pred, 0)), axis=-1)` (labels 0/1 read as -1/1).
    Arguments: name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.squared_hinge)
    _direction = "down"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CategoricalHinge(_FixedWrapper):
    """The mean categorical hinge loss `max(neg - pos + 1, 0)`, `pos = sum(y_true * y_pred)`,
    `neg = max((1 - y_true) * y_pred)`, for one-hot labels. Arguments: name, dtype as in `Metric`."""

    _fn_default = staticmethod(losses.categorical_hinge)
    _direction = "down"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)
