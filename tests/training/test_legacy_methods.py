"""Keras 1 and 2 spellings of training calls: each warns once and gives what its Keras 3 form gives."""
import numpy as np
import pytest

import deepglass as keras
from deepglass.training import legacy_methods

X = np.random.default_rng(0).standard_normal((12, 3)).astype("float32")
Y = X @ np.array([[1.0], [-2.0], [0.5]], "float32")


@pytest.fixture(autouse=True)
def warn_again(monkeypatch):
    monkeypatch.setattr(legacy_methods, "_warned", set())


def model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    built = keras.Model(inputs=inputs, outputs=keras.layers.Dense(1)(inputs))
    built.compile("sgd", "mse")
    return built


def batches():
    while True:
        for start in (0, 6):
            yield X[start:start + 6], Y[start:start + 6]


def test_nb_epoch_is_epochs():
    legacy, modern = model(), model()
    with pytest.warns(DeprecationWarning, match="nb_epoch is the Keras 1 name"):
        history = legacy.fit(X, Y, nb_epoch=3, verbose=0, shuffle=False)
    assert history.history == modern.fit(X, Y, epochs=3, verbose=0, shuffle=False).history
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['nb_epochs'\]"):
        modern.fit(X, Y, nb_epochs=3)


def test_generator_methods_are_fit_evaluate_and_predict():
    legacy, modern = model(), model()
    with pytest.warns(DeprecationWarning, match="fit_generator"):
        legacy.fit_generator(batches(), steps_per_epoch=2, epochs=2, verbose=0)
    modern.fit(batches(), steps_per_epoch=2, epochs=2, verbose=0)
    for mine, theirs in zip(legacy.get_weights(), modern.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.warns(DeprecationWarning, match="evaluate_generator"):
        assert legacy.evaluate_generator(batches(), steps=2) == modern.evaluate(batches(), steps=2, verbose=0)
    with pytest.warns(DeprecationWarning, match="predict_generator"):
        np.testing.assert_array_equal(legacy.predict_generator(batches(), steps=2),
                                      modern.predict(batches(), steps=2, verbose=0))


def test_keras1_layer_and_model_arguments():
    with pytest.warns(DeprecationWarning, match="`p` is the Keras 1 spelling of `rate`"):
        assert keras.layers.Dropout(p=0.3).rate == 0.3
    inputs = keras.Input((3,))
    with pytest.warns(DeprecationWarning, match="`input` is the Keras 1 spelling of `inputs`"):
        legacy = keras.Model(input=inputs, output=keras.layers.Dense(2)(inputs))
    assert legacy.inputs == [inputs] and legacy.output_shape == (None, 2)
    with pytest.raises(TypeError, match="needs inputs= and outputs="):
        keras.Model(inputs=inputs)
