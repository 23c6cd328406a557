"""Merging layers against Keras (same outputs and shapes, eager and symbolic), NumPy, a residual model trained with
fit, and their errors."""
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from tests.layer_conformance import random_input

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def inputs_for(shapes):
    return [random_input(shape, seed=i) for i, shape in enumerate(shapes)]


def check_against_keras(name, kwargs, shapes, atol=1e-5):
    """Our layer and Keras's on the same list of inputs: same outputs, output shapes (eager and symbolic), params,
    and a config that rebuilds a layer giving the same outputs."""
    xs = inputs_for(shapes)
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    y = ours([torch.from_numpy(x) for x in xs])
    expected = keras.ops.convert_to_numpy(theirs(xs))
    np.testing.assert_allclose(y.numpy(), expected, atol=atol, rtol=1e-5)
    assert tuple(y.shape) == ours.compute_output_shape(shapes) == theirs.compute_output_shape(shapes)
    assert ours.count_params() == theirs.count_params() == 0

    symbolic = getattr(layers, name)(**kwargs)([deepglass.Input(s[1:]) for s in shapes])
    their_symbolic = getattr(keras.layers, name)(**kwargs)([keras.Input(s[1:]) for s in shapes])
    assert symbolic.shape == tuple(their_symbolic.shape)

    clone = layers.deserialize(layers.serialize(ours))
    assert type(clone) is type(ours) and clone.get_config() == ours.get_config()
    np.testing.assert_allclose(clone(xs).numpy(), y.numpy())  # NumPy inputs work too
    return y


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shapes", [
    [(2, 3, 4), (2, 3, 4)],
    [(2, 1, 4), (2, 3, 1)],  # size-1 axes broadcast
    [(2, 4), (2, 3, 4)],  # a lower-rank input gets axes inserted after the batch axis
])
def test_elementwise_merges_match_keras(name, shapes):
    check_against_keras(name, {}, shapes)


@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_elementwise_merges_of_three_inputs_match_numpy(name):
    xs = inputs_for([(2, 5)] * 3)
    reduce = {"Add": np.sum, "Multiply": np.prod, "Average": np.mean, "Maximum": np.max, "Minimum": np.min}[name]
    expected = reduce(np.stack(xs), axis=0)
    np.testing.assert_allclose(check_against_keras(name, {}, [(2, 5)] * 3).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("function, cls", [
    (layers.add, layers.Add), (layers.subtract, layers.Subtract), (layers.multiply, layers.Multiply),
    (layers.average, layers.Average), (layers.maximum, layers.Maximum), (layers.minimum, layers.Minimum),
    (layers.concatenate, layers.Concatenate), (layers.dot, layers.Dot),
])
def test_functional_forms_on_real_and_symbolic_tensors(function, cls):
    xs = [torch.from_numpy(x) for x in inputs_for([(2, 4), (2, 4)])]
    expected = cls(**({"axes": -1} if cls is layers.Dot else {}))(xs)
    torch.testing.assert_close(function(xs), expected)
    theirs = getattr(keras.layers, function.__name__)([keras.Input((4,)), keras.Input((4,))])
    ours = function([deepglass.Input((4,)), deepglass.Input((4,))], name="merged")
    assert ours.shape == tuple(theirs.shape)
    layer = ours._keras_history[0]
    assert type(layer) is cls and layer.name == "merged"


@pytest.mark.parametrize("kwargs, shapes", [
    ({}, [(2, 3), (2, 5), (2, 1)]),  # different last sizes
    ({"axis": 1}, [(2, 3, 4), (2, 2, 4)]),
    ({"axis": -2}, [(2, 3, 4), (2, 5, 4)]),
])
def test_concatenate_matches_keras(kwargs, shapes):
    y = check_against_keras("Concatenate", kwargs, shapes)
    np.testing.assert_array_equal(y.numpy(), np.concatenate(inputs_for(shapes), axis=kwargs.get("axis", -1)))


def test_concatenate_shape_with_unknown_sizes():
    a, b = deepglass.Input((None, 3)), deepglass.Input((None, 5))
    assert layers.concatenate([a, b]).shape == (None, None, 8)
    assert layers.concatenate([a, deepglass.Input((None, 3))], axis=1).shape == (None, None, 3)


@pytest.mark.parametrize("kwargs, shapes", [
    ({"axes": 1}, [(2, 4), (2, 4)]),  # (batch, 1)
    ({"axes": -1}, [(2, 3, 4), (2, 4)]),
    ({"axes": (1, 2)}, [(2, 3, 5), (2, 10, 3)]),
    ({"axes": 1}, [(2, 3, 4), (2, 3, 5)]),
    ({"axes": (3, 1)}, [(2, 2, 3, 4), (2, 4, 5)]),
    ({"axes": (2, 1)}, [(2, 3, 4), (2, 4, 2, 5)]),
    ({"axes": 1, "normalize": True}, [(2, 4), (2, 4)]),
    ({"axes": (1, 2), "normalize": True}, [(2, 3, 5), (2, 10, 3)]),
    ({"axes": [-1, -2], "normalize": True}, [(2, 3, 4), (2, 4, 6)]),
])
def test_dot_matches_keras(kwargs, shapes):
    check_against_keras("Dot", kwargs, shapes)


def test_dot_normalized_is_cosine_similarity():
    x, y = inputs_for([(3, 6), (3, 6)])
    expected = np.sum(x * y, axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    result = layers.Dot(axes=1, normalize=True)([x, y])
    np.testing.assert_allclose(result.numpy()[:, 0], expected, rtol=1e-5)


def test_residual_block_trains_with_fit():
    inputs = deepglass.Input((8,))
    x = layers.Dense(8, activation="relu")(inputs)
    x = layers.Dense(8)(x)
    x = layers.add([x, inputs])
    outputs = layers.Dense(1)(x)
    model = deepglass.Model(inputs, outputs)
    assert model.count_params() == 2 * (8 * 8 + 8) + 9

    # the model computes dense2(relu(dense1(x))) + x, then the head
    data = random_input((64, 8))
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    hidden = np.maximum(data @ k1 + b1, 0) @ k2 + b2 + data
    np.testing.assert_allclose(model.predict(data, verbose=0), hidden @ k3 + b3, atol=1e-5)

    target = data.sum(axis=1, keepdims=True).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(data, target, epochs=5, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    assert not np.allclose(model.get_weights()[0], k1)  # gradients reached the block's first layer


def test_merge_layer_in_a_two_input_model():
    a, b = deepglass.Input((4,)), deepglass.Input((4,))
    model = deepglass.Model([a, b], layers.Concatenate()([layers.subtract([a, b]), layers.multiply([a, b])]))
    x, y = inputs_for([(3, 4), (3, 4)])
    np.testing.assert_allclose(model.predict([x, y], verbose=0), np.concatenate([x - y, x * y], axis=1), rtol=1e-6)


@pytest.mark.parametrize("make, inputs, message", [
    (layers.Add, lambda: torch.ones(2, 4), r"list of tensors.*Add\(\)\(\[x1, x2\]\).*shape \(2, 4\)"),
    (layers.Add, lambda: deepglass.Input((4,)), r"single input of shape \(None, 4\)"),
    (layers.Add, lambda: [], "non-empty list"),
    (layers.Add, lambda: [torch.ones(2, 3), torch.ones(2, 4)], r"incompatible shapes \[\(2, 3\), \(2, 4\)\]"),
    (layers.Maximum, lambda: [deepglass.Input((3,)), deepglass.Input((4,))],
     r"incompatible shapes \[\(None, 3\), \(None, 4\)\]"),
    (layers.Add, lambda: [torch.ones(2, 3), torch.ones(5, 3)], "different batch sizes"),
    (layers.Subtract, lambda: [torch.ones(2, 3)] * 3, "exactly 2 tensors; received 3"),
    (layers.Concatenate, lambda: [torch.ones(2, 3, 1), torch.ones(2, 4, 2)],
     r"except the concatenation axis \(axis=-1\); received shapes \[\(2, 3, 1\), \(2, 4, 2\)\]"),
    (layers.Concatenate, lambda: [torch.ones(2, 3), torch.ones(2, 3, 1)], "same rank"),
    (lambda: layers.Dot(axes=1), lambda: [torch.ones(2, 3), torch.ones(2, 4)],
     r"got 3 \(axis 1 of \(2, 3\)\) and 4 \(axis 1 of \(2, 4\)\)"),
    (lambda: layers.Dot(axes=0), lambda: [torch.ones(2, 3), torch.ones(2, 3)], "batch axis"),
    (lambda: layers.Dot(axes=1), lambda: [torch.ones(2), torch.ones(2)], "rank 2 or more"),
])
def test_errors_name_the_shapes(make, inputs, message):
    with pytest.raises(ValueError, match=message):
        make()(inputs())


def test_built_layer_rejects_a_single_tensor():
    layer = layers.Dot(axes=1)
    layer([torch.ones(2, 3), torch.ones(2, 3)])
    with pytest.raises(ValueError, match="list of tensors"):
        layer(torch.ones(2, 3))  # would otherwise unpack the batch's two rows as the two inputs


@pytest.mark.parametrize("axes", ["1", (1, 2, 3), (1.0, 2)])
def test_dot_rejects_bad_axes(axes):
    with pytest.raises((TypeError, ValueError), match="axes"):
        layers.Dot(axes=axes)


def test_configs_match_keras():
    for ours, theirs in [(layers.Concatenate(axis=1), keras.layers.Concatenate(axis=1)),
                         (layers.Dot(axes=[1, 2], normalize=True), keras.layers.Dot(axes=[1, 2], normalize=True))]:
        mine = ours.get_config()
        assert {k: theirs.get_config()[k] for k in ("axis", "axes", "normalize") if k in mine} == \
            {k: mine[k] for k in ("axis", "axes", "normalize") if k in mine}
