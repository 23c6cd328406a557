"""Accuracy metrics: exact match, thresholded binary, arg-max categorical, sparse and top-k."""
from deepglass import config
from deepglass.losses import _pred_true, squeeze_or_expand_to_same_rank
from deepglass.metrics.base import _FixedWrapper, as_tensor


def _floatx():
    return config.standardize_dtype()


def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred`, else 0.0."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_true(y_true, y_pred))
    return (y_true == y_pred).to(_floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where `y_true` equals `y_pred > threshold`, else 0.0.

    Example:
        >>> binary_accuracy(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.7], [0.6]]))
        tensor([[1.],
                [0.]])
    """
    y_pred = as_tensor(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(as_tensor(y_true, y_pred.device), y_pred)
    return (y_true == (y_pred > threshold).to(y_true.dtype)).to(_floatx())


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of one-hot `y_true` equals the arg-max of `y_pred`, else 0.0."""
    y_pred = as_tensor(y_pred)
    return (as_tensor(y_true, y_pred.device).argmax(dim=-1) == y_pred.argmax(dim=-1)).to(_floatx())


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label `y_true` equals the arg-max of `y_pred`, else 0.0; labels `(N,)` or `(N, 1)`.

    Example:
        >>> sparse_categorical_accuracy(torch.tensor([2, 1]), torch.tensor([[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]]))
        tensor([0., 1.])
    """
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, y_pred.device)
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return (y_true == y_pred.argmax(dim=-1)).to(_floatx())


def _in_top_k(targets, predictions, k):
    """Whether each target's score is among the `k` largest of its row (ties count as in, as in Keras)."""
    kth = predictions.topk(min(k, predictions.shape[-1]), dim=-1).values[..., -1:]
    target_scores = predictions.gather(-1, targets.long().unsqueeze(-1))
    return (target_scores >= kth).squeeze(-1)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the arg-max of one-hot `y_true` is among the `k` highest scores of `y_pred`, else 0.0."""
    y_pred = as_tensor(y_pred)
    labels = as_tensor(y_true, y_pred.device).argmax(dim=-1)
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return matches.reshape(labels.shape).to(_floatx())


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the `k` highest scores of `y_pred`, else 0.0.

    Arguments:
        k: how many of the top scores count.
        from_sorted_ids: `y_pred` already holds class ids sorted by score (the first `k` are compared).
    """
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, y_pred.device)
    flat_pred = y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.dim() > 2 else y_pred
    flat_true = y_true.reshape(-1)
    if from_sorted_ids:
        matches = (flat_true.unsqueeze(1) == flat_pred[:, :k]).any(dim=1)
    else:
        matches = _in_top_k(flat_true, flat_pred, k)
    return matches.reshape(y_true.shape).to(_floatx())


class Accuracy(_FixedWrapper):
    """How often predictions equal labels exactly: the mean of `y_true == y_pred`.

    For classifier outputs use `BinaryAccuracy`, `CategoricalAccuracy` or `SparseCategoricalAccuracy`, or the
    string `"accuracy"` in `compile`, which picks among them from the shapes.

    Arguments:
        name, dtype: as in `Metric`.

    Example:
        >>> m = Accuracy()
        >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        >>> m.result()
        tensor(0.7500)
    """

    _fn_default = staticmethod(accuracy)
    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryAccuracy(_FixedWrapper):
    """How often `y_pred > threshold` equals the 0/1 label.

    Arguments:
        name, dtype: as in `Metric`.
        threshold: the probability above which a prediction counts as 1.
    """

    _fn_default = staticmethod(binary_accuracy)
    _keys = ("threshold",)
    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(_FixedWrapper):
    """How often the arg-max of the prediction equals the arg-max of the one-hot label.

    Arguments:
        name, dtype: as in `Metric`.
    """

    _fn_default = staticmethod(categorical_accuracy)
    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalAccuracy(_FixedWrapper):
    """How often the arg-max of the prediction equals the integer label.

    Arguments:
        name, dtype: as in `Metric`.

    Example:
        >>> m = SparseCategoricalAccuracy()
        >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
        >>> m.result()
        tensor(0.5000)
    """

    _fn_default = staticmethod(sparse_categorical_accuracy)
    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class TopKCategoricalAccuracy(_FixedWrapper):
    """How often the one-hot label's class is among the `k` highest predictions.

    Arguments:
        k: how many of the top predictions count.
        name, dtype: as in `Metric`.
    """

    _fn_default = staticmethod(top_k_categorical_accuracy)
    _keys = ("k",)
    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(_FixedWrapper):
    """How often the integer label is among the `k` highest predictions.

    Arguments:
        k: how many of the top predictions count.
        name, dtype: as in `Metric`.
        from_sorted_ids: `y_pred` holds class ids sorted by score rather than scores.
    """

    _fn_default = staticmethod(sparse_top_k_categorical_accuracy)
    _keys = ("k",)
    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(name=name, dtype=dtype, k=k, from_sorted_ids=from_sorted_ids)

    def get_config(self):
        config = super().get_config()
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
