"""top_losses: the per-sample losses equal a NumPy recomputation; the picture draws each kind of sample."""
import importlib.util

import numpy as np
import pytest

import deepglass
from deepglass import layers
from deepglass.insight import plot_top_losses, top_losses

EPSILON = 1e-7  # Keras clips probabilities to [epsilon, 1 - epsilon] before taking logarithms
needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")


def classifier(input_shape, classes=3, flatten=False):
    stack = [deepglass.Input(input_shape)] + ([layers.Flatten()] if flatten else [])
    model = deepglass.Sequential(stack + [layers.Dense(classes, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def worst_first(losses, k):
    order = np.argsort(-losses, kind="stable")[:k]
    return order, losses[order]


def test_sparse_crossentropy_losses_equal_numpys():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 6)).astype("float32")
    y = rng.integers(0, 3, 70)
    model = classifier((6,))
    indices, losses, predictions = top_losses(model, x, y, k=9, batch_size=16)
    p = model.predict(x, verbose=0).astype(np.float64)
    p = np.clip(p / p.sum(axis=1, keepdims=True), EPSILON, 1 - EPSILON)
    expected_indices, expected_losses = worst_first(-np.log(p[np.arange(70), y]), 9)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    np.testing.assert_allclose(predictions, model.predict(x, verbose=0)[indices], rtol=1e-6)
    assert model._compiled_loss.losses[0].reduction == "sum_over_batch_size"  # the compiled loss is untouched


def test_a_given_loss_replaces_the_compiled_one_and_extra_axes_are_averaged():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 5, 4)).astype("float32")
    y = rng.standard_normal((40, 5, 2)).astype("float32")
    model = deepglass.Sequential([deepglass.Input((5, 4)), layers.Dense(2)])  # not compiled: loss= is enough
    indices, losses, _ = top_losses(model, x, y, k=40, loss="mae")
    per_sample = np.abs(model.predict(x, verbose=0) - y).mean(axis=(1, 2))
    expected_indices, expected_losses = worst_first(per_sample, 40)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)


def test_binary_crossentropy_with_one_sigmoid_unit():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 3)).astype("float32")
    y = rng.integers(0, 2, (50, 1)).astype("float32")
    model = deepglass.Sequential([deepglass.Input((3,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    indices, losses, _ = top_losses(model, x, y, k=5)
    p = np.clip(model.predict(x, verbose=0)[:, 0].astype(np.float64), EPSILON, 1 - EPSILON)
    per_sample = -(y[:, 0] * np.log(p) + (1 - y[:, 0]) * np.log(1 - p))
    expected_indices, expected_losses = worst_first(per_sample, 5)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)


def test_models_without_a_loss_and_bad_k_are_explained():
    model = deepglass.Sequential([deepglass.Input((3,)), layers.Dense(2)])
    x, y = np.zeros((4, 3), "float32"), np.zeros(4, "int64")
    with pytest.raises(ValueError, match="needs a loss"):
        top_losses(model, x, y)
    with pytest.raises(ValueError, match="`k`"):
        top_losses(model, x, y, k=0, loss="mse")
    inputs = deepglass.Input((3,))
    two = deepglass.Model(inputs, [layers.Dense(1)(inputs), layers.Dense(1)(inputs)])
    two.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="one output"):
        top_losses(two, x, [y, y])


@needs_matplotlib
@pytest.mark.parametrize("shape, kind, flatten", [
    ((8, 8, 3), "image", True), ((3, 8, 8), "image", True), ((12, 12), "image", True), ((8, 8, 1), "image", True),
    ((64,), "signal", False), ((40, 2), "signal", True), ((5,), "table", False)])
def test_each_kind_of_sample_is_drawn_with_its_labels_in_the_title(shape, kind, flatten, tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (30,) + shape).astype("float32")
    y = rng.integers(0, 3, 30)
    model = classifier(shape, flatten=flatten)
    path = tmp_path / "top.png"
    figure = plot_top_losses(model, x, y, k=4, class_names=["cat", "dog", "eel"], path=str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    indices, losses, predictions = top_losses(model, x, y, k=4)
    panels = [axis for axis in figure.axes if axis.axison or axis.tables]
    assert len(panels) == 4
    names = ["cat", "dog", "eel"]
    for axis, index, loss, prediction in zip(panels, indices, losses, predictions):
        predicted = int(prediction.argmax())
        assert axis.get_title() == (f"#{index}: true {names[y[index]]}, pred {names[predicted]}\n"
                                    f"p={prediction[predicted]:.2f}, loss {loss:.3g}")
        drawn = {"image": len(axis.images), "signal": len(axis.get_lines()), "table": len(axis.tables)}
        assert drawn[kind] >= 1 and sum(drawn.values()) == drawn[kind]
    first = panels[0]
    if kind == "image" and shape[-1] == 3:  # RGB channels last: shown as they are
        np.testing.assert_array_equal(first.images[0].get_array(), x[indices[0]])
    if kind == "image" and shape[0] == 3:  # channels first: moved last
        np.testing.assert_array_equal(first.images[0].get_array(), np.moveaxis(x[indices[0]], 0, -1))
    if kind == "signal" and len(shape) == 2:
        assert len(first.get_lines()) == 2  # one curve per channel


@needs_matplotlib
def test_regression_titles_show_values():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 4)).astype("float32")
    y = (3 * rng.standard_normal(20)).astype("float32")
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    figure = plot_top_losses(model, x, y, k=2, kind="table")
    index, loss, prediction = (values[0] for values in top_losses(model, x, y, k=2))
    assert figure.axes[0].get_title() == f"#{index}: true {y[index]:.4g}, pred {prediction[0]:.4g}\nloss {loss:.3g}"
    with pytest.raises(ValueError, match="kind"):
        plot_top_losses(model, x, y, kind="video")
