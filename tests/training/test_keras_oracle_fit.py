"""The whole pipeline against Keras: the same model, weights and batches give the same weights after fit."""
import numpy as np
import pytest

import deepglass
from tests.layer_conformance import keras_or_none

keras = keras_or_none()
pytestmark = pytest.mark.skipif(keras is None, reason="the Keras oracle is not installed")


def build(lib, optimizer):
    model = lib.Sequential([lib.Input((6,)), lib.layers.Dense(16, activation="relu"),
                            lib.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("name, kwargs", [("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
                                          ("Adam", {"learning_rate": 0.01}),
                                          ("RMSprop", {"learning_rate": 0.01})])
def test_fit_matches_keras(name, kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") * 2 + (x[:, 1] > 0)
    mine = build(deepglass, getattr(deepglass.optimizers, name)(**kwargs))
    theirs = build(keras, getattr(keras.optimizers, name)(**kwargs))
    theirs.set_weights(mine.get_weights())
    initial = mine.get_weights()
    my_history = mine.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_split=0.2)
    their_history = theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_split=0.2)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(my_history.history[key], their_history.history[key], rtol=2e-4, atol=1e-6)
    for start, a, b in zip(initial, mine.get_weights(), theirs.get_weights()):
        moved = np.abs(b - start).max()
        assert np.abs(a - b).max() <= 1e-3 * moved + 1e-6
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
