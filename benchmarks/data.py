"""Benchmark data: Fashion-MNIST from Debian's package where present, else random data of the same shape."""
import gzip
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


def read_fashion_mnist(folder=FASHION):
    """All of Fashion-MNIST read straight from its gzipped IDX files, as a plain PyTorch script would:
    `(x_train, y_train), (x_test, y_test)` with images float32 in [0, 1], shape (n, 28, 28, 1), labels int64."""
    def read(name, header):
        with gzip.open(os.path.join(folder, name)) as handle:
            return np.frombuffer(handle.read(), np.uint8, offset=header)

    def images(name):
        return (read(name, 16).reshape(-1, 28, 28, 1) / np.float32(255)).astype("float32")

    return ((images("train-images-idx3-ubyte.gz"), read("train-labels-idx1-ubyte.gz", 8).astype("int64")),
            (images("t10k-images-idx3-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz", 8).astype("int64")))


def cifar_like(count, classes=10):
    """Random CIFAR-shaped data: `count` images (32, 32, 3) float32 in [0, 1] with int64 labels (no download)."""
    rng = np.random.default_rng(3)
    return rng.random((count, 32, 32, 3), dtype=np.float32), rng.integers(0, classes, count)


def spectra(count, length=1000, classes=5):
    """Synthetic spectra: a few Gaussian lines whose positions depend on the class, plus noise."""
    rng = np.random.default_rng(1)
    grid = np.linspace(0, 1, length, dtype=np.float32)
    labels = rng.integers(0, classes, count)
    centres = 0.1 + 0.8 * (labels[:, None] + rng.random((count, 3)) * 0.5) / classes
    lines = np.exp(-((grid[None, None, :] - centres[..., None]) ** 2) / 2e-4).sum(axis=1)
    x = lines + 0.05 * rng.standard_normal((count, length)).astype(np.float32)
    return x.astype("float32")[..., None], labels.astype("int64")


def sequences(count, length=100, features=32):
    """Synthetic sequences (count, length, features) with a target that needs memory: a weighted sum of the first
    feature over the whole sequence."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((count, length, features)).astype("float32")
    weights = np.linspace(1, 0, length, dtype=np.float32) / length
    return x, (x[:, :, 0] @ weights)[:, None].astype("float32")


def tabular(count, features=32):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((count, features)).astype("float32")
    return x, (x @ rng.standard_normal(features).astype("float32"))[:, None]
