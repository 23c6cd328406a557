"""Image augmentation layers: identity at inference, Keras's outputs for fixed transformations (the Keras oracle run
with a range of one value, np.rot90, np.roll, NumPy indexing), statistics of the random draws in training, the
dict / pair / single-image forms, MixUp's and CutMix's formulas, seeds, bad arguments, configs, and fit."""
import json
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from tests.layer_conformance import random_input, run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

FILL_MODES = ["reflect", "wrap", "constant", "nearest"]
SHAPE = (2, 6, 8, 3)


def keras_numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------------------------------------------------ conformance
# Keras's layers augment when called without `training` (its default is True), so Keras is compared only where the
# transformation is the identity anyway (a range of zero, a crop to the input's own size).
CASES = [
    (layers.RandomFlip, dict(), False),
    (layers.RandomFlip, dict(mode="vertical", seed=3, data_format="channels_first"), False),
    (layers.RandomRotation, dict(factor=0.0), True),
    (layers.RandomRotation, dict(factor=(-0.2, 0.3), fill_mode="constant", fill_value=1.5, seed=2), False),
    (layers.RandomTranslation, dict(height_factor=0.0, width_factor=0.0, fill_mode="wrap"), True),
    (layers.RandomTranslation, dict(height_factor=0.2, width_factor=(-0.1, 0.3), interpolation="nearest"), False),
    (layers.RandomZoom, dict(height_factor=0.0), True),
    (layers.RandomZoom, dict(height_factor=(-0.3, 0.2), width_factor=0.1, fill_mode="nearest"), False),
    (layers.RandomContrast, dict(factor=0.3, value_range=(0, 1)), False),
    (layers.RandomBrightness, dict(factor=(-0.1, 0.4), seed=1), False),
    (layers.RandomCrop, dict(height=6, width=8), True),
    (layers.MixUp, dict(alpha=0.4), False),
    (layers.CutMix, dict(factor=(0.2, 0.9)), False),
]


@pytest.mark.parametrize("cls, kwargs, compare", CASES)
def test_conformance_and_identity_at_inference(cls, kwargs, compare):
    shape = (2, 3, 6, 8) if kwargs.get("data_format") == "channels_first" else SHAPE
    layer = run_layer_test(cls, kwargs, shape, expected_output_shape=shape, expected_num_params=0,
                           compare_keras=compare)
    x = torch.from_numpy(random_input(shape))
    single = x[0]
    if cls is layers.RandomCrop:  # a crop to the input's own size: the same values in a new view
        assert torch.equal(layer(x), x) and torch.equal(layer(single), single)
    else:
        assert layer(x) is x and layer(x, training=False) is x and layer(single) is single
    theirs = getattr(keras.layers, cls.__name__)(**kwargs).get_config()
    assert set(layer.get_config()) == set(theirs)
    json.dumps(layer.get_config())
    clone = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    assert type(clone) is cls and clone.get_config() == layer.get_config()


def test_integer_images_come_back_as_floats():
    x = torch.arange(2 * 4 * 4 * 3).view(2, 4, 4, 3)
    for layer in (layers.RandomFlip(), layers.RandomRotation(0.1), layers.RandomContrast(0.1)):
        out = layer(x)
        assert out.dtype == torch.float32 and torch.equal(out, x.float())
        assert layer(x, training=True).dtype == torch.float32


# ------------------------------------------------------------------------------------- fixed transformations vs Keras
AFFINE = [
    ("RandomRotation", dict(factor=(0.1, 0.1))),
    ("RandomRotation", dict(factor=(-0.37, -0.37))),
    ("RandomTranslation", dict(height_factor=(0.3, 0.3), width_factor=(-0.45, -0.45))),
    ("RandomZoom", dict(height_factor=(0.33, 0.33), width_factor=(-0.21, -0.21))),
    ("RandomZoom", dict(height_factor=(0.7, 0.7))),
]


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_layers_equal_keras_for_a_fixed_transformation(fill_mode, interpolation):
    # A range of one value makes Keras's draw deterministic; every fill mode reaches well outside the image here.
    x = random_input((2, 7, 9, 2))
    for name, factors in AFFINE:
        kwargs = dict(factors, fill_mode=fill_mode, interpolation=interpolation, fill_value=0.75)
        mine = getattr(layers, name)(**kwargs)(torch.from_numpy(x), training=True).numpy()
        theirs = keras_numpy(getattr(keras.layers, name)(**kwargs)(x, training=True))
        np.testing.assert_allclose(mine, theirs, atol=1e-5, err_msg=f"{name} {kwargs}")


def test_channels_first_and_single_images_equal_keras():
    x = random_input((3, 2, 7, 9))
    kwargs = dict(factor=(0.15, 0.15), fill_mode="reflect", data_format="channels_first")
    mine = layers.RandomRotation(**kwargs)
    theirs = keras.layers.RandomRotation(**kwargs)
    np.testing.assert_allclose(mine(torch.from_numpy(x), training=True).numpy(),
                               keras_numpy(theirs(x, training=True)), atol=1e-5)
    single = mine(torch.from_numpy(x[0]), training=True)
    assert single.shape == (2, 7, 9)
    np.testing.assert_allclose(single.numpy(), keras_numpy(theirs(x[0], training=True)), atol=1e-5)


def test_rotation_by_a_quarter_turn_is_rot90():
    x = random_input((2, 6, 6, 3))
    y = layers.RandomRotation((0.25, 0.25))(torch.from_numpy(x), training=True).numpy()
    np.testing.assert_allclose(y, np.rot90(x, k=1, axes=(1, 2)), atol=1e-5)


def test_translation_by_a_fixed_fraction_is_a_roll_with_fill():
    x = random_input((2, 8, 10, 3))
    layer = layers.RandomTranslation((0.25, 0.25), (-0.3, -0.3), fill_mode="constant", fill_value=-7.0)
    y = layer(torch.from_numpy(x), training=True).numpy()
    expected = np.roll(x, shift=(2, -3), axis=(1, 2))  # 0.25 * 8 rows down, 0.3 * 10 columns left
    expected[:, :2] = -7.0
    expected[:, :, -3:] = -7.0
    np.testing.assert_allclose(y, expected, atol=1e-5)
    wrapped = layers.RandomTranslation((0.25, 0.25), (-0.3, -0.3), fill_mode="wrap")(torch.from_numpy(x),
                                                                                      training=True)
    np.testing.assert_allclose(wrapped.numpy(), np.roll(x, shift=(2, -3), axis=(1, 2)), atol=1e-5)


def test_zoom_in_equals_numpy_nearest_sampling():
    x = random_input((2, 8, 10, 1))
    y = layers.RandomZoom((-0.5, -0.5), interpolation="nearest")(torch.from_numpy(x), training=True).numpy()
    rows = np.rint(3.5 + 0.5 * (np.arange(8) - 3.5)).astype(int)  # half the field of view, about the centre
    cols = np.rint(4.5 + 0.5 * (np.arange(10) - 4.5)).astype(int)
    np.testing.assert_array_equal(y, x[:, rows][:, :, cols])


def test_zero_factors_are_the_identity_in_training():
    x = torch.from_numpy(random_input(SHAPE))
    for layer in (layers.RandomRotation(0.0), layers.RandomTranslation(0.0, 0.0), layers.RandomZoom(0.0),
                  layers.RandomContrast(0.0, value_range=(-10, 10)), layers.RandomBrightness(0.0, (-10, 10))):
        torch.testing.assert_close(layer(x, training=True), x, atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------------------------ flips
def test_flip_with_a_forced_draw_equals_numpy(monkeypatch):
    x = random_input(SHAPE)
    for mode, axes in (("horizontal", (2,)), ("vertical", (1,)), ("horizontal_and_vertical", (1, 2))):
        layer = layers.RandomFlip(mode)
        monkeypatch.setattr(layer, "uniform", lambda shape, low, high, device: torch.zeros(shape))
        np.testing.assert_array_equal(layer(torch.from_numpy(x), training=True).numpy(), np.flip(x, axes))


def test_flip_statistics():
    n = 4000
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 2, 1).expand(n, 2, 2, 1)
    horizontal = layers.RandomFlip("horizontal")(x, training=True)
    flipped = (horizontal[:, 0, 0, 0] == 2.0).float().mean().item()
    assert abs(flipped - 0.5) < 0.04  # standard error 0.008
    both = layers.RandomFlip()(x, training=True)[:, 0, 0, 0]  # the top-left value tells the orientation
    for corner in (1.0, 2.0, 3.0, 4.0):
        assert abs((both == corner).float().mean().item() - 0.25) < 0.04


# ------------------------------------------------------------------------------------------------ colour layers
def test_brightness_shifts_within_the_factor_range_and_clips():
    x = torch.full((500, 3, 4, 2), 500.0) + torch.rand(500, 3, 4, 2)
    y = layers.RandomBrightness((-0.2, 0.3), value_range=(0, 1000))(x, training=True)
    shift = y - x
    per_image = shift.amax(dim=(1, 2, 3))
    torch.testing.assert_close(shift.amin(dim=(1, 2, 3)), per_image, atol=1e-4, rtol=0)  # one shift per image
    assert per_image.min() >= -200.001 and per_image.max() <= 300.001
    assert per_image.min() < -150 and per_image.max() > 250  # the whole range is used
    bright = layers.RandomBrightness((0.9, 1.0), value_range=(0, 1))(torch.rand(8, 3, 3, 1) * 0.8 + 0.2, training=True)
    assert torch.all(bright == 1.0)


def test_brightness_with_a_fixed_shift_equals_keras():
    x = random_input(SHAPE) * 100 + 100
    kwargs = dict(factor=(0.1, 0.1), value_range=(0, 255))
    np.testing.assert_allclose(layers.RandomBrightness(**kwargs)(torch.from_numpy(x), training=True).numpy(),
                               keras_numpy(keras.layers.RandomBrightness(**kwargs)(x.copy(), training=True)),
                               atol=1e-4)


def test_contrast_keeps_each_channel_mean_and_scales_deviations():
    x = torch.rand(400, 5, 6, 3) * 10
    y = layers.RandomContrast(0.3, value_range=(-100, 100))(x, training=True)
    torch.testing.assert_close(y.mean(dim=(1, 2)), x.mean(dim=(1, 2)), atol=1e-4, rtol=0)
    centred_x = x - x.mean(dim=(1, 2), keepdim=True)
    centred_y = y - y.mean(dim=(1, 2), keepdim=True)
    scale = (centred_y * centred_x).sum(dim=(1, 2, 3)) / centred_x.square().sum(dim=(1, 2, 3))
    torch.testing.assert_close(centred_y, centred_x * scale.view(-1, 1, 1, 1), atol=1e-4, rtol=0)
    assert scale.min() >= 0.7 - 1e-4 and scale.max() <= 1.3 + 1e-4
    assert scale.min() < 0.75 and scale.max() > 1.25
    clipped = layers.RandomContrast((0.0, 5.0), value_range=(0, 10))(x, training=True)
    assert clipped.min() >= 0 and clipped.max() <= 10


# ------------------------------------------------------------------------------------------------------------ crops
def test_random_crop_takes_one_window_per_image():
    x = torch.arange(64 * 7 * 9, dtype=torch.float32).view(64, 7, 9, 1)
    y = layers.RandomCrop(3, 4)(x, training=True)
    assert y.shape == (64, 3, 4, 1)
    starts = set()
    for i in range(64):
        top, left = divmod(int(y[i, 0, 0, 0] - x[i, 0, 0, 0]), 9)
        assert 0 <= top <= 4 and 0 <= left <= 5
        torch.testing.assert_close(y[i], x[i, top:top + 3, left:left + 4])
        starts.add((top, left))
    assert len(starts) > 10  # drawn per image, not once per batch


def test_random_crop_at_inference_crops_to_aspect_ratio_and_resizes_like_keras():
    x = random_input((2, 6, 9, 3))
    expected = keras_numpy(keras.layers.Resizing(4, 4, crop_to_aspect_ratio=True)(x))
    layer = layers.RandomCrop(4, 4)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(), expected, atol=1e-5)
    small = keras_numpy(keras.layers.Resizing(8, 12, crop_to_aspect_ratio=True)(x))
    np.testing.assert_allclose(layers.RandomCrop(8, 12)(torch.from_numpy(x), training=True).numpy(), small,
                               atol=1e-5)  # smaller than the window: resized in training too
    first = layers.RandomCrop(4, 4, data_format="channels_first")
    np.testing.assert_allclose(first(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy(),
                               expected.transpose(0, 3, 1, 2), atol=1e-5)


# ------------------------------------------------------------------------------------------ structures and masks
def test_dicts_pairs_and_masks_are_transformed_together():
    images = torch.randint(0, 5, (4, 6, 6, 1)).float()
    masks = images.long()
    labels = torch.eye(4)
    layer = layers.RandomRotation(0.3, interpolation="nearest", fill_mode="constant", seed=4)
    out = layer({"images": images, "labels": labels, "segmentation_masks": masks, "id": "batch"}, training=True)
    assert out["id"] == "batch" and out["labels"] is labels and out["segmentation_masks"].dtype == torch.int64
    assert torch.equal(out["segmentation_masks"].float(), out["images"])
    assert not torch.equal(out["images"], images)
    pair = layers.RandomCrop(4, 4, seed=1)((images, labels), training=True)
    assert isinstance(pair, tuple) and pair[0].shape == (4, 4, 4, 1) and pair[1] is labels
    crop = layers.RandomCrop(4, 4)
    assert crop.compute_output_shape({"images": (None, 6, 6, 1), "labels": (None, 4)}) == \
        {"images": (None, 4, 4, 1), "labels": (None, 4)}


def test_mixup_formula_and_beta_statistics():
    n = 1000
    images = torch.rand(n, 2, 3, 1)
    out_images, out_labels = layers.MixUp(alpha=0.5, seed=0)((images, torch.eye(n)), training=True)
    weight = out_labels.diagonal()
    off_diagonal = out_labels - torch.diag(weight)
    partner = torch.where(off_diagonal.amax(dim=1) > 0, off_diagonal.argmax(dim=1), torch.arange(n))
    assert sorted(partner.tolist()) == list(range(n))  # a permutation of the batch
    torch.testing.assert_close(out_labels.sum(dim=1), torch.ones(n))
    w = weight.view(-1, 1, 1, 1)
    torch.testing.assert_close(out_images, w * images + (1 - w) * images[partner])
    moved = partner != torch.arange(n)
    # Beta(0.5, 0.5): mean 1/2, variance 1 / (4 * (2 * 0.5 + 1)) = 0.125
    assert abs(weight[moved].mean().item() - 0.5) < 0.04 and abs(weight[moved].var().item() - 0.125) < 0.02


def test_mixup_dict_form_and_integer_labels():
    images = torch.rand(8, 4, 4, 3)
    out = layers.MixUp()({"images": images, "labels": torch.eye(8)}, training=True)
    assert set(out) == {"images", "labels"} and out["labels"].shape == (8, 8)
    with pytest.raises(ValueError, match="to_categorical"):
        layers.MixUp()((images, torch.arange(8)), training=True)


def test_cutmix_pastes_a_box_and_mixes_labels_by_its_area():
    n, height, width = 64, 8, 10
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, height, width, 2)
    out_images, out_labels = layers.CutMix(seed=5)((images, torch.eye(n)), training=True)
    pasted_any = 0
    for i in range(n):
        changed = out_images[i, :, :, 0] != i
        rows, cols = changed.any(dim=1), changed.any(dim=0)
        assert torch.equal(changed, rows[:, None] & cols[None, :])  # one axis-aligned box
        area = changed.float().mean()
        assert abs(out_labels[i, i].item() - (1 - area.item())) < 1e-5
        if changed.any():
            pasted_any += 1
            partner = int(out_images[i, :, :, 0][changed][0])
            assert torch.all(out_images[i][changed] == partner)
            assert abs(out_labels[i, partner].item() - area.item()) < 1e-5
    assert pasted_any > n // 2


# --------------------------------------------------------------------------------------------------------- seeds
def test_seeded_layers_repeat_and_global_seed_reproduces():
    x = torch.from_numpy(random_input(SHAPE))
    for cls, kwargs in ((layers.RandomRotation, dict(factor=0.3)), (layers.RandomContrast, dict(factor=0.5)),
                        (layers.MixUp, dict()), (layers.RandomCrop, dict(height=3, width=3))):
        a, b, c = (cls(**kwargs, seed=s)(x, training=True) for s in (7, 7, 8))
        assert torch.equal(a, b) and not torch.equal(a, c)
    deepglass.config.set_random_seed(11)
    first = layers.RandomZoom(0.4)(x, training=True)
    deepglass.config.set_random_seed(11)
    assert torch.equal(layers.RandomZoom(0.4)(x, training=True), first)


# ------------------------------------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize("make, message", [
    (lambda: layers.RandomRotation(1.5), "`factor`.*Received: factor=1.5"),
    (lambda: layers.RandomRotation((0.1, 0.2, 0.3)), "pair of numbers"),
    (lambda: layers.RandomRotation(0.1, fill_mode="reflection"), "Did you mean 'reflect'"),
    (lambda: layers.RandomZoom(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: layers.RandomZoom(-1.0), r"\(-1.0, 1.0\]"),
    (lambda: layers.RandomTranslation(0.1, "wide"), "width_factor"),
    (lambda: layers.RandomFlip("horizontally"), "Did you mean 'horizontal'"),
    (lambda: layers.RandomContrast(1.2), "factor"),
    (lambda: layers.RandomContrast((1.5, 2.0)), "lower bound"),
    (lambda: layers.RandomBrightness(0.1, value_range=(255, 0)), "value_range"),
    (lambda: layers.RandomCrop(0, 4), "height"),
    (lambda: layers.MixUp(alpha=0), "alpha"),
    (lambda: layers.CutMix(factor=2), "factor"),
    (lambda: layers.RandomFlip(seed=1.5), "seed"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="rank 4"):
        layers.RandomFlip()(torch.zeros(4, 5), training=True)
    with pytest.raises(ValueError, match='"images"'):
        layers.RandomFlip()({"pixels": torch.zeros(1, 4, 4, 3)})
    with pytest.raises(ValueError, match="bounding boxes"):
        layers.RandomFlip()({"images": torch.zeros(1, 4, 4, 3), "bounding_boxes": {}})


# ------------------------------------------------------------------------------------------------------------ fit
def test_a_model_with_augmentation_trains_and_predicts_deterministically():
    model = deepglass.Sequential([
        deepglass.Input((8, 8, 3)),
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
        layers.RandomZoom(0.1),
        layers.RandomContrast(0.2, value_range=(0, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(2, activation="softmax"),
    ])
    x = np.random.default_rng(0).random((32, 8, 8, 3)).astype("float32")
    y = (x[:, :, :4].mean(axis=(1, 2, 3)) > x[:, :, 4:].mean(axis=(1, 2, 3))).astype("int64")
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, second)
    # At inference the augmentation layers pass images through: predict is the trained layers after them.
    conv, flatten, dense = model.layers[-3:]
    features = dense(flatten(conv(torch.from_numpy(x))))
    np.testing.assert_allclose(first, features.detach().cpu().numpy(), atol=1e-6)
