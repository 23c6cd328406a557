"""Sum and L^p pooling, max pooling with indices and max unpooling, against NumPy references that pad explicitly
(NaN marking the padding), worked examples, torch's lp_pool where its assumptions hold, a SegNet-style functional
model, configs and bad input."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepglass
from deepglass import layers
from tests.layer_conformance import random_input, run_layer_test


def numpy_pool(x, pool_size, strides, padding, data_format, reduce):
    """Apply `reduce(windows)` to every window; `windows` is `(batch, *pool_size, channels)` with NaN where Keras's
    "same" padding is (the odd element after). Returns the results stacked into the pooled layout."""
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    spatial, outs, pads = x.shape[1:-1], [], []
    for n, k, s in zip(spatial, pool_size, strides):
        out = (n - k) // s + 1 if padding == "valid" else -(-n // s)
        total = max((out - 1) * s + k - n, 0) if padding == "same" else 0
        outs.append(out)
        pads.append((total // 2, total - total // 2))
    padded = np.pad(x.astype("float64"), [(0, 0)] + pads + [(0, 0)], constant_values=np.nan)
    result = None
    for index in itertools.product(*(range(o) for o in outs)):
        window = padded[(slice(None),) + tuple(slice(i * s, i * s + k) for i, s, k in zip(index, strides,
                                                                                         pool_size))]
        value = reduce(window, index, [b for b, _ in pads], spatial, strides)
        if result is None:
            result = np.zeros((x.shape[0], *outs, x.shape[-1]), value.dtype)
        result[(slice(None),) + index] = value
    return np.moveaxis(result, -1, 1) if data_format == "channels_first" else result


def window_sum(window, *_):
    return np.nansum(window, axis=tuple(range(1, window.ndim - 1)))


def window_lp(p):
    return lambda window, *_: np.nansum(np.abs(window) ** p, axis=tuple(range(1, window.ndim - 1))) ** (1.0 / p)


def window_argmax(window, index, befores, spatial, strides):
    """The flat position (in the unpadded input plane) of each window's maximum."""
    batch, channels, pool = window.shape[0], window.shape[-1], window.shape[1:-1]
    flat = np.nanargmax(np.moveaxis(window, -1, 1).reshape(batch, channels, -1), axis=-1)
    within = np.unravel_index(flat, pool)
    coordinates = [i * s + w - b for i, s, w, b in zip(index, strides, within, befores)]
    return np.ravel_multi_index(coordinates, spatial)


SUM_LP = [  # (class, arguments, input shape)
    (layers.SumPooling1D, dict(), (2, 9, 3)),
    (layers.SumPooling1D, dict(pool_size=3, strides=2, padding="same"), (2, 10, 3)),
    (layers.SumPooling1D, dict(pool_size=2, padding="same", data_format="channels_first"), (2, 3, 7)),
    (layers.SumPooling2D, dict(), (2, 7, 9, 3)),
    (layers.SumPooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 8, 7, 3)),
    (layers.SumPooling2D, dict(pool_size=(2, 3), strides=(1, 2), padding="same", data_format="channels_first"),
     (2, 3, 6, 7)),
    (layers.SumPooling3D, dict(padding="same"), (1, 5, 6, 3, 2)),
    (layers.SumPooling3D, dict(pool_size=2, strides=1, data_format="channels_first"), (1, 2, 4, 3, 5)),
    (layers.LPPooling1D, dict(p=1, pool_size=3, strides=2, padding="same"), (2, 10, 3)),
    (layers.LPPooling1D, dict(p=3, data_format="channels_first"), (2, 3, 9)),
    (layers.LPPooling2D, dict(), (2, 7, 9, 3)),
    (layers.LPPooling2D, dict(p=3, pool_size=3, strides=2, padding="same"), (2, 8, 7, 3)),
    (layers.LPPooling2D, dict(p=2.5, pool_size=(2, 3), padding="same", data_format="channels_first"),
     (2, 3, 7, 8)),
    (layers.LPPooling3D, dict(p=2, pool_size=2, padding="same"), (1, 5, 4, 3, 2)),
    (layers.LPPooling3D, dict(p=1, pool_size=(1, 2, 2), data_format="channels_first"), (1, 2, 3, 4, 4)),
]


@pytest.mark.parametrize("cls, kwargs, shape", SUM_LP)
def test_sum_and_lp_pooling(cls, kwargs, shape):
    layer = run_layer_test(cls, kwargs, shape, expected_num_params=0)
    x = random_input(shape)  # standard normal: negative inputs test the |x| of the p-norm
    reduce = window_sum if cls.__name__.startswith("Sum") else window_lp(layer.p)
    expected = numpy_pool(x, layer.pool_size, layer.strides, layer.padding, layer.data_format, reduce)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_sum_pooling_by_hand():
    x = torch.arange(6.0).reshape(1, 6, 1)
    # windows [0, 1, 2], [2, 3, 4], [4, 5] + padding: "same" sums the real inputs only
    np.testing.assert_allclose(layers.SumPooling1D(3, 2, padding="same")(x).numpy().ravel(), [3.0, 9.0, 9.0])
    image = torch.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_allclose(layers.SumPooling2D()(image).numpy()[0, :, :, 0], [[10.0, 18.0], [42.0, 50.0]])


def test_lp_pooling_by_hand():
    x = torch.tensor([3.0, -4.0, 0.0, 0.0, -1.0, 2.0]).reshape(1, 6, 1)
    np.testing.assert_allclose(layers.LPPooling1D(2, 2)(x).numpy().ravel(), [5.0, 0.0, 5 ** 0.5], rtol=1e-6)
    np.testing.assert_allclose(layers.LPPooling1D(1, 2)(x).numpy().ravel(), [7.0, 0.0, 3.0])
    np.testing.assert_allclose(layers.LPPooling1D(3, 2)(x).numpy().ravel(), [91 ** (1 / 3), 0.0, 9 ** (1 / 3)],
                               rtol=1e-6)


def test_lp_pooling_agrees_with_torch_where_torch_is_right():
    x = torch.from_numpy(random_input((2, 8, 6, 3))).abs() + 0.1
    ours = layers.LPPooling2D(3, pool_size=(2, 3))(x)
    theirs = F.lp_pool2d(x.permute(0, 3, 1, 2), 3, (2, 3)).permute(0, 2, 3, 1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)
    # torch raises x, not |x|, to the power: a window whose cubes sum below zero gives NaN there, a norm here
    negative = -x
    assert torch.isnan(F.lp_pool2d(negative.permute(0, 3, 1, 2), 3, (2, 3))).all()
    np.testing.assert_allclose(layers.LPPooling2D(3, pool_size=(2, 3))(negative).numpy(), ours.numpy(), rtol=1e-6)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pooling_gradient_at_zero_windows(p):
    x = torch.zeros(1, 4, 4, 2)
    x[0, 0, 0, 0] = 2.0
    x.requires_grad_(True)
    layers.LPPooling2D(p)(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[0, 0, 0, 0] == 1.0 and x.grad.abs().sum() == 1.0  # d|x|/dx in the one non-zero window


# ------------------------------------------------------------------------------------ max pooling with indices
WITH_INDICES = [
    (layers.MaxPooling1DWithIndices, dict(), (2, 9, 3)),
    (layers.MaxPooling1DWithIndices, dict(pool_size=2, strides=1, padding="same", data_format="channels_first"),
     (2, 3, 7)),
    (layers.MaxPooling2DWithIndices, dict(), (2, 7, 9, 3)),
    (layers.MaxPooling2DWithIndices, dict(pool_size=3, strides=2, padding="same"), (2, 7, 7, 3)),  # torch pads
    (layers.MaxPooling2DWithIndices, dict(pool_size=2, padding="same"), (2, 7, 9, 3)),  # padded after only
    (layers.MaxPooling2DWithIndices, dict(pool_size=(2, 3), strides=(1, 2), padding="same",
                                          data_format="channels_first"), (2, 3, 6, 7)),
    (layers.MaxPooling3DWithIndices, dict(padding="same"), (1, 5, 4, 3, 2)),
    (layers.MaxPooling3DWithIndices, dict(pool_size=2, strides=1, data_format="channels_first"), (1, 2, 4, 3, 5)),
]


@pytest.mark.parametrize("cls, kwargs, shape", WITH_INDICES)
def test_max_pooling_with_indices(cls, kwargs, shape):
    layer = cls(**kwargs)
    x = random_input(shape)
    pooled, indices = layer(torch.from_numpy(x))
    plain = getattr(layers, cls.__name__.replace("WithIndices", ""))(**kwargs)
    np.testing.assert_array_equal(pooled.numpy(), plain(torch.from_numpy(x)).numpy())
    assert indices.dtype == torch.int64 and indices.shape == pooled.shape
    expected = numpy_pool(x, layer.pool_size, layer.strides, layer.padding, layer.data_format, window_argmax)
    np.testing.assert_array_equal(indices.numpy(), expected)
    assert layer.compute_output_shape(shape) == (tuple(pooled.shape),) * 2
    symbolic_pooled, symbolic_indices = cls(**kwargs)(deepglass.Input(shape[1:]))
    assert symbolic_pooled.shape == symbolic_indices.shape == (None,) + tuple(pooled.shape[1:])
    assert symbolic_indices.dtype == torch.int64


def numpy_unpool(pooled, indices, sizes, data_format):
    """The NumPy scatter: output.flat[indices] = pooled per sample and channel, zeros elsewhere."""
    if data_format == "channels_last":
        pooled, indices = np.moveaxis(pooled, -1, 1), np.moveaxis(indices, -1, 1)
    batch, channels = pooled.shape[:2]
    out = np.zeros((batch, channels, int(np.prod(sizes))), pooled.dtype)
    for b, c in itertools.product(range(batch), range(channels)):
        out[b, c, indices[b, c].ravel()] = pooled[b, c].ravel()
    out = out.reshape((batch, channels) + tuple(sizes))
    return np.moveaxis(out, 1, -1) if data_format == "channels_last" else out


UNPOOL = [  # (rank, pooling arguments, input shape, whether to pass the input as the reference)
    (1, dict(), (2, 8, 3), False),
    (1, dict(pool_size=3, strides=2, padding="same", data_format="channels_first"), (2, 3, 9), True),
    (2, dict(), (2, 8, 6, 3), False),
    (2, dict(pool_size=2, padding="same"), (2, 8, 6, 3), False),
    (2, dict(), (2, 7, 9, 3), True),  # odd sizes: the reference restores 7x9 (the inverse rule gives 6x8)
    (2, dict(pool_size=3, strides=2, padding="same"), (2, 7, 7, 3), True),
    (2, dict(pool_size=(2, 3), data_format="channels_first"), (2, 3, 6, 9), False),
    (3, dict(), (1, 4, 6, 2, 2), False),
    (3, dict(padding="same", data_format="channels_first"), (1, 2, 5, 3, 4), True),
]


@pytest.mark.parametrize("rank, kwargs, shape, reference", UNPOOL)
def test_max_unpooling(rank, kwargs, shape, reference):
    x = torch.from_numpy(random_input(shape))
    pooled, indices = getattr(layers, f"MaxPooling{rank}DWithIndices")(**kwargs)(x)
    unpool = getattr(layers, f"MaxUnpooling{rank}D")(**kwargs)
    inputs = [pooled, indices, x] if reference else [pooled, indices]
    y = unpool(inputs)
    data_format = kwargs.get("data_format", "channels_last")
    sizes = tuple(x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]) if reference else None
    if sizes is None:  # the inverse of the pooling
        pool = unpool.pool_size
        pooled_sizes = pooled.shape[1:-1] if data_format == "channels_last" else pooled.shape[2:]
        sizes = tuple((n - 1) * s + k if unpool.padding == "valid" else n * s
                      for n, k, s in zip(pooled_sizes, pool, unpool.strides))
    np.testing.assert_array_equal(y.numpy(), numpy_unpool(pooled.numpy(), indices.numpy(), sizes, data_format))
    assert unpool.compute_output_shape([tuple(t.shape) for t in inputs]) == tuple(y.shape)
    if y.shape == x.shape:  # each maximum is back where it came from
        kept = y != 0
        np.testing.assert_array_equal(y[kept].numpy(), x[kept].numpy())


def test_unpooling_by_hand():
    x = torch.tensor([[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0], [0.0, 0.0, 1.0, 1.5], [9.0, 2.0, 3.0, 1.0]])
    pooled, indices = layers.MaxPooling2DWithIndices()(x.reshape(1, 4, 4, 1))
    np.testing.assert_array_equal(indices.numpy().ravel(), [1, 6, 12, 14])  # row * 4 + column
    np.testing.assert_array_equal(layers.MaxUnpooling2D()([pooled, indices]).numpy()[0, :, :, 0],
                                  [[0, 5, 0, 0], [0, 0, 8, 0], [0, 0, 0, 0], [9, 0, 3, 0]])


def test_gradients_flow_through_pool_and_unpool():
    x = torch.from_numpy(random_input((2, 6, 6, 3))).requires_grad_(True)
    pooled, indices = layers.MaxPooling2DWithIndices()(x)
    layers.MaxUnpooling2D()([pooled, indices]).sum().backward()
    pooled_again, _ = layers.MaxPooling2DWithIndices()(x)
    expected = torch.autograd.grad(pooled_again.sum(), x)[0]  # ones at the maxima, as for max pooling
    np.testing.assert_array_equal(x.grad.numpy(), expected.numpy())


def test_segnet_encoder_decoder():
    inputs = deepglass.Input((8, 8, 3))
    features = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    pooled, indices = layers.MaxPooling2DWithIndices()(features)
    encoded = layers.Conv2D(4, 3, padding="same", activation="relu")(pooled)
    upsampled = layers.MaxUnpooling2D()([encoded, indices])
    decoded = layers.Conv2D(2, 3, padding="same")(upsampled)
    model = deepglass.Model(inputs, decoded)
    assert upsampled.shape == (None, 8, 8, 4) and model.output_shape == (None, 8, 8, 2)
    x, y = random_input((8, 8, 8, 3)), random_input((8, 8, 8, 2), seed=1)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    clone = deepglass.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


# -------------------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("layer", [
    layers.SumPooling2D(3, 2, padding="same"), layers.LPPooling1D(3, 4, data_format="channels_first"),
    layers.MaxPooling3DWithIndices((1, 2, 2)), layers.MaxUnpooling2D(3, 2, padding="same"),
])
def test_serialize_round_trip(layer):
    clone = deepglass.layers.deserialize(deepglass.layers.serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_configs_follow_max_pooling():
    plain = layers.MaxPooling2D(3, 2, padding="same").get_config()
    assert set(layers.SumPooling2D().get_config()) == set(plain)
    assert set(layers.MaxUnpooling2D().get_config()) == set(plain)
    assert layers.LPPooling2D(2.5).get_config()["p"] == 2.5
    assert repr(layers.LPPooling2D(3, name="lp")) == "LPPooling2D(p=3, name='lp', pool_size=(2, 2))"


# ------------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("p", [0.5, 0, float("inf"), "2", True, (2, 2)])
def test_bad_p(p):
    with pytest.raises(ValueError, match=r"Received an invalid value for `p`, expected a finite number >= 1"):
        layers.LPPooling2D(p)


def test_unpooling_needs_pooled_and_indices():
    x = torch.zeros(1, 4, 4, 2)
    with pytest.raises(ValueError, match=r'MaxUnpooling2D "\w+" expects a list \[pooled, indices\] \(or \[pooled, '
                                         r"indices, reference\]\) from MaxPooling2DWithIndices; got shape"):
        layers.MaxUnpooling2D()(x)
    with pytest.raises(ValueError, match="expects pooled values and indices of the same shape"):
        layers.MaxUnpooling2D()([x, torch.zeros(1, 4, 4, 3, dtype=torch.int64)])
    with pytest.raises(ValueError, match="expects 4-D input"):
        layers.MaxUnpooling2D()([x[0], x[0].long()])
