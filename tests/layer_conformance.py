"""The test every layer passes: shapes, parameter count, config and weights round trips, gradients, and (where
Keras has the same layer) equal outputs to Keras's given the same weights."""
import numpy as np
import torch

import deepglass


def keras_or_none():
    try:
        import keras
    except ImportError:
        return None
    return keras


def random_input(shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    if dtype.startswith("int"):
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape=None, expected_num_params=None,
                   expected_num_trainable_weights=None, input_dtype="float32", compare_keras=True, atol=1e-5):
    """Check one layer class end to end; returns the layer built on `input_shape` (batch axis included)."""
    x = random_input(input_shape, input_dtype)
    layer = layer_cls(**init_kwargs)
    y = layer(torch.from_numpy(x))
    expected_shape = layer.compute_output_shape(tuple(input_shape))
    assert tuple(y.shape) == tuple(expected_shape), (tuple(y.shape), expected_shape)
    if expected_output_shape is not None:
        assert tuple(y.shape) == tuple(expected_output_shape)
    if expected_num_params is not None:
        assert layer.count_params() == expected_num_params
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights

    # symbolic call on an Input gives the same shape, batch axis unknown
    symbolic = layer_cls(**init_kwargs)(deepglass.Input(input_shape[1:], dtype=input_dtype))
    assert symbolic.shape == (None,) + tuple(expected_shape[1:])

    # config round trip, then the same weights give the same outputs
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    clone(torch.from_numpy(x))
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(torch.from_numpy(x)).detach().cpu().numpy(), y.detach().cpu().numpy(), atol=atol)
    for mine, theirs in zip(layer.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(mine, theirs)

    # gradients reach every trainable weight
    if layer.trainable_weights and y.is_floating_point():
        layer.zero_grad()
        layer(torch.from_numpy(x)).square().sum().backward()
        for weight in layer.trainable_weights:
            assert weight.grad is not None and torch.any(weight.grad != 0)

    keras = keras_or_none()
    if compare_keras and keras is not None and hasattr(keras.layers, layer_cls.__name__):
        compare_with_keras(keras, layer, init_kwargs, x, y.detach().cpu().numpy(), atol)
    return layer


def compare_with_keras(keras, layer, init_kwargs, x, y, atol):
    theirs = getattr(keras.layers, type(layer).__name__)(**init_kwargs)
    their_y = theirs(x)
    assert theirs.count_params() == layer.count_params()
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in layer.get_weights()]
    theirs.set_weights(layer.get_weights())
    their_y = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(y, their_y, atol=atol, rtol=1e-5)
