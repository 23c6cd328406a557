"""Benchmark data: Fashion-MNIST from Debian's package where present, else random data of the same shape."""
import os

import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"


def fashion_mnist(count):
    """`count` training images as float32 in [0, 1], shape (count, 28, 28, 1), with int64 labels; and the source."""
    if os.path.isdir(FASHION):
        from deepglass.datasets import fashion_mnist
        (x, y), _ = fashion_mnist.load_data()
        return x[:count, ..., None].astype("float32") / 255, y[:count].astype("int64"), "Fashion-MNIST"
    rng = np.random.default_rng(0)
    return rng.random((count, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, count), "random 28x28"


def spectra(count, length=1000, classes=5):
    """Synthetic spectra: a few Gaussian lines whose positions depend on the class, plus noise."""
    rng = np.random.default_rng(1)
    grid = np.linspace(0, 1, length, dtype=np.float32)
    labels = rng.integers(0, classes, count)
    centres = 0.1 + 0.8 * (labels[:, None] + rng.random((count, 3)) * 0.5) / classes
    lines = np.exp(-((grid[None, None, :] - centres[..., None]) ** 2) / 2e-4).sum(axis=1)
    x = lines + 0.05 * rng.standard_normal((count, length)).astype(np.float32)
    return x.astype("float32")[..., None], labels.astype("int64")


def tabular(count, features=32):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((count, features)).astype("float32")
    return x, (x @ rng.standard_normal(features).astype("float32"))[:, None]
