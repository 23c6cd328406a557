"""Confusion matrices: equal to scikit-learn's for every form of labels and predictions; the picture shows them."""
import importlib.util
import sys

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.insight import confusion_matrix, plot_confusion_matrix

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    scores = rng.standard_normal((200, 4)) + 1.5 * np.eye(4)[labels]  # mostly right, some mistakes
    return labels, scores


def reference(labels, predicted, classes, normalize=None):
    return sklearn_metrics.confusion_matrix(labels, predicted, labels=list(range(classes)), normalize=normalize)


def test_labels_scores_and_one_hot_give_sklearns_counts(data):
    labels, scores = data
    expected = reference(labels, scores.argmax(1), 4)
    assert expected.trace() < 200  # the data has mistakes to count
    np.testing.assert_array_equal(confusion_matrix(labels, scores), expected)
    np.testing.assert_array_equal(confusion_matrix(labels, scores.argmax(1)), expected)
    np.testing.assert_array_equal(confusion_matrix(np.eye(4)[labels], scores), expected)
    np.testing.assert_array_equal(confusion_matrix(labels[:, None], torch.tensor(scores)), expected)
    np.testing.assert_array_equal(confusion_matrix(list(labels), torch.softmax(torch.tensor(scores), 1)), expected)
    assert confusion_matrix(labels, scores).dtype == np.int64


def test_num_classes_adds_empty_rows_and_columns(data):
    labels, scores = data
    np.testing.assert_array_equal(confusion_matrix(labels, scores.argmax(1), num_classes=6),
                                  reference(labels, scores.argmax(1), 6))


def test_binary_probabilities_are_thresholded_at_one_half():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 100)
    probabilities = rng.uniform(0, 1, (100, 1)).astype("float32")
    expected = reference(labels, (probabilities[:, 0] > 0.5).astype(int), 2)
    np.testing.assert_array_equal(confusion_matrix(labels, probabilities), expected)
    np.testing.assert_array_equal(confusion_matrix(labels.astype("float32"), probabilities[:, 0]), expected)


@pytest.mark.parametrize("normalize", ["true", "pred", "all"])
def test_normalisations_equal_sklearns(data, normalize):
    labels, scores = data
    predicted = scores.argmax(1)
    predicted[predicted == 3] = 2  # class 3 is never predicted: an empty column, which stays 0
    np.testing.assert_allclose(confusion_matrix(labels, predicted, num_classes=4, normalize=normalize),
                               reference(labels, predicted, 4, normalize), rtol=1e-12)


def test_bad_arguments_are_explained(data):
    labels, scores = data
    with pytest.raises(ValueError, match="normalize"):
        confusion_matrix(labels, scores, normalize="rows")
    with pytest.raises(ValueError, match="as many labels as predictions"):
        confusion_matrix(labels[:10], scores)
    with pytest.raises(ValueError, match="larger num_classes"):
        confusion_matrix(labels, scores, num_classes=3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.zeros((4, 2, 2)), np.zeros(4))


needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")


def cell_texts(axis):
    return [text.get_text() for text in axis.texts]


@needs_matplotlib
def test_the_picture_shows_counts_percentages_and_accuracy(data, tmp_path):
    labels, scores = data
    counts = confusion_matrix(labels, scores)
    path = tmp_path / "cm.png"
    figure = plot_confusion_matrix(counts, class_names=["a", "b", "c", "d"], path=str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    axis = figure.axes[0]
    row_share = counts / counts.sum(axis=1, keepdims=True)
    assert cell_texts(axis) == [f"{counts[i, j]}\n{row_share[i, j]:.1%}" if counts[i, j] else "0"
                                for i in range(4) for j in range(4)]
    np.testing.assert_array_equal(axis.images[0].get_array(), counts)
    assert f"accuracy {np.trace(counts) / counts.sum():.1%} on 200 samples" in axis.get_title()
    assert [t.get_text() for t in axis.get_xticklabels()] == ["a", "b", "c", "d"]
    assert axis.get_xlabel() == "predicted class" and axis.get_ylabel() == "true class"
    # Light text on dark cells and dark text on light ones: the largest count is dark, an empty cell light.
    colours = dict(zip(cell_texts(axis), (t.get_color() for t in axis.texts)))
    assert colours[f"{counts.max()}\n{row_share.flat[counts.argmax()]:.1%}"] == "white"
    column_share = counts / counts.sum(axis=0, keepdims=True)
    normalised = plot_confusion_matrix(counts, normalize="pred").axes[0]
    np.testing.assert_allclose(normalised.images[0].get_array(), column_share)
    assert cell_texts(normalised)[1] == f"{counts[0, 1]}\n{column_share[0, 1]:.1%}"


@needs_matplotlib
def test_a_model_is_run_on_x_and_compared_with_y():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 5)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = deepglass.Sequential([deepglass.Input((5,)), layers.Dense(3, activation="softmax")])
    figure = plot_confusion_matrix(model, x, y, batch_size=16)
    expected = reference(y, model.predict(x, verbose=0).argmax(1), 3)
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), expected)
    with pytest.raises(ValueError, match="needs x and y"):
        plot_confusion_matrix(model)
    with pytest.raises(ValueError, match="one name per class"):
        plot_confusion_matrix(expected, class_names=["a", "b"])


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"plot_confusion_matrix needs matplotlib: pip install 'deepglass\[plot\]'"):
        plot_confusion_matrix(np.eye(2))
    assert confusion_matrix(*data).sum() == 200  # the numbers work without it
