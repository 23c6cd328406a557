"""Feature maps, filters, Grad-CAM and saliency, checked against NumPy computations and a model trained to look at a
known region of its images."""
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

import deepglass
from deepglass import layers
from deepglass.insight import (feature_maps, filter_weights, grad_cam, overlay, plot_feature_maps, plot_filters,
                               saliency)


def _cnn():
    deepglass.config.set_random_seed(0)
    return deepglass.Sequential([deepglass.Input((6, 6, 2)), layers.Conv2D(3, 3, activation="relu", name="conv"),
                                 layers.Flatten(name="flat"), layers.Dense(4, activation="relu", name="dense")])


def _correlate(x, kernel, bias):
    """Valid 2-D cross-correlation in Keras's layouts: x (n, h, w, c), kernel (kh, kw, c, f)."""
    windows = sliding_window_view(x, kernel.shape[:2], axis=(1, 2))  # (n, h', w', c, kh, kw)
    return np.einsum("nijcab,abcf->nijf", windows, kernel) + bias


def test_feature_maps_of_a_deepglass_model_equal_numpy_layers():
    model = _cnn()
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 2)).astype("float32")
    maps = feature_maps(model, x)
    assert list(maps) == ["conv", "flat", "dense"]
    kernel, bias = model.get_layer("conv").get_weights()
    conv = np.maximum(_correlate(x, kernel, bias), 0)
    np.testing.assert_allclose(maps["conv"], conv, rtol=1e-4, atol=1e-5)
    weights, dense_bias = model.get_layer("dense").get_weights()
    np.testing.assert_allclose(maps["dense"], np.maximum(conv.reshape(2, -1) @ weights + dense_bias, 0),
                               rtol=1e-4, atol=1e-5)
    assert not model.training  # the mode is restored
    assert list(feature_maps(model, x, [model.get_layer("dense")])) == ["dense"]


def test_feature_maps_of_a_plain_torch_module_by_module_names():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    x = np.random.default_rng(1).standard_normal((4, 3)).astype("float32")
    maps = feature_maps(model, x, ["0", "1"])
    w, b = model[0].weight.detach().cpu().numpy(), model[0].bias.detach().cpu().numpy()
    np.testing.assert_allclose(maps["0"], x @ w.T + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["1"], np.tanh(x @ w.T + b), rtol=1e-5, atol=1e-6)
    assert list(feature_maps(model, x)) == ["0", "1", "2"]  # leaf modules by default


def test_feature_maps_name_an_unknown_layer():
    with pytest.raises(ValueError, match="conv"):
        feature_maps(_cnn(), np.zeros((1, 6, 6, 2), "float32"), ["cnov"])


def test_plot_filters_draws_the_kernels_in_keras_layout(tmp_path):
    pytest.importorskip("matplotlib")
    gray = layers.Conv2D(4, 3)
    gray.build((None, 8, 8, 1))
    figure = plot_filters(gray, filename=str(tmp_path / "f.png"))
    kernel = gray.get_weights()[0]
    for index in range(4):
        np.testing.assert_allclose(figure.axes[index].images[0].get_array(), kernel[:, :, 0, index])
    rgb = layers.Conv2D(2, (3, 2))
    rgb.build((None, 8, 8, 3))
    image = plot_filters(rgb).axes[1].images[0].get_array()
    kernel = rgb.get_weights()[0][..., 1]
    np.testing.assert_allclose(image, (kernel - kernel.min()) / (kernel.max() - kernel.min()), rtol=1e-6)
    curves = layers.Conv1D(3, 5)
    curves.build((None, 10, 2))
    lines = plot_filters(curves).axes[2].get_lines()
    np.testing.assert_allclose(lines[1].get_ydata(), curves.get_weights()[0][:, 1, 2])
    assert "3 filters of 5" in plot_filters(curves)._suptitle.get_text()


def test_filter_weights_of_a_torch_convolution_use_keras_layout():
    conv = nn.Conv2d(3, 6, (2, 4))
    np.testing.assert_array_equal(filter_weights(conv), conv.weight.detach().cpu().numpy().transpose(2, 3, 1, 0))
    with pytest.raises(TypeError, match="convolution layer"):
        filter_weights(nn.Linear(2, 2))


def test_plot_feature_maps_draws_each_channel():
    pytest.importorskip("matplotlib")
    model = _cnn()
    x = np.random.default_rng(2).standard_normal((3, 6, 6, 2)).astype("float32")
    maps = feature_maps(model, x, ["conv", "dense"])
    figure = plot_feature_maps(maps, sample=1)
    assert figure.axes[0].get_title() == "conv[0]"
    for channel, axis in enumerate(figure.axes[:3]):
        np.testing.assert_allclose(axis.images[0].get_array(), maps["conv"][1, :, :, channel])
    dense_axis = next(axis for axis in figure.axes if axis.get_title().startswith("dense"))
    np.testing.assert_allclose(dense_axis.images[0].get_array(), maps["dense"][1].reshape(1, -1))


def test_grad_cam_equals_the_class_activation_map_of_a_global_pooling_model():
    # Conv ("same") -> global average pooling -> linear Dense: Grad-CAM is CAM, relu(A @ W[:, c]), up to scale.
    deepglass.config.set_random_seed(1)
    model = deepglass.Sequential([deepglass.Input((5, 5, 1)),
                                  layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
                                  layers.GlobalAveragePooling2D(), layers.Dense(3, name="out")])
    x = np.random.default_rng(3).standard_normal((2, 5, 5, 1)).astype("float32")
    activations = feature_maps(model, x, ["conv"])["conv"]
    weights = model.get_layer("out").get_weights()[0]
    heat = grad_cam(model, x, class_index=2)
    cam = np.maximum(activations @ weights[:, 2], 0)
    expected = cam / cam.reshape(2, -1).max(axis=1)[:, None, None]
    np.testing.assert_allclose(heat, expected, rtol=1e-4, atol=1e-5)


def _quadrant_images(count, rng):
    """16x16 images of noise with a bright 4x4 patch in one quadrant; the label is the quadrant."""
    x = rng.uniform(0, 0.25, (count, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 4, count)
    for image, label in zip(x, y):
        row, column = 8 * (label // 2) + rng.integers(0, 5), 8 * (label % 2) + rng.integers(0, 5)
        image[row:row + 4, column:column + 4] = 1.0
    return x, y


def test_grad_cam_puts_its_mass_in_the_quadrant_that_decides_the_class():
    # Non-negative Dense weights make each class's score rest on evidence *for* it (its bright patch) rather than
    # on the absence of patches elsewhere, which Grad-CAM, keeping positive evidence only, would not show.
    rng = np.random.default_rng(0)
    x, y = _quadrant_images(256, rng)
    deepglass.config.set_random_seed(0)
    model = deepglass.Sequential([deepglass.Input((16, 16, 1)), layers.Conv2D(8, 3, padding="same", activation="relu"),
                                  layers.MaxPooling2D(2), layers.Conv2D(8, 3, padding="same", activation="relu"),
                                  layers.Flatten(), layers.Dense(4, activation="softmax", kernel_constraint="non_neg")])
    model.compile(optimizer=deepglass.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    x_test, y_test = _quadrant_images(40, rng)
    assert (model.predict(x_test, verbose=0).argmax(axis=1) == y_test).mean() > 0.9
    heat = grad_cam(model, x_test, class_index=y_test)
    assert heat.shape == (40, 16, 16) and heat.min() >= 0 and heat.max() <= 1
    quadrants = heat.reshape(40, 2, 8, 2, 8).sum(axis=(2, 4)).reshape(40, 4)
    mass = quadrants[np.arange(40), y_test] / heat.reshape(40, -1).sum(axis=1)
    # A map that looked everywhere alike would put 1/4 of its mass in each quadrant; with the first five seeds
    # the median is 0.47 to 0.55 and 97.5% to 100% of the maps are above 0.4.
    assert np.median(mass) > 0.42 and (mass > 0.4).mean() >= 0.9
    assert model.layers[-1].activation is deepglass.activations.softmax  # the logit was used, the softmax restored


def test_grad_cam_finds_the_last_convolution_of_a_torch_module():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(3 * 6 * 6, 2))
    heat = grad_cam(model, torch.randn(2, 1, 8, 8))
    assert heat.shape == (2, 8, 8) and heat.min() >= 0 and heat.max() <= 1
    with pytest.raises(ValueError, match="no convolution layer"):
        grad_cam(nn.Sequential(nn.Linear(2, 2)), torch.randn(1, 2))


def test_saliency_of_a_linear_model_is_the_absolute_weight():
    deepglass.config.set_random_seed(0)
    flat = deepglass.Sequential([deepglass.Input((5,)), layers.Dense(3)])
    x = np.random.default_rng(4).standard_normal((2, 5)).astype("float32")
    weights = flat.layers[-1].get_weights()[0]
    np.testing.assert_allclose(saliency(flat, x, class_index=1), np.abs(weights[:, [1, 1]].T), rtol=1e-6)
    image = deepglass.Sequential([deepglass.Input((3, 3, 2)), layers.Flatten(), layers.Dense(2)])
    weights = image.layers[-1].get_weights()[0].reshape(3, 3, 2, 2)
    maps = saliency(image, np.zeros((1, 3, 3, 2), "float32"), class_index=0)
    np.testing.assert_allclose(maps[0], np.abs(weights[..., 0]).max(axis=-1), rtol=1e-6)


def test_overlay_blends_the_colour_map_over_the_image():
    pytest.importorskip("matplotlib")
    image = np.arange(16, dtype="float32").reshape(4, 4, 1)
    heat = np.linspace(0, 1, 16).reshape(4, 4)
    plain = overlay(image, heat, alpha=0.0)
    np.testing.assert_allclose(plain, np.repeat(image / 15, 3, axis=-1))
    blended = overlay(image, heat)
    assert blended.shape == (4, 4, 3) and 0 <= blended.min() and blended.max() <= 1
    with pytest.raises(ValueError, match="same height and width"):
        overlay(image, heat[:2])
