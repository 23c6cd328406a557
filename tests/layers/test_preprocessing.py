"""Preprocessing layers against the Keras oracle on the same data: Normalization (adapt on arrays, tensors and
streams of batches, invert), Rescaling, Resizing, CenterCrop, Discretization (adapted quantiles) and
CategoryEncoding; configs, saving of adapted statistics and bad arguments."""
import json
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from tests.layer_conformance import run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
DATA = (RNG.standard_normal((64, 5, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.0]).astype("float32")


def to_numpy(t):
    return keras.ops.convert_to_numpy(t) if not torch.is_tensor(t) else t.detach().cpu().numpy()


# ----------------------------------------------------------------------------------------------- Normalization
@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
def test_normalization_adapt_matches_keras(axis):
    mine, theirs = layers.Normalization(axis=axis), keras.layers.Normalization(axis=axis)
    mine.adapt(DATA)
    theirs.adapt(DATA)
    for a, b in zip(mine.get_weights()[:2], theirs.get_weights()[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(mine(DATA)), to_numpy(theirs(DATA)), rtol=1e-5, atol=1e-5)
    assert mine.count_params() == theirs.count_params()


def test_normalization_stream_equals_whole_array():
    whole, stream, split, tensor = (layers.Normalization() for _ in range(4))
    whole.adapt(DATA)
    stream.adapt(DATA[i:i + 10] for i in range(0, len(DATA), 10))  # a generator with a short last batch
    split.adapt(DATA, batch_size=7)
    tensor.adapt(torch.from_numpy(DATA))
    for other in (stream, split, tensor):
        for a, b in zip(whole.get_weights()[:2], other.get_weights()[:2]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(whole.get_weights()[0], DATA.reshape(-1, 3).mean(0), rtol=1e-5)
    np.testing.assert_allclose(whole.get_weights()[1], DATA.reshape(-1, 3).var(0), rtol=1e-5)


def test_normalization_steps_and_xy_batches():
    layer = layers.Normalization()
    layer.adapt([(DATA[:32], None), (DATA[32:], None)], steps=1)  # (x, y) batches use x; only the first batch
    np.testing.assert_allclose(layer.get_weights()[0], DATA[:32].reshape(-1, 3).mean(0), rtol=1e-5)


def test_normalization_fixed_statistics_and_invert_round_trip():
    mean, variance = [1.0, -2.0, 0.5], [4.0, 0.25, 1.0]
    mine = layers.Normalization(mean=mean, variance=variance)
    theirs = keras.layers.Normalization(mean=mean, variance=variance)
    np.testing.assert_allclose(to_numpy(mine(DATA)), to_numpy(theirs(DATA)), rtol=1e-6, atol=1e-6)
    assert mine.count_params() == 0 == theirs.count_params()
    inverse = layers.Normalization(mean=mean, variance=variance, invert=True)
    np.testing.assert_allclose(to_numpy(inverse(mine(DATA))), DATA, atol=1e-5)
    their_inverse = keras.layers.Normalization(mean=mean, variance=variance, invert=True)
    np.testing.assert_allclose(to_numpy(inverse(DATA)), to_numpy(their_inverse(DATA)), rtol=1e-6, atol=1e-6)


def test_normalization_scalar_statistics_and_config():
    layer = layers.Normalization(axis=None, mean=2.0, variance=9.0)
    np.testing.assert_allclose(to_numpy(layer(DATA)), (DATA - 2.0) / 3.0, rtol=1e-6)
    config = json.loads(json.dumps(layer.get_config()))
    clone = layers.deserialize({"class_name": "Normalization", "config": config})
    np.testing.assert_array_equal(to_numpy(clone(DATA)), to_numpy(layer(DATA)))


def test_normalization_adapted_statistics_are_saved(tmp_path):
    norm = layers.Normalization()
    norm.adapt(DATA.reshape(-1, 3))
    model = deepglass.Sequential([deepglass.Input((3,)), norm, layers.Dense(2)])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = deepglass.models.load_model(path)
    x = DATA[:4, 0]
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6)


def test_normalization_conformance_and_errors():
    run_layer_test(layers.Normalization, dict(mean=[0.5, 1.0, 2.0], variance=[1.0, 4.0, 9.0]), (4, 2, 3),
                   expected_output_shape=(4, 2, 3), expected_num_params=0)
    run_layer_test(layers.Normalization, dict(axis=1), (4, 5, 3), expected_num_params=11)
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        layers.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="given `mean`"):
        layers.Normalization(mean=1.0, variance=1.0).adapt(DATA)
    with pytest.raises(ValueError, match="kept axes"):
        adapted = layers.Normalization()
        adapted.adapt(DATA)
        adapted.adapt(DATA[..., :2])
    with pytest.raises(ValueError, match="no batches"):
        layers.Normalization().adapt([])
    with pytest.raises(ValueError, match="axis"):
        layers.Normalization(axis=4)(DATA)


# -------------------------------------------------------------------------------------------------- Rescaling
@pytest.mark.parametrize("kwargs", [dict(scale=1 / 255), dict(scale=1 / 127.5, offset=-1),
                                    dict(scale=[0.5, 2.0, 1.0], offset=[1.0, 0.0, -1.0])])
def test_rescaling(kwargs):
    run_layer_test(layers.Rescaling, kwargs, (2, 4, 4, 3), expected_num_params=0)
    pixels = RNG.integers(0, 256, (2, 4, 4, 3)).astype("uint8")
    mine = to_numpy(layers.Rescaling(**kwargs)(torch.from_numpy(pixels)))
    np.testing.assert_allclose(mine, to_numpy(keras.layers.Rescaling(**kwargs)(pixels)), rtol=1e-6)
    assert mine.dtype == np.float32


# --------------------------------------------------------------------------------------------- Resizing, crops
IMAGES = RNG.uniform(0, 255, (2, 7, 10, 3)).astype("float32")


@pytest.mark.parametrize("kwargs", [
    dict(height=5, width=4), dict(height=12, width=15), dict(height=5, width=13, interpolation="nearest"),
    dict(height=9, width=9, interpolation="bicubic"), dict(height=6, width=6, crop_to_aspect_ratio=True),
    dict(height=6, width=4, pad_to_aspect_ratio=True, fill_value=1.0), dict(height=4, width=12,
                                                                             pad_to_aspect_ratio=True),
    dict(height=3, width=5, antialias=True),
])
def test_resizing_matches_keras(kwargs):
    mine = to_numpy(layers.Resizing(**kwargs)(IMAGES))
    np.testing.assert_allclose(mine, to_numpy(keras.layers.Resizing(**kwargs)(IMAGES)), rtol=1e-5, atol=1e-4)
    assert mine.shape == (2, kwargs["height"], kwargs["width"], 3)


def test_resizing_formats_and_integer_images():
    first = np.transpose(IMAGES, (0, 3, 1, 2))
    kwargs = dict(height=4, width=6, data_format="channels_first")
    run_layer_test(layers.Resizing, kwargs, first.shape, expected_output_shape=(2, 3, 4, 6))
    np.testing.assert_allclose(to_numpy(layers.Resizing(**kwargs)(first)),
                               to_numpy(keras.layers.Resizing(**kwargs)(first)), rtol=1e-5, atol=1e-4)
    pixels = IMAGES.astype("uint8")
    mine = to_numpy(layers.Resizing(5, 8)(torch.from_numpy(pixels)))
    assert mine.dtype == np.uint8
    np.testing.assert_array_equal(mine, to_numpy(keras.layers.Resizing(5, 8)(pixels)))
    one = to_numpy(layers.Resizing(3, 3)(torch.from_numpy(IMAGES[0])))
    np.testing.assert_allclose(one, to_numpy(layers.Resizing(3, 3)(IMAGES))[0], rtol=1e-6)


@pytest.mark.parametrize("size, data_format", [((4, 6), None), ((7, 10), None), ((9, 12), None), ((5, 12), None),
                                               ((3, 4), "channels_first")])
def test_center_crop_matches_keras(size, data_format):
    images = IMAGES if data_format is None else np.transpose(IMAGES, (0, 3, 1, 2))
    kwargs = dict(height=size[0], width=size[1], data_format=data_format)
    mine = to_numpy(layers.CenterCrop(**kwargs)(images))
    np.testing.assert_allclose(mine, to_numpy(keras.layers.CenterCrop(**kwargs)(images)), rtol=1e-5, atol=1e-4)


def test_center_crop_conformance_and_image_errors():
    run_layer_test(layers.CenterCrop, dict(height=3, width=5), (2, 7, 10, 3), expected_output_shape=(2, 3, 5, 3))
    np.testing.assert_array_equal(to_numpy(layers.CenterCrop(3, 4)(IMAGES[0])), IMAGES[0, 2:5, 3:7])
    with pytest.raises(ValueError, match="`height`"):
        layers.CenterCrop(0, 3)
    with pytest.raises(ValueError, match="`width`"):
        layers.Resizing(3, 2.5)
    with pytest.raises(ValueError, match="Did you mean 'bilinear'"):
        layers.Resizing(3, 3, interpolation="bilinar")
    with pytest.raises(ValueError, match="Only one of"):
        layers.Resizing(3, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="rank 3"):
        layers.Resizing(3, 3)(np.zeros((2, 3, 4, 5, 6), "float32"))


# --------------------------------------------------------------------------------------------- Discretization
VALUES = RNG.standard_normal((300, 2)).astype("float32") ** 3


def keras_adapt(layer, batches):
    # Keras's adapt() needs TensorFlow only to recognise tf.data; its summary steps are plain NumPy.
    layer.reset_state()
    for batch in batches:
        layer.update_state(batch)
    layer.finalize_state()


@pytest.mark.parametrize("num_bins, epsilon", [(4, 0.01), (5, 0.1), (3, 0.001)])
def test_discretization_adapt_matches_keras(num_bins, epsilon):
    mine, theirs = (module.Discretization(num_bins=num_bins, epsilon=epsilon) for module in (layers, keras.layers))
    batches = [VALUES[:100], VALUES[100:170], VALUES[170:]]
    mine.adapt(iter(batches))
    keras_adapt(theirs, batches)
    np.testing.assert_allclose(mine.bin_boundaries, theirs.bin_boundaries, rtol=1e-6)
    np.testing.assert_array_equal(to_numpy(mine(VALUES)), to_numpy(theirs(VALUES)))
    whole = layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    whole.adapt(torch.from_numpy(VALUES))
    keras_whole = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    keras_adapt(keras_whole, [VALUES])
    np.testing.assert_allclose(whole.bin_boundaries, keras_whole.bin_boundaries, rtol=1e-6)


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_output_modes(mode):
    bounds = [-1.0, 0.0, 0.5]
    x = np.array([[-2.0, 0.0], [0.5, 0.25], [9.0, -1.0]], "float32")
    mine = to_numpy(layers.Discretization(bin_boundaries=bounds, output_mode=mode)(x))
    theirs = to_numpy(keras.layers.Discretization(bin_boundaries=bounds, output_mode=mode)(x))
    np.testing.assert_array_equal(mine, theirs)
    assert mine.dtype == theirs.dtype
    if mode == "int":
        np.testing.assert_array_equal(mine, np.digitize(x, bounds))


def test_discretization_config_symbolic_and_errors():
    layer = layers.Discretization(num_bins=3)
    layer.adapt(VALUES)
    config = json.loads(json.dumps(layer.get_config()))
    clone = layers.Discretization.from_config(config)
    assert clone.bin_boundaries == layer.bin_boundaries
    assert layer(deepglass.Input((2,))).dtype == torch.int32
    run_layer_test(layers.Discretization, dict(bin_boundaries=[0.0, 1.0], output_mode="one_hot"), (4, 1),
                   expected_output_shape=(4, 3))
    with pytest.raises(ValueError, match="not both"):
        layers.Discretization(bin_boundaries=[0.0], num_bins=2)
    with pytest.raises(ValueError, match="`bin_boundaries`"):
        layers.Discretization()
    with pytest.raises(ValueError, match="num_bins"):
        layers.Discretization(num_bins=-1)
    with pytest.raises(ValueError, match="Did you mean 'one_hot'"):
        layers.Discretization(num_bins=2, output_mode="onehot")
    with pytest.raises(ValueError, match="given `bin_boundaries`"):
        layers.Discretization(bin_boundaries=[0.0]).adapt(VALUES)
    with pytest.raises(ValueError, match="no boundaries yet"):
        layers.Discretization(num_bins=2)(VALUES)


# ------------------------------------------------------------------------------------------- CategoryEncoding
@pytest.mark.parametrize("mode, ids", [("multi_hot", [[0, 2, 2], [3, 1, 0]]), ("count", [[0, 2, 2], [3, 1, 0]]),
                                       ("one_hot", [3, 0, 1]), ("one_hot", [[3], [0]]), ("multi_hot", [1, 3]),
                                       ("count", [2, 2, 0]), ("binary", [[1, 1]])])
def test_category_encoding_matches_keras(mode, ids):
    ids = np.array(ids, "int64")
    mine = to_numpy(layers.CategoryEncoding(4, output_mode=mode)(torch.from_numpy(ids)))
    theirs = to_numpy(keras.layers.CategoryEncoding(4, output_mode=mode)(ids))
    np.testing.assert_array_equal(mine, theirs)
    assert mine.shape == layers.CategoryEncoding(4, output_mode=mode).compute_output_shape(ids.shape)


def test_category_encoding_count_weights_conformance_and_errors():
    ids, weights = np.array([[0, 2, 2], [3, 1, 0]]), np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 4.0]], "float32")
    mine = layers.CategoryEncoding(4, output_mode="count")(torch.from_numpy(ids), count_weights=weights)
    theirs = keras.layers.CategoryEncoding(4, output_mode="count")(ids, count_weights=weights)
    np.testing.assert_allclose(to_numpy(mine), to_numpy(theirs))
    run_layer_test(layers.CategoryEncoding, dict(num_tokens=10), (3, 4), input_dtype="int64",
                   expected_output_shape=(3, 10), expected_num_params=0)
    with pytest.raises(ValueError, match="`num_tokens`"):
        layers.CategoryEncoding(0)
    with pytest.raises(ValueError, match="Did you mean 'count'"):
        layers.CategoryEncoding(3, output_mode="counts")
    with pytest.raises(ValueError, match="count_weights"):
        layers.CategoryEncoding(4)(torch.from_numpy(ids), count_weights=weights)
