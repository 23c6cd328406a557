"""TextVectorization against Keras 3.15 on the same texts: standardization, splitting, n-grams, vocabulary order,
every output mode, sequence padding and truncation, tf_idf weights; custom functions; strings through fit's data
path; a text classifier trained with fit; saving; bad arguments.

Keras runs this layer on TensorFlow, which the test environment does not install: KERAS below holds Keras's answers
for CASES, and `test_recorded_answers_are_keras_answers` recomputes them wherever TensorFlow is importable.
"""
import json

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.training.array_data import ArrayData
from deepglass.training.data_adapters import adapt as adapt_data

# ---- cases: (layer, constructor arguments, adapt data or None, inputs to call it on)
TEXTS = ["The cat sat on the mat.", "The dog ate my HOMEWORK!", "  cats and dogs\tand\nbirds ",
         "Émile's café, naïve?", "the the the end", ""]
ODD_SPACES = "a\u00a0b c\x1cd\x0be\x0cf\rg\u3000h  i"
CASES = {
    "default": ("TextVectorization", {}, TEXTS, [TEXTS, ["the cat and the dog"], "a cat"]),
    "pad_to_length": ("TextVectorization", {"output_sequence_length": 8}, TEXTS, [TEXTS]),
    "cut_to_length": ("TextVectorization", {"output_sequence_length": 3}, TEXTS, [TEXTS]),
    "max_tokens": ("TextVectorization", {"max_tokens": 6}, TEXTS, [TEXTS]),
    "multi_hot": ("TextVectorization", {"output_mode": "multi_hot"}, TEXTS, [TEXTS]),
    "count_padded": ("TextVectorization", {"output_mode": "count", "max_tokens": 10, "pad_to_max_tokens": True},
                     TEXTS, [TEXTS]),
    "tf_idf": ("TextVectorization", {"output_mode": "tf_idf"}, TEXTS, [TEXTS]),
    "bigrams": ("TextVectorization", {"ngrams": 2}, TEXTS, [TEXTS]),
    "ngrams_1_3": ("TextVectorization", {"ngrams": (1, 3), "output_mode": "count"}, TEXTS, [TEXTS]),
    "characters": ("TextVectorization", {"split": "character"}, TEXTS, [TEXTS]),
    "lower": ("TextVectorization", {"standardize": "lower"}, TEXTS, [TEXTS]),
    "strip_punctuation": ("TextVectorization", {"standardize": "strip_punctuation"}, TEXTS, [TEXTS]),
    "no_standardize": ("TextVectorization", {"standardize": None}, TEXTS, [TEXTS]),
    "ascii_whitespace": ("TextVectorization", {"standardize": None}, [ODD_SPACES], [[ODD_SPACES]]),
    "no_split": ("TextVectorization", {"split": None}, ["a", "b", "a", "c c"], [[["a"], ["c c"], ["z"]]]),
    "no_split_one_hot": ("TextVectorization", {"split": None, "output_mode": "one_hot"}, ["a", "b", "a"],
                         [[["a"], ["b"], ["z"]]]),
    "column_input": ("TextVectorization", {}, [[t] for t in TEXTS], [[[t] for t in TEXTS]]),
    "given_vocabulary": ("TextVectorization", {"vocabulary": ["the", "cat", "dog"]}, None, [TEXTS]),
    "given_tf_idf": ("TextVectorization", {"vocabulary": ["the", "cat", "dog"], "idf_weights": [0.1, 1.0, 2.0],
                                           "output_mode": "tf_idf"}, None, [TEXTS]),
}

KERAS = {'default': (['', '[UNK]', 'the', 'and', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'homework', 'end',
                      'dogs', 'dog', 'cats', 'cat', 'café', 'birds', 'ate'],
                     [[[2, 15, 5, 6, 2, 9], [2, 13, 18, 8, 10, 0], [14, 3, 12, 3, 17, 0], [4, 16, 7, 0, 0, 0],
                       [2, 2, 2, 11, 0, 0], [0, 0, 0, 0, 0, 0]],
                      [[2, 15, 3, 2, 13]], [1, 15]]),
         'pad_to_length': (['', '[UNK]', 'the', 'and', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'homework', 'end',
                            'dogs', 'dog', 'cats', 'cat', 'café', 'birds', 'ate'],
                           [[[2, 15, 5, 6, 2, 9, 0, 0], [2, 13, 18, 8, 10, 0, 0, 0], [14, 3, 12, 3, 17, 0, 0, 0],
                             [4, 16, 7, 0, 0, 0, 0, 0], [2, 2, 2, 11, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]]),
         'cut_to_length': (['', '[UNK]', 'the', 'and', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'homework', 'end',
                            'dogs', 'dog', 'cats', 'cat', 'café', 'birds', 'ate'],
                           [[[2, 15, 5], [2, 13, 18], [14, 3, 12], [4, 16, 7], [2, 2, 2], [0, 0, 0]]]),
         'max_tokens': (['', '[UNK]', 'the', 'and', 'Émiles', 'sat'],
                        [[[2, 1, 5, 1, 2, 1], [2, 1, 1, 1, 1, 0], [1, 3, 1, 3, 1, 0], [4, 1, 1, 0, 0, 0],
                          [2, 2, 2, 1, 0, 0], [0, 0, 0, 0, 0, 0]]]),
         'multi_hot': (['[UNK]', 'the', 'and', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'homework', 'end', 'dogs',
                        'dog', 'cats', 'cat', 'café', 'birds', 'ate'],
                       [[[0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0],
                         [0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1],
                         [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0],
                         [0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0],
                         [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
                         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]),
         'count_padded': (['[UNK]', 'the', 'and', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'homework'],
                          [[[1, 2, 0, 0, 1, 1, 0, 0, 1, 0], [2, 1, 0, 0, 0, 0, 0, 1, 0, 1],
                            [3, 0, 2, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0, 1, 0, 0, 0],
                            [1, 3, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]),
         'tf_idf': (['[UNK]', 'the', 'and', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'homework', 'end', 'dogs',
                     'dog', 'cats', 'cat', 'café', 'birds', 'ate'],
                    [[[0.0, 1.832582, 0.0, 0.0, 1.386294, 1.386294, 0.0, 0.0, 1.386294, 0.0, 0.0, 0.0, 0.0, 0.0,
                       1.386294, 0.0, 0.0, 0.0],
                      [0.0, 0.916291, 0.0, 0.0, 0.0, 0.0, 0.0, 1.386294, 0.0, 1.386294, 0.0, 0.0, 1.386294, 0.0, 0.0,
                       0.0, 0.0, 1.386294],
                      [0.0, 0.0, 2.772589, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.386294, 0.0, 1.386294, 0.0, 0.0,
                       1.386294, 0.0],
                      [0.0, 0.0, 0.0, 1.386294, 0.0, 0.0, 1.386294, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.386294,
                       0.0, 0.0],
                      [0.0, 2.748872, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.386294, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                       0.0],
                      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]]),
         'bigrams': (['', '[UNK]', 'the', 'the the', 'and', 'Émiles café', 'Émiles', 'the mat', 'the end', 'the dog',
                      'the cat', 'sat on', 'sat', 'on the', 'on', 'naïve', 'my homework', 'my', 'mat', 'homework',
                      'end', 'dogs and', 'dogs', 'dog ate', 'dog', 'cats and', 'cats', 'cat sat', 'cat', 'café naïve',
                      'café', 'birds', 'ate my', 'ate', 'and dogs', 'and birds'],
                     [[[2, 28, 12, 14, 2, 18, 10, 27, 11, 13, 7], [2, 24, 33, 17, 19, 9, 23, 32, 16, 0, 0],
                       [26, 4, 22, 4, 31, 25, 34, 21, 35, 0, 0], [6, 30, 15, 5, 29, 0, 0, 0, 0, 0, 0],
                       [2, 2, 2, 20, 3, 3, 8, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]),
         'ngrams_1_3': (['[UNK]', 'the', 'and', 'Émiles café naïve', 'Émiles', 'the the the', 'the the end',
                         'the dog ate', 'the cat sat', 'sat on the', 'sat', 'on the mat', 'on', 'naïve', 'my', 'mat',
                         'homework', 'end', 'dogs and birds', 'dogs', 'dog ate my', 'dog', 'cats and dogs', 'cats',
                         'cat sat on', 'cat', 'café', 'birds', 'ate my homework', 'ate', 'and dogs and'],
                        [[[0, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0,
                           0],
                          [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1,
                           0],
                          [0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0,
                           1],
                          [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
                           0],
                          [0, 3, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           0],
                          [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           0]]]),
         'characters': (['', '[UNK]', ' ', 't', 'e', 'a', 'h', 'd', 's', 'o', 'n', 'm', 'c', 'r', 'i', 'g', 'ï', 'é',
                         'É', 'y', 'w', 'v', 'l', 'k', 'f', 'b', '\n', '\t'],
                        [[[3, 6, 4, 2, 12, 5, 3, 2, 8, 5, 3, 2, 9, 10, 2, 3, 6, 4, 2, 11, 5, 3, 0, 0, 0, 0],
                          [3, 6, 4, 2, 7, 9, 15, 2, 5, 3, 4, 2, 11, 19, 2, 6, 9, 11, 4, 20, 9, 13, 23, 0, 0, 0],
                          [2, 2, 12, 5, 3, 8, 2, 5, 10, 7, 2, 7, 9, 15, 8, 27, 5, 10, 7, 26, 25, 14, 13, 7, 8, 2],
                          [18, 11, 14, 22, 4, 8, 2, 12, 5, 24, 17, 2, 10, 5, 16, 21, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                          [3, 6, 4, 2, 3, 6, 4, 2, 3, 6, 4, 2, 4, 10, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                          [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]),
         'lower': (['', '[UNK]', 'the', 'and', "Émile's", 'sat', 'on', 'naïve?', 'my', 'mat.', 'homework!', 'end',
                    'dogs', 'dog', 'cats', 'cat', 'café,', 'birds', 'ate'],
                   [[[2, 15, 5, 6, 2, 9], [2, 13, 18, 8, 10, 0], [14, 3, 12, 3, 17, 0], [4, 16, 7, 0, 0, 0],
                     [2, 2, 2, 11, 0, 0], [0, 0, 0, 0, 0, 0]]]),
         'strip_punctuation': (['', '[UNK]', 'the', 'and', 'The', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'end',
                                'dogs', 'dog', 'cats', 'cat', 'café', 'birds', 'ate', 'HOMEWORK'],
                               [[[4, 15, 6, 7, 2, 10], [4, 13, 18, 9, 19, 0], [14, 3, 12, 3, 17, 0],
                                 [5, 16, 8, 0, 0, 0], [2, 2, 2, 11, 0, 0], [0, 0, 0, 0, 0, 0]]]),
         'no_standardize': (['', '[UNK]', 'the', 'and', 'The', "Émile's", 'sat', 'on', 'naïve?', 'my', 'mat.', 'end',
                             'dogs', 'dog', 'cats', 'cat', 'café,', 'birds', 'ate', 'HOMEWORK!'],
                            [[[4, 15, 6, 7, 2, 10], [4, 13, 18, 9, 19, 0], [14, 3, 12, 3, 17, 0], [5, 16, 8, 0, 0, 0],
                              [2, 2, 2, 11, 0, 0], [0, 0, 0, 0, 0, 0]]]),
         'ascii_whitespace': (['', '[UNK]', 'i', 'g\u3000h', 'f', 'e', 'c\x1cd', 'a\xa0b'], [[[7, 6, 5, 4, 3, 2]]]),
         'no_split': (['', '[UNK]', 'a', 'c c', 'b'], [[[2], [3], [1]]]),
         'no_split_one_hot': (['[UNK]', 'a', 'b'], [[[0, 1, 0], [0, 0, 1], [1, 0, 0]]]),
         'column_input': (['', '[UNK]', 'the', 'and', 'Émiles', 'sat', 'on', 'naïve', 'my', 'mat', 'homework', 'end',
                           'dogs', 'dog', 'cats', 'cat', 'café', 'birds', 'ate'],
                          [[[2, 15, 5, 6, 2, 9], [2, 13, 18, 8, 10, 0], [14, 3, 12, 3, 17, 0], [4, 16, 7, 0, 0, 0],
                            [2, 2, 2, 11, 0, 0], [0, 0, 0, 0, 0, 0]]]),
         'given_vocabulary': (['', '[UNK]', 'the', 'cat', 'dog'],
                              [[[2, 3, 1, 1, 2, 1], [2, 4, 1, 1, 1, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0],
                                [2, 2, 2, 1, 0, 0], [0, 0, 0, 0, 0, 0]]]),
         'given_tf_idf': (['[UNK]', 'the', 'cat', 'dog'],
                          [[[3.1, 0.2, 1.0, 0.0], [3.1, 0.1, 0.0, 2.0], [5.166667, 0.0, 0.0, 0.0],
                            [3.1, 0.0, 0.0, 0.0], [1.033333, 0.3, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])}


def as_input(value):
    return value if isinstance(value, str) else np.array(value)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_vocabulary_and_outputs_as_keras(name):
    _, kwargs, adapt, inputs = CASES[name]
    layer = layers.TextVectorization(**kwargs)
    if adapt is not None:
        layer.adapt(as_input(adapt))
    vocabulary, expected = KERAS[name]
    assert layer.get_vocabulary() == vocabulary
    assert layer.vocabulary_size() == len(vocabulary)
    for x, want in zip(inputs, expected):
        out = layer(as_input(x))
        assert out.dtype == (torch.int64 if layer.get_config()["output_mode"] == "int" else torch.float32)
        assert tuple(out.shape) == np.array(want).shape
        np.testing.assert_allclose(out.numpy(), np.array(want), atol=1e-5)


def test_recorded_answers_are_keras_answers():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    for name, (_, kwargs, adapt, inputs) in CASES.items():
        theirs = keras.layers.TextVectorization(**kwargs)
        if adapt is not None:
            theirs.adapt(as_input(adapt))
        vocabulary, expected = KERAS[name]
        assert theirs.get_vocabulary() == vocabulary
        for x, want in zip(inputs, expected):
            got = keras.ops.convert_to_numpy(theirs(as_input(x)))
            np.testing.assert_allclose(got.astype(float), np.array(want, dtype=float), atol=1e-5)


def test_config_keys_are_keras_keys_and_round_trip():
    layer = layers.TextVectorization(max_tokens=12, ngrams=(1, 2), output_mode="tf_idf")
    layer.adapt(TEXTS)
    config = json.loads(json.dumps(layer.get_config()))
    keras_keys = {"name", "trainable", "dtype", "max_tokens", "standardize", "split", "ngrams", "output_mode",
                  "output_sequence_length", "pad_to_max_tokens", "sparse", "ragged", "vocabulary", "idf_weights",
                  "encoding", "vocabulary_size"}
    assert set(config) - {"has_input_vocabulary"} == keras_keys
    clone = layers.deserialize({"class_name": "TextVectorization", "config": config})
    assert clone.get_vocabulary() == layer.get_vocabulary()
    assert clone.get_config() == config
    np.testing.assert_allclose(clone(TEXTS).numpy(), layer(TEXTS).numpy(), rtol=1e-6)


def test_custom_standardize_and_split():
    def shout(texts):  # receives a NumPy array of str, as Keras's torch backend gives it
        assert isinstance(texts, np.ndarray)
        return np.char.upper(texts)

    def dashes(texts):
        return [text.split("-") for text in texts]

    layer = layers.TextVectorization(standardize=shout, split=dashes, output_sequence_length=4)
    layer.adapt(["a-b-b", "c-b"])
    assert layer.get_vocabulary() == ["", "[UNK]", "B", "C", "A"]
    np.testing.assert_array_equal(layer(["b-a-x", "c"]).numpy(), [[2, 4, 1, 0], [3, 0, 0, 0]])
    with pytest.raises(ValueError, match="custom_objects"):
        layers.TextVectorization.from_config({**layer.get_config(), "split": {"class_name": "function",
                                                                             "config": "dashes"}})


# ------------------------------------------------------------------------------------------- strings through fit
def test_string_arrays_stay_numpy_through_the_data_path():
    x = np.array([f"text {i}" for i in range(10)])
    y = np.arange(10, dtype="float32")
    data = ArrayData(x, y, batch_size=4, shuffle=True)
    seen = []
    for xb, yb, _ in data.epoch():
        assert isinstance(xb, np.ndarray) and xb.dtype.kind == "U"
        assert [int(s.split()[1]) for s in xb] == yb.int().tolist()  # rows stay paired with their targets
        seen += xb.tolist()
    assert sorted(seen) == sorted(x.tolist())
    stream = adapt_data(iter([(x[:5], y[:5]), (x[5:], y[5:])]))
    xb, yb, _ = stream.first_batch()
    assert isinstance(xb, np.ndarray) and torch.is_tensor(yb)
    assert stream.count_nans() == 0


def test_text_classifier_trains_with_fit_on_strings(tmp_path):
    rng = np.random.default_rng(0)
    good, bad, filler = ["great", "fun", "superb", "loved"], ["awful", "boring", "dull", "hated"], \
        ["the", "film", "was", "plot", "and", "a", "it"]
    labels = rng.integers(0, 2, size=200)
    texts = np.array([" ".join(rng.choice(filler, 4).tolist() + [rng.choice(good if label else bad)])
                      for label in labels])
    vectorizer = layers.TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(texts)
    model = deepglass.Sequential([vectorizer, layers.Dense(1, activation="sigmoid")])
    model.compile(deepglass.optimizers.Adam(0.1), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(texts, labels.astype("float32"), epochs=15, batch_size=32, validation_split=0.2, verbose=0)
    assert history.history["val_accuracy"][-1] == 1.0
    queries = np.array(["the plot was superb", "a dull film"])
    assert (model.predict(queries, verbose=0)[:, 0] > 0.5).tolist() == [True, False]
    model.save(tmp_path / "text.keras")
    loaded = deepglass.models.load_model(tmp_path / "text.keras")
    np.testing.assert_allclose(loaded.predict(queries, verbose=0), model.predict(queries, verbose=0), rtol=1e-6)


def test_save_and_load_a_text_model(tmp_path):
    vectorizer = layers.TextVectorization(max_tokens=20, output_mode="tf_idf", ngrams=2)
    vectorizer.adapt(TEXTS)
    model = deepglass.Sequential([vectorizer, layers.Dense(3)])
    model.build((None,))
    model.save(tmp_path / "text.keras")
    loaded = deepglass.models.load_model(tmp_path / "text.keras")
    assert loaded.layers[0].get_vocabulary() == vectorizer.get_vocabulary()
    np.testing.assert_allclose(loaded.layers[0](TEXTS).numpy(), vectorizer(TEXTS).numpy(), rtol=1e-6)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make, message", [
    (lambda: layers.TextVectorization(output_mode="multihot"), "Did you mean 'multi_hot'"),
    (lambda: layers.TextVectorization(standardize="lower_strip"), "Valid names: lower, lower_and_strip"),
    (lambda: layers.TextVectorization(split="characters"), "Did you mean 'character'"),
    (lambda: layers.TextVectorization(output_mode="count", output_sequence_length=4), "pads 'int' outputs only"),
    (lambda: layers.TextVectorization(ngrams=0), "`ngrams` must be None"),
    (lambda: layers.TextVectorization(ngrams=(1, "2")), "`ngrams` must be None"),
    (lambda: layers.TextVectorization(ragged=True), "ragged=False"),
    (lambda: layers.TextVectorization(sparse=True, output_mode="count"), "sparse=False"),
    (lambda: layers.TextVectorization(vocabulary=["a", "a"]), "repeated terms"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_calls_and_adapts():
    layer = layers.TextVectorization()
    with pytest.raises(ValueError, match='found no strings in the data given to layer "text_vectorization"'):
        layer.adapt(["", "  ", "!!"])
    layer.adapt(TEXTS)
    with pytest.raises(ValueError, match=r"shape \(batch,\) or \(batch, 1\)"):
        layer(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="expects strings"):
        layer(np.array([[1.0, 2.0]], dtype=object))
    with pytest.raises(ValueError, match="was given a `vocabulary`"):
        layers.TextVectorization(vocabulary=["a"]).adapt(TEXTS)
