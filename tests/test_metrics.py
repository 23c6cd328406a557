"""Metrics against the Keras oracle over two weighted batches and after a reset; `resolve`, look-up and
serialization; state placement."""
import json
import os

import numpy as np
import pytest
import torch

from deepglass import metrics

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

rng = np.random.default_rng(1)
N, C = 24, 5


def _probs(shape):
    x = np.exp(rng.normal(0, 1.5, size=shape))
    return (x / x.sum(-1, keepdims=True)).astype("float32")


def _batch(kind):
    """One batch (y_true, y_pred) of the given kind."""
    labels = rng.integers(0, C, size=(N,))
    if kind == "binary":
        return rng.integers(0, 2, size=(N, 1)).astype("float32"), rng.uniform(size=(N, 1)).astype("float32")
    if kind == "binary_flat":
        return rng.integers(0, 2, size=(N,)), rng.uniform(size=(N,)).astype("float32")
    if kind == "binary_logits":
        return rng.integers(0, 2, size=(N, 1)).astype("float32"), rng.normal(0, 2, size=(N, 1)).astype("float32")
    if kind == "multilabel":
        return rng.integers(0, 2, size=(N, 3)).astype("float32"), rng.uniform(size=(N, 3)).astype("float32")
    if kind == "onehot":
        return np.eye(C, dtype="float32")[labels], _probs((N, C))
    if kind == "distribution":
        return _probs((N, C)), _probs((N, C))
    if kind == "sparse":
        return labels, _probs((N, C))
    if kind == "sparse_column":
        return labels[:, None].astype("float32"), _probs((N, C))
    if kind == "exact":
        return rng.integers(0, 3, size=(N, 1)), rng.integers(0, 3, size=(N, 1))
    if kind == "real":
        return rng.normal(size=(N, 4)).astype("float32"), rng.normal(size=(N, 4)).astype("float32")
    if kind == "positive":
        return rng.uniform(0, 3, size=(N, 4)).astype("float32"), rng.uniform(0.1, 3, size=(N, 4)).astype("float32")
    if kind == "classes":  # segmentation ids, with an out-of-range prediction and the ignored label 2
        y_true, y_pred = rng.integers(0, 4, size=(N,)), rng.integers(0, 4, size=(N,))
        y_pred[0] = 7
        return y_true, y_pred
    if kind == "onehot_scores":
        return np.eye(3, dtype="float32")[rng.integers(0, 3, size=(N,))], _probs((N, 3))
    raise KeyError(kind)


KINDS = ["binary", "binary_flat", "binary_logits", "multilabel", "onehot", "distribution", "sparse", "sparse_column",
         "exact", "real", "positive", "classes", "onehot_scores"]
BATCHES = {kind: [_batch(kind) for _ in range(2)] for kind in KINDS}
FLOAT_WEIGHTS = [rng.uniform(0, 2, size=(N,)).astype("float32") for _ in range(2)]
INT_WEIGHTS = [rng.integers(0, 3, size=(N,)) for _ in range(2)]

# (class name, constructor arguments, batch kind)
CASES = [
    ("Accuracy", {}, "exact"),
    ("BinaryAccuracy", {}, "binary"), ("BinaryAccuracy", {}, "binary_flat"),
    ("BinaryAccuracy", {"threshold": 0.7}, "multilabel"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"), ("SparseCategoricalAccuracy", {}, "sparse_column"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"), ("SparseTopKCategoricalAccuracy", {}, "sparse_column"),
    ("MeanSquaredError", {}, "real"), ("RootMeanSquaredError", {}, "real"), ("MeanAbsoluteError", {}, "real"),
    ("MeanAbsolutePercentageError", {}, "real"), ("MeanSquaredLogarithmicError", {}, "positive"),
    ("CosineSimilarity", {}, "real"), ("LogCoshError", {}, "real"),
    ("BinaryCrossentropy", {}, "binary"), ("BinaryCrossentropy", {"from_logits": True}, "binary_logits"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "multilabel"),
    ("CategoricalCrossentropy", {}, "onehot"), ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"), ("SparseCategoricalCrossentropy", {}, "sparse_column"),
    ("Hinge", {}, "multilabel"), ("SquaredHinge", {}, "multilabel"), ("CategoricalHinge", {}, "onehot"),
    ("KLDivergence", {}, "distribution"), ("Poisson", {}, "positive"),
    ("TruePositives", {}, "binary"), ("FalsePositives", {}, "multilabel"), ("TrueNegatives", {}, "binary_flat"),
    ("FalseNegatives", {"thresholds": [0.2, 0.5, 0.8]}, "binary"),
    ("TruePositives", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),
    ("Precision", {}, "binary"), ("Precision", {"thresholds": [0.3, 0.5, 0.7]}, "multilabel"),
    ("Precision", {"top_k": 2}, "multilabel"), ("Precision", {"class_id": 1}, "multilabel"),
    ("Precision", {"top_k": 1, "class_id": 2}, "onehot"),
    ("Recall", {}, "binary_flat"), ("Recall", {"thresholds": 0.7}, "multilabel"),
    ("Recall", {"top_k": 2}, "multilabel"), ("Recall", {"class_id": 0}, "multilabel"),
    ("AUC", {}, "binary"), ("AUC", {"curve": "PR"}, "binary"), ("AUC", {"num_thresholds": 7}, "binary_flat"),
    ("AUC", {"summation_method": "minoring"}, "binary"), ("AUC", {"summation_method": "majoring"}, "multilabel"),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "binary"), ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.4, 0.6]}, "binary"), ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, "binary"),
    ("AUC", {"from_logits": True}, "binary_logits"),
    ("AUC", {"multi_label": True}, "multilabel"), ("AUC", {"multi_label": True, "curve": "PR"}, "multilabel"),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [1.0, 0.0, 2.0]}, "multilabel"),
    ("AUC", {"label_weights": [0.5, 1.0, 2.0]}, "multilabel"),
    ("AUC", {"multi_label": True, "thresholds": [0.3, 0.6]}, "multilabel"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.6, "num_thresholds": 10}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.5}, "multilabel"), ("RecallAtPrecision", {"precision": 0.6}, "binary"),
    ("RecallAtPrecision", {"precision": 0.5, "num_thresholds": 1}, "binary"),
    ("F1Score", {}, "onehot"), ("F1Score", {"average": "micro", "threshold": 0.5}, "multilabel"),
    ("F1Score", {"average": "macro", "threshold": 0.4}, "multilabel"), ("F1Score", {"average": "weighted"}, "onehot"),
    ("FBetaScore", {"beta": 2.0, "threshold": 0.5}, "multilabel"),
    ("FBetaScore", {"average": "macro", "beta": 0.5}, "onehot"),
    ("R2Score", {}, "real"), ("R2Score", {"class_aggregation": "variance_weighted_average"}, "real"),
    ("R2Score", {"class_aggregation": None}, "real"), ("R2Score", {"num_regressors": 2}, "real"),
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, "classes"),
    ("MeanIoU", {"num_classes": 4}, "classes"), ("MeanIoU", {"num_classes": 4, "ignore_class": 2}, "classes"),
    ("MeanIoU", {"num_classes": 4, "dtype": "float32"}, "classes"),
    ("BinaryIoU", {}, "binary_flat"), ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "binary"),
    ("OneHotIoU", {"num_classes": 3, "target_class_ids": [1, 2]}, "onehot_scores"),
    ("OneHotMeanIoU", {"num_classes": 3}, "onehot_scores"),
]
IDS = [f"{name}-{kwargs}-{kind}" for name, kwargs, kind in CASES]


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _check(ours, theirs):
    got = ours.result()
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(_np(got), _np(theirs.result()), rtol=1e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
def test_matches_keras_over_batches_and_reset(name, kwargs, kind):
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    weights = INT_WEIGHTS if "IoU" in name and kwargs.get("dtype") is None else FLOAT_WEIGHTS
    for (y_true, y_pred), sample_weight in zip(BATCHES[kind], weights):
        ours.update_state(torch.from_numpy(y_true), torch.from_numpy(y_pred), sample_weight=torch.from_numpy(
            sample_weight))
        theirs.update_state(y_true, y_pred, sample_weight=sample_weight)
        _check(ours, theirs)
    ours.reset_state()
    theirs.reset_state()
    y_true, y_pred = BATCHES[kind][1]
    ours.update_state(y_true, y_pred)
    theirs.update_state(y_true, y_pred)
    _check(ours, theirs)


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
def test_config_round_trip(name, kwargs, kind):
    metric = getattr(metrics, name)(name="m", **kwargs)
    config = metrics.serialize(metric)
    assert config["class_name"] == name and config["config"]["name"] == "m"
    assert json.loads(json.dumps(config)) == config
    rebuilt = metrics.deserialize(config)
    assert type(rebuilt) is type(metric) and rebuilt.get_config() == metric.get_config()
    # Keras reads the same config and builds the same metric (its configs may leave out an argument, never differ).
    keras_config = getattr(keras.metrics, name).from_config(config["config"]).get_config()
    keras_config = {k: v.tolist() if isinstance(v, torch.Tensor) else v for k, v in keras_config.items()}
    assert keras_config.items() <= config["config"].items()


def test_mean_and_sum_match_keras():
    values = [rng.normal(size=(N, 3)).astype("float32"), rng.normal(size=(N,)).astype("float32")]
    for cls in ("Mean", "Sum"):
        ours, theirs = getattr(metrics, cls)(), getattr(keras.metrics, cls)()
        for v, w in zip(values, FLOAT_WEIGHTS):
            ours.update_state(torch.from_numpy(v), sample_weight=w)
            theirs.update_state(v, sample_weight=w)
        ours.update_state(values[0])
        theirs.update_state(values[0])
        _check(ours, theirs)
    np.testing.assert_allclose(_np(metrics.Mean()(values[1])), values[1].mean(), rtol=1e-6)


def test_mean_metric_wrapper_matches_keras():
    ours = metrics.MeanMetricWrapper(metrics.mean_absolute_error, name="mae_wrapped")
    theirs = keras.metrics.MeanMetricWrapper(keras.losses.mean_absolute_error, name="mae_wrapped")
    for (y_true, y_pred), w in zip(BATCHES["real"], FLOAT_WEIGHTS):
        ours.update_state(y_true, y_pred, w)
        theirs.update_state(y_true, y_pred, w)
    _check(ours, theirs)
    rebuilt = metrics.deserialize(metrics.serialize(ours))
    assert rebuilt._fn is metrics.mean_absolute_error and rebuilt.name == "mae_wrapped"


def test_numpy_formulas():
    (y_true, y_pred), _ = BATCHES["sparse"]
    np.testing.assert_allclose(_np(metrics.sparse_categorical_accuracy(y_true, y_pred)),
                               (y_pred.argmax(-1) == y_true).astype("float32"))
    (y_true, y_pred), _ = BATCHES["real"]
    rmse = metrics.RootMeanSquaredError()
    rmse.update_state(y_true, y_pred, sample_weight=FLOAT_WEIGHTS[0])
    expected = np.sqrt((((y_true - y_pred) ** 2).mean(-1) * FLOAT_WEIGHTS[0]).sum() / FLOAT_WEIGHTS[0].sum())
    np.testing.assert_allclose(_np(rmse.result()), expected, rtol=1e-5)
    # A perfect ranking has ROC AUC 1; a reversed one 0.
    auc = metrics.AUC()
    auc.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert abs(float(auc.result()) - 1.0) < 1e-6
    auc.reset_state()
    auc.update_state([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])
    assert float(auc.result()) < 1e-6


def test_states_stay_off_the_autograd_graph_and_survive_inference_mode():
    metric = metrics.SparseCategoricalCrossentropy(from_logits=True)
    logits = torch.randn(4, 3, requires_grad=True)
    with torch.inference_mode():
        metric.update_state(torch.tensor([0, 1, 2, 0]), torch.randn(4, 3))
    metric.update_state(torch.tensor([0, 1, 2, 0]), logits)  # after inference mode, states are still writable
    assert not metric.total.requires_grad and not metric.result().requires_grad
    auc = metrics.AUC(multi_label=True)
    with torch.inference_mode():
        auc.update_state(torch.ones(4, 2), torch.rand(4, 2))
    auc.update_state(torch.ones(4, 2), torch.rand(4, 2))
    auc.reset_state()
    assert float(auc.true_positives.sum()) == 0


def test_custom_metric_subclass_gets_device_placement_and_no_grad():
    class Count(metrics.Metric):
        def __init__(self, name="count", dtype=None):
            super().__init__(name=name, dtype=dtype)
            self.total = self.add_variable((2,), name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.add_(torch.stack([y_pred.sum(), torch.ones_like(y_pred).sum()]))

        def result(self):
            return self.total[0] / self.total[1]

    m = Count()
    assert m.name == "count" and m.get_config() == {"name": "count", "dtype": "float32"}
    value = m(None, torch.tensor([1.0, 2.0, 6.0], requires_grad=True))
    assert float(value) == 3.0 and not value.requires_grad
    m.reset_state()
    assert float(m.total.sum()) == 0


# ----------------------------------------------------------------------------------------------------- resolve
@pytest.mark.parametrize("identifier, y_true_shape, y_pred_shape, expected", [
    ("accuracy", (8, 1), (8, 1), "BinaryAccuracy"),
    ("accuracy", (8,), (8, 1), "BinaryAccuracy"),
    ("accuracy", (8,), (8, 10), "SparseCategoricalAccuracy"),
    ("acc", (8, 1), (8, 10), "SparseCategoricalAccuracy"),
    ("Accuracy", (8, 10), (8, 10), "CategoricalAccuracy"),
    ("crossentropy", (8, 1), (8, 1), "BinaryCrossentropy"),
    ("ce", (8,), (8, 10), "SparseCategoricalCrossentropy"),
    ("crossentropy", (8, 10), (8, 10), "CategoricalCrossentropy"),
])
def test_resolve_picks_by_shape_and_keeps_the_name(identifier, y_true_shape, y_pred_shape, expected):
    y_true, y_pred = torch.zeros(y_true_shape), torch.zeros(y_pred_shape)
    metric = metrics.resolve(identifier, y_true, y_pred)
    assert type(metric).__name__ == expected and metric.name == identifier
    if "acc" in identifier.lower():
        from keras.src.trainers.compile_utils import get_metric
        assert type(get_metric(identifier, y_true, y_pred)).__name__ == expected


def test_resolve_other_identifiers():
    y = torch.zeros(4, 1)
    mse = metrics.resolve("mse", y, y)
    assert isinstance(mse, metrics.MeanSquaredError) and mse.name == "mse"
    auc = metrics.resolve("AUC", y, y)
    assert isinstance(auc, metrics.AUC) and auc.name == "AUC"
    wrapped = metrics.resolve(metrics.mean_absolute_error, y, y)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "mean_absolute_error"
    instance = metrics.Precision(name="p")
    assert metrics.resolve(instance, y, y) is instance and instance.name == "p"
    with pytest.raises(ValueError, match="received None"):
        metrics.resolve(None, y, y)


def test_get_forms_and_unknown_names():
    assert metrics.get(None) is None
    assert isinstance(metrics.get("accuracy"), metrics.Accuracy)
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("MSE"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("SparseCategoricalAccuracy"), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("top_k_categorical_accuracy"), metrics.TopKCategoricalAccuracy)
    assert isinstance(metrics.get(metrics.AUC), metrics.AUC)
    assert metrics.get(metrics.binary_accuracy) is metrics.binary_accuracy
    assert isinstance(metrics.get({"class_name": "Recall", "config": {"thresholds": 0.3}}), metrics.Recall)
    class Custom(metrics.Mean):
        pass

    assert isinstance(metrics.deserialize({"class_name": "Custom", "config": {"name": "c"}}, {"Custom": Custom}),
                      Custom)
    with pytest.raises(ValueError, match="Unknown metric: 'precison'. Did you mean 'precision'"):
        metrics.get("precison")


def test_default_names_are_numbered_like_keras():
    assert [metrics.Precision().name, metrics.Precision().name] == ["precision", "precision_1"]
    assert metrics.MeanIoU(3).name == "mean_io_u" and metrics.AUC().name == "auc"


def test_numpy_thresholds_give_a_json_config():
    assert metrics.Precision(thresholds=np.float32(0.25)).get_config()["thresholds"] == 0.25
    assert metrics.Recall(thresholds=np.array([0.2, 0.4])).get_config()["thresholds"] == [0.2, 0.4]


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="ROCK")
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="2D"):
        metrics.F1Score().update_state(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="out of range"):
        metrics.IoU(num_classes=2, target_class_ids=[2])


def test_the_running_loss_keeps_no_graph_of_the_losses_it_adds():
    from deepglass.training.compile_utils import LossTracker
    tracker = LossTracker("loss")
    weight = torch.tensor(2.0, requires_grad=True)
    tracker.update(weight * 3.0, batch_size=4)  # a training step's loss, which carries its graph
    tracker.update(torch.tensor(1.0), batch_size=4)  # an evaluation's, which carries none
    assert not tracker.total.requires_grad and float(tracker.result()) == 3.5


def test_the_running_loss_starts_each_epoch_on_the_device_of_its_losses():
    from deepglass.training.compile_utils import LossTracker
    tracker = LossTracker("loss")
    tracker.update(torch.tensor(2.0), batch_size=4)
    tracker.reset_state()  # a later fit on another device ("meta" here: shapes without values)
    tracker.update(torch.tensor(1.0, device="meta"), batch_size=4)
    assert tracker.total.device.type == "meta"
    tracker.reset_state()
    tracker.update(torch.tensor(3.0), batch_size=2)
    assert float(tracker.result()) == 3.0
