"""End to end on real data: the README's MLP on Fashion-MNIST, and the demo CNN on the 8x8 digits."""
import gzip
import os

import numpy as np
import pytest

import deepglass as keras

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (the MNIST format): a magic number giving the rank, the sizes, then unsigned bytes."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="Debian's dataset-fashion-mnist is not installed")
def test_mlp_reaches_085_on_fashion_mnist():
    x_train = read_idx(f"{FASHION}/train-images-idx3-ubyte.gz").reshape(-1, 784).astype("float32") / 255
    y_train = read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz").astype("int64")
    x_test = read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype("float32") / 255
    y_test = read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz").astype("int64")
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)

    keras.config.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=3, validation_split=0.1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.85, history.history
    predictions = model.predict(x_test[:5], verbose=0)
    assert predictions.shape == (5, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
