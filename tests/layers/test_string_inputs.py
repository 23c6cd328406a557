"""`Input(dtype="string")`: functional models that start from text, as Keras writes them."""
import numpy as np
import pytest

import deepglass as keras

TEXTS = np.array([["good movie"], ["bad movie"], ["very good"], ["very bad"]])
LABELS = np.array([1.0, 0.0, 1.0, 0.0], "float32")


def text_classifier():
    inputs = keras.Input((1,), dtype="string")
    vectorize = keras.layers.TextVectorization(max_tokens=10, output_sequence_length=3)
    vectorize.adapt(TEXTS[:, 0])
    x = keras.layers.Embedding(10, 4)(vectorize(inputs))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(x))
    return keras.Model(inputs, outputs), vectorize


def test_a_string_input_feeds_text_layers_and_trains():
    model, vectorize = text_classifier()
    assert model.inputs[0].dtype == "string" and model.layers[0].get_config()["dtype"] == "string"
    expected = vectorize(TEXTS).numpy()  # the vectorizer alone, on the same strings
    np.testing.assert_array_equal(keras.Model(model.inputs, model.layers[1].output).predict(TEXTS, verbose=0),
                                  expected)
    model.compile("adam", "binary_crossentropy")
    history = model.fit(TEXTS, LABELS, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_a_text_model_saves_and_loads(tmp_path):
    model, _ = text_classifier()
    model.save(tmp_path / "text.keras")
    loaded = keras.saving.load_model(tmp_path / "text.keras")
    assert loaded.inputs[0].dtype == "string"
    np.testing.assert_allclose(loaded.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0), rtol=1e-6)


def test_a_numeric_layer_on_a_string_input_names_the_fix():
    with pytest.raises(ValueError, match='Dense "dense" expected numbers, got a string input.*TextVectorization'):
        keras.layers.Dense(2)(keras.Input((3,), dtype="string"))
