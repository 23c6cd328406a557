"""Whole CNNs built from the layers learn: a small ResNet on images and a 1-D CNN on spectra."""
import numpy as np

import deepglass
from deepglass import layers


def shapes_dataset(count, size=16, seed=0):
    """Images holding one bright square or one bright ring, at random places, with noise: two classes."""
    rng = np.random.default_rng(seed)
    x = 0.3 * rng.standard_normal((count, size, size, 1)).astype("float32")
    y = rng.integers(0, 2, count)
    for image, label in zip(x, y):
        row, col = rng.integers(2, size - 8, 2)
        image[row:row + 6, col:col + 6, 0] += 1.0
        if label:  # a ring: hollow out the square
            image[row + 2:row + 4, col + 2:col + 4, 0] -= 1.0
    return x, y.astype("int64")


def residual_block(x, filters, stride):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.Activation("relu")(layers.add([y, shortcut]))


def test_small_resnet_learns_shapes():
    deepglass.config.set_random_seed(0)
    x, y = shapes_dataset(640)
    inputs = deepglass.Input((16, 16, 1))
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = residual_block(h, 8, 1)
    h = residual_block(h, 16, 2)
    outputs = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling2D()(h))
    model = deepglass.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:512], y[:512], batch_size=32, epochs=8, verbose=0)
    _, accuracy = model.evaluate(x[512:], y[512:], verbose=0)
    assert accuracy >= 0.85  # chance is 0.5


def spectra(count, length=256, seed=1):
    """Spectra with an emission line whose position depends on the class (3 classes), shifted and noisy."""
    rng = np.random.default_rng(seed)
    grid = np.arange(length)
    labels = rng.integers(0, 3, count)
    centres = 50 + 70 * labels + rng.normal(0, 6, count)
    x = np.exp(-((grid[None, :] - centres[:, None]) ** 2) / 18.0) + 0.2 * rng.standard_normal((count, length))
    return x.astype("float32")[..., None], labels.astype("int64")


def test_1d_cnn_learns_spectra():
    deepglass.config.set_random_seed(0)
    x, y = spectra(600)
    model = deepglass.Sequential([
        deepglass.Input((256, 1)),
        layers.Conv1D(8, 7, activation="relu"), layers.MaxPooling1D(2),
        layers.Conv1D(16, 5, activation="relu"), layers.MaxPooling1D(2),
        layers.Flatten(), layers.Dense(3, activation="softmax"),  # the class is where the line is: keep position
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:480], y[:480], batch_size=32, epochs=10, verbose=0)
    _, accuracy = model.evaluate(x[480:], y[480:], verbose=0)
    assert accuracy >= 0.9  # chance is 0.33
