"""Pooling layers against a NumPy reference of Keras's semantics and against Keras itself, worked examples by hand,
channels-last memory, bad-input errors, Keras 1 spellings, configs."""
import itertools
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.layers import legacy
from deepglass.layers.layer import checked_calls
from tests.layer_conformance import random_input, run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


def numpy_pool(x, pool_size, strides, padding, mode, data_format):
    """Keras's (TensorFlow's) pooling, one window at a time: "same" pads `ceil(n / s)` windows with the odd element
    after, and reduces over the real inputs of each window only."""
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    spatial = x.shape[1:-1]
    starts, outs = [], []
    for n, k, s in zip(spatial, pool_size, strides):
        if padding == "valid":
            out, before = (n - k) // s + 1, 0
        else:
            out = -(-n // s)
            before = max((out - 1) * s + k - n, 0) // 2
        outs.append(out)
        starts.append([i * s - before for i in range(out)])
    result = np.empty((x.shape[0], *outs, x.shape[-1]), x.dtype)
    reduce = np.max if mode == "max" else np.mean
    for index in itertools.product(*(range(o) for o in outs)):
        window = tuple(slice(max(st[i], 0), min(st[i] + k, n)) for st, i, k, n in zip(starts, index, pool_size,
                                                                                         spatial))
        result[(slice(None),) + index] = reduce(x[(slice(None),) + window], axis=tuple(range(1, len(spatial) + 1)))
    return np.moveaxis(result, -1, 1) if data_format == "channels_first" else result


# (class, arguments, input shape, whether Keras's torch backend agrees): Keras on torch pads "same" average pooling
# by replicating the edge and divides by the window size, which differs from Keras's documented (TensorFlow, JAX)
# result when a border window holds two or more real inputs and some padding; those cases use the NumPy reference.
CASES = [
    (layers.MaxPooling1D, dict(), (2, 9, 3), True),
    (layers.MaxPooling1D, dict(pool_size=3, strides=2, padding="same"), (2, 10, 3), True),
    (layers.MaxPooling1D, dict(pool_size=2, padding="same", data_format="channels_first"), (2, 3, 7), True),
    (layers.AveragePooling1D, dict(pool_size=3, strides=1, padding="same"), (2, 8, 3), True),
    (layers.AveragePooling1D, dict(pool_size=3, strides=2, padding="same"), (2, 10, 3), False),
    (layers.AveragePooling1D, dict(pool_size=4, strides=3, data_format="channels_first"), (2, 3, 11), True),
    (layers.MaxPooling2D, dict(), (2, 7, 9, 3), True),
    (layers.MaxPooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 8, 7, 3), True),
    (layers.MaxPooling2D, dict(pool_size=(2, 3), strides=(1, 2), padding="same", data_format="channels_first"),
     (2, 3, 6, 7), True),
    (layers.AveragePooling2D, dict(pool_size=2, padding="same"), (2, 7, 9, 3), True),
    (layers.AveragePooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 8, 7, 3), False),
    (layers.AveragePooling2D, dict(pool_size=(3, 2), strides=(2, 1)), (2, 9, 6, 3), True),
    (layers.AveragePooling2D, dict(pool_size=3, padding="same", data_format="channels_first"), (2, 3, 7, 8),
     False),
    (layers.MaxPooling3D, dict(padding="same"), (1, 5, 6, 3, 2), True),
    (layers.MaxPooling3D, dict(pool_size=2, strides=1, data_format="channels_first"), (1, 2, 4, 3, 5), True),
    (layers.AveragePooling3D, dict(pool_size=3, strides=2, padding="same"), (1, 6, 5, 4, 2), False),
    (layers.AveragePooling3D, dict(pool_size=(2, 1, 2)), (1, 4, 3, 5, 2), True),
]


@pytest.mark.parametrize("cls, kwargs, shape, keras_agrees", CASES)
def test_pooling(cls, kwargs, shape, keras_agrees):
    layer = run_layer_test(cls, kwargs, shape, expected_num_params=0, compare_keras=keras_agrees)
    x = random_input(shape)
    mode = "max" if "Max" in cls.__name__ else "average"
    expected = numpy_pool(x, layer.pool_size, layer.strides, layer.padding, mode, layer.data_format)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_same_average_counts_real_inputs_only():
    x = torch.arange(6.0).reshape(1, 6, 1)
    # windows [0, 1, 2], [2, 3, 4], [4, 5] + one padding element: 4.5 is the mean of the two real inputs
    np.testing.assert_allclose(layers.AveragePooling1D(3, 2, padding="same")(x).numpy().ravel(), [1.0, 3.0, 4.5])
    # max pooling pads with -inf, so a border window of negative numbers keeps its maximum
    np.testing.assert_allclose(layers.MaxPooling1D(3, 2, padding="same")(-x - 1).numpy().ravel(), [-1.0, -3.0, -5.0])


def test_max_pooling_2d_by_hand():
    x = torch.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_allclose(layers.MaxPooling2D()(x).numpy()[0, :, :, 0], [[5.0, 7.0], [13.0, 15.0]])
    np.testing.assert_allclose(layers.AveragePooling2D()(x).numpy()[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


GLOBAL = [layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalMaxPooling3D,
          layers.GlobalAveragePooling1D, layers.GlobalAveragePooling2D, layers.GlobalAveragePooling3D]


@pytest.mark.parametrize("cls", GLOBAL)
@pytest.mark.parametrize("data_format, keepdims", [("channels_last", False), ("channels_first", True)])
def test_global_pooling(cls, data_format, keepdims):
    rank = int(cls.__name__[-2])
    shape = (2,) + (5, 4, 3)[:rank] + (3,) if data_format == "channels_last" else (2, 3) + (5, 4, 3)[:rank]
    layer = run_layer_test(cls, dict(data_format=data_format, keepdims=keepdims), shape, expected_num_params=0)
    x = random_input(shape)
    axes = tuple(range(1, rank + 1)) if data_format == "channels_last" else tuple(range(2, rank + 2))
    expected = (np.max if "Max" in cls.__name__ else np.mean)(x, axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_aliases():
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool1D is layers.AveragePooling1D
    assert layers.GlobalAvgPool3D is layers.GlobalAveragePooling3D and layers.GlobalMaxPool1D is \
        layers.GlobalMaxPooling1D


@pytest.mark.parametrize("cls, shape", [(layers.MaxPooling1D, (2, 9, 3)), (layers.AveragePooling2D, (2, 7, 9, 3)),
                                        (layers.MaxPooling3D, (2, 5, 5, 7, 3))])
def test_channels_last_data_reaches_torch_without_copies(cls, shape):
    layer = cls(pool_size=3, strides=2, padding="same")  # odd sizes: symmetric "same" padding, done by torch
    seen, function = [], layer._pool
    layer._pool = lambda x, *args: seen.append(x) or function(x, *args)
    x = torch.randn(shape)
    y = layer(x)
    memory_format = torch.channels_last_3d if len(shape) == 5 else torch.channels_last
    assert seen[0].data_ptr() == x.data_ptr() and seen[0].is_contiguous(memory_format=memory_format)
    assert y.is_contiguous()


# ------------------------------------------------------------------------------------------------------ bad input
def test_missing_batch_axis():
    with pytest.raises(ValueError, match=r'MaxPooling2D "max_pooling2d" expects 4-D input \(batch, height, width, '
                                         r"channels\); got shape \(28, 28, 1\): add a batch axis or an "
                                         r"Input\(\(28, 28, 1\)\)\."):
        layers.MaxPooling2D()(torch.zeros(28, 28, 1))
    with pytest.raises(ValueError, match="use GlobalAveragePooling2D for 2-D data"):
        layers.GlobalAveragePooling1D()(torch.zeros(2, 4, 4, 3))


def test_window_larger_than_input():
    with pytest.raises(ValueError, match=r'3x3 pooling window but its input \(1, 2, 5, 1\) is only 2x5, too small '
                                         r'for padding="valid": use padding="same", a smaller pool_size'):
        layers.MaxPooling2D(3)(torch.zeros(1, 2, 5, 1))
    assert tuple(layers.MaxPooling2D(3, padding="same")(torch.zeros(1, 2, 5, 1)).shape) == (1, 1, 2, 1)


@pytest.mark.parametrize("kwargs, match", [(dict(pool_size=0), "pool_size"), (dict(strides=(1, -1)), "strides"),
                                           (dict(padding="causal"), "Unknown padding"),
                                           (dict(data_format="channels"), "Unknown data_format")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.AveragePooling2D(**kwargs)


def test_checked_calls_name_the_fix():
    layer = layers.MaxPooling2D()
    layer(torch.zeros(1, 8, 8, 3))
    with checked_calls(), pytest.raises(ValueError, match=r"expects 4-D input, got shape \(8, 8, 3\): add a "
                                                          r"batch axis or an Input\(\(8, 8, 3\)\)\.$"):
        layer(torch.zeros(8, 8, 3))


# --------------------------------------------------------------------------------------------- Keras 1 spellings
def test_keras1_spellings(monkeypatch):
    monkeypatch.setattr(legacy, "_warned", set())
    with pytest.warns(DeprecationWarning) as record:
        old = layers.MaxPooling2D(pool_size=(2, 2), border_mode="same", dim_ordering="th")
        one = layers.AveragePooling1D(pool_length=3, stride=2)
        glob = layers.GlobalAveragePooling2D(dim_ordering="tf")
    assert all(w.filename == __file__ for w in record)
    assert (old.padding, old.data_format) == ("same", "channels_first")
    assert (one.pool_size, one.strides) == ((3,), (2,))
    assert glob.data_format == "channels_last"
    with pytest.raises(TypeError, match="border_mode"):
        layers.GlobalMaxPooling2D(border_mode="same")


# -------------------------------------------------------------------------------------------------------- configs
def test_config_matches_keras():
    kwargs = dict(pool_size=(3, 2), strides=2, padding="same", data_format="channels_first")
    ours, theirs = layers.MaxPooling2D(**kwargs).get_config(), keras.layers.MaxPooling2D(**kwargs).get_config()
    assert set(ours) == set(theirs)
    for key in ("pool_size", "strides", "padding", "data_format"):
        assert ours[key] == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key]), key
    ours, theirs = layers.GlobalMaxPooling3D(keepdims=True).get_config(), \
        keras.layers.GlobalMaxPooling3D(keepdims=True).get_config()
    assert set(ours) == set(theirs) and ours["keepdims"] is True


def test_serialize_round_trip():
    layer = layers.AveragePooling3D(pool_size=(1, 2, 3), padding="same")
    clone = deepglass.layers.deserialize(deepglass.layers.serialize(layer))
    assert type(clone) is layers.AveragePooling3D and clone.get_config() == layer.get_config()


def test_repr():
    assert repr(layers.MaxPooling2D(3, 2, padding="same")) == \
        "MaxPooling2D(name='max_pooling2d', pool_size=(3, 3), strides=(2, 2), padding='same')"
