"""StringLookup, IntegerLookup and Hashing against Keras 3.15 on the same data: vocabularies (order and ties),
indices, every output mode, OOV buckets and masks, invert, tf_idf weights; FarmHash64 and SipHash64 against
published values; configs, saving, a model trained with fit, and bad arguments.

Keras runs these layers on TensorFlow, which the test environment does not install: KERAS below holds Keras's answers
for CASES, and `test_recorded_answers_are_keras_answers` recomputes them wherever TensorFlow is importable.
"""
import json

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.layers.hashing import farmhash64, siphash64
from tests.layer_conformance import run_layer_test

# ---- cases: (layer, constructor arguments, adapt data or None, inputs to call it on)
S2 = [["a", "b", "c", "b"], ["c", "b", "e", "f"]]
CASES = {
    "sl_adapt_ties": ("StringLookup", {}, S2, [[["a", "f", "zz"], ["b", "e", "c"]], ["b"], "c"]),
    "sl_max_tokens": ("StringLookup", {"max_tokens": 4}, S2, [[["a", "f", "zz", "b", "c"]]]),
    "sl_mask_oov2": ("StringLookup", {"mask_token": "", "num_oov_indices": 2}, [["a", "b", "", "b", "x"]],
                     [[["a", "", "b", "q", "r", "s", "t", "uu", "v"]]]),
    "sl_salt_oov3": ("StringLookup", {"num_oov_indices": 3, "salt": [7, 11]}, [["a", "b"]],
                     [[["a", "q", "r", "s", "t"]]]),
    "sl_multi_hot": ("StringLookup", {"output_mode": "multi_hot", "mask_token": ""}, S2,
                     [[["a", "b", "", "zz"], ["c", "c", "e", ""]], ["a", "zz", "f"]]),
    "sl_count": ("StringLookup", {"output_mode": "count"}, S2, [[["a", "b", "b", "zz"], ["c", "c", "c", "e"]]]),
    "sl_one_hot": ("StringLookup", {"output_mode": "one_hot"}, S2,
                   [[["a"], ["zz"], ["f"]], ["a", "b"], [["a", "b"], ["c", "zz"]]]),
    "sl_tf_idf": ("StringLookup", {"output_mode": "tf_idf"}, [["a", "b", "a"], ["c", "b", "d"], ["b", "e", "e"]],
                  [[["a", "a", "b", "zz"], ["e", "d", "d", "c"]]]),
    "sl_tf_idf_pad": ("StringLookup", {"output_mode": "tf_idf", "max_tokens": 8, "pad_to_max_tokens": True},
                      [["a", "b", "a"], ["c", "b", "d"]], [[["a", "a", "b", "zz"]]]),
    "sl_tf_idf_1d": ("StringLookup", {"output_mode": "tf_idf"}, ["a", "b", "a", "c", "a"], [[["a", "b", "c"]]]),
    "sl_given_tf_idf": ("StringLookup", {"output_mode": "tf_idf", "vocabulary": ["x", "y", "z"],
                                         "idf_weights": [0.5, 1.0, 2.0]}, None,
                        [[["x", "y", "y", "w"], ["z", "z", "x", "q"]]]),
    "sl_given_special": ("StringLookup", {"vocabulary": ["", "[UNK]", "x", "y"], "mask_token": ""}, None,
                         [[["x", "", "y", "w"]]]),
    "sl_invert": ("StringLookup", {"vocabulary": ["x", "y", "z"], "invert": True, "mask_token": "[M]"}, None,
                  [[0, 1, 2, 3, 4, 5, 9]]),
    "sl_unicode": ("StringLookup", {}, [["é", "e", "z", "É", "ß", "a"]], [[["é", "e", "z", "É", "ß", "a", "?"]]]),
    "il_adapt_ties": ("IntegerLookup", {}, [[5, 3, 3, 9, 9, 1, -4, 12]], [[[5, 3, 9, 1, -4, 12, 100]]]),
    "il_mask_floormod": ("IntegerLookup", {"mask_token": 0, "num_oov_indices": 3, "max_tokens": 6},
                         [[7, 7, 8, 8, 8, 0, 0, 9, 10]], [[[7, 8, 9, 0, 11, 12, 13, -5, 10]]]),
    "il_farmhash": ("IntegerLookup", {"num_oov_indices": 4, "oov_method": "farmhash"}, [[1, 2]],
                    [[[1, 2, 3, 4, 5, 6, -7, 1000000007]]]),
    "il_farmhash_salt": ("IntegerLookup", {"num_oov_indices": 4, "oov_method": "farmhash", "salt": 99}, [[1, 2]],
                         [[[1, 2, 3, 4, 5, 6, -7]]]),
    "il_multi_hot": ("IntegerLookup", {"output_mode": "multi_hot", "mask_token": 0}, [[1, 2, 2, 3]],
                     [[[1, 0, 3, 77], [2, 2, 0, 0]]]),
    "il_count": ("IntegerLookup", {"output_mode": "count"}, [[1, 2, 2, 3]], [[[1, 1, 3, 77], [2, 2, 2, 0]]]),
    "il_tf_idf": ("IntegerLookup", {"output_mode": "tf_idf"}, [[1, 2, 2], [2, 3, 4], [4, 4, 1]],
                  [[[1, 1, 2, 9], [4, 3, 3, 2]]]),
    "il_invert_mask": ("IntegerLookup", {"vocabulary": [12, 36], "invert": True, "mask_token": 0, "oov_token": -9},
                       None, [[[0, 1, 2, 3, 4]]]),
    "h_str": ("Hashing", {"num_bins": 7}, None, [[["A", "B", "hello world", "", "é"]], "A"]),
    "h_int": ("Hashing", {"num_bins": 5}, None, [[[0, 1, -3, 42, 123456789012]]]),
    "h_float": ("Hashing", {"num_bins": 5}, None, [[[0.0, 1.7, -3.2, 42.0]]]),
    "h_mask_int": ("Hashing", {"num_bins": 5, "mask_value": 0}, None, [[[0, 1, -3, 42, 0]]]),
    "h_mask_str": ("Hashing", {"num_bins": 4, "mask_value": ""}, None, [[["", "a", "b", "c", ""]]]),
    "h_salt": ("Hashing", {"num_bins": 11, "salt": [1, 2]}, None, [[["A", "B", "C"]], [[1, 2, 3]]]),
    "h_one_hot": ("Hashing", {"num_bins": 4, "output_mode": "one_hot"}, None, [[["A"], ["B"]], ["A", "B", "C"]]),
    "h_count": ("Hashing", {"num_bins": 4, "output_mode": "count"}, None, [[["A", "B", "A"], ["C", "C", "D"]]]),
}

# What Keras 3.15 returns for CASES (its lookups and hashes run on TensorFlow 2.21): (vocabulary, outputs).
KERAS = {'sl_adapt_ties': (['[UNK]', 'b', 'c', 'f', 'e', 'a'], [[[5, 3, 0], [1, 4, 2]], [1], 2]),
         'sl_max_tokens': (['[UNK]', 'b', 'c', 'f'], [[[0, 3, 0, 1, 2]]]),
         'sl_mask_oov2': (['', '[UNK]', '[UNK]', 'b', 'x', 'a'], [[[5, 0, 3, 2, 2, 2, 2, 2, 2]]]),
         'sl_salt_oov3': (['[UNK]', '[UNK]', '[UNK]', 'b', 'a'], [[[4, 0, 1, 2, 2]]]),
         'sl_multi_hot': (['[UNK]', 'b', 'c', 'f', 'e', 'a'],
                          [[[1, 1, 0, 0, 0, 1], [0, 0, 1, 0, 1, 0]], [1, 0, 0, 1, 0, 1]]),
         'sl_count': (['[UNK]', 'b', 'c', 'f', 'e', 'a'], [[[1, 2, 0, 0, 0, 1], [0, 0, 3, 0, 1, 0]]]),
         'sl_one_hot': (['[UNK]', 'b', 'c', 'f', 'e', 'a'],
                        [[[0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]],
                         [[0, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0]],
                         [[[0, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0]], [[0, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]]]]),
         'sl_tf_idf': (['[UNK]', 'b', 'e', 'a', 'd', 'c'],
                       [[[0.844956, 0.559616, 0.0, 1.832582, 0.0, 0.0],
                         [0.0, 0.0, 0.916291, 0.0, 1.832582, 0.916291]]]),
         'sl_tf_idf_pad': (['[UNK]', 'b', 'a', 'd', 'c'],
                           [[[0.647567, 0.510826, 1.386294, 0.0, 0.0, 0.0, 0.0, 0.0]]]),
         'sl_tf_idf_1d': (['[UNK]', 'a', 'c', 'b'], [[[0.0, 0.81093, 1.252763, 1.252763]]]),
         'sl_given_tf_idf': (['[UNK]', 'x', 'y', 'z'], [[[1.166667, 0.5, 2.0, 0.0], [1.166667, 0.5, 0.0, 4.0]]]),
         'sl_given_special': (['', '[UNK]', 'x', 'y'], [[[2, 0, 3, 1]]]),
         'sl_invert': (['[M]', '[UNK]', 'x', 'y', 'z'], [['[M]', '[UNK]', 'x', 'y', 'z', '[UNK]', '[UNK]']]),
         'sl_unicode': (['[UNK]', 'é', 'ß', 'É', 'z', 'e', 'a'], [[[1, 5, 4, 3, 2, 6, 0]]]),
         'il_adapt_ties': ([-1, 9, 3, 12, 5, 1, -4], [[[4, 2, 1, 5, 6, 3, 0]]]),
         'il_mask_floormod': ([0, -1, -1, -1, 8, 7], [[[5, 4, 1, 0, 3, 1, 2, 2, 2]]]),
         'il_farmhash': ([-1, -1, -1, -1, 2, 1], [[[5, 4, 1, 3, 3, 3, 2, 0]]]),
         'il_farmhash_salt': ([-1, -1, -1, -1, 2, 1], [[[5, 4, 2, 3, 1, 2, 1]]]),
         'il_multi_hot': ([-1, 2, 3, 1], [[[1, 0, 1, 1], [0, 1, 0, 0]]]),
         'il_count': ([-1, 2, 3, 1], [[[1, 0, 1, 2], [1, 3, 0, 0]]]),
         'il_tf_idf': ([-1, 4, 2, 1, 3],
                       [[[0.748933, 0.0, 0.693147, 1.386294, 0.0], [0.0, 0.693147, 0.693147, 0.0, 1.832582]]]),
         'il_invert_mask': ([0, -9, 12, 36], [[[0, -9, 12, 36, -9]]]),
         'h_str': (None, [[[3, 6, 0, 6, 6]], 3]),
         'h_int': (None, [[[0, 4, 4, 1, 2]]]),
         'h_float': (None, [[[0, 4, 4, 1]]]),
         'h_mask_int': (None, [[[0, 2, 4, 1, 0]]]),
         'h_mask_str': (None, [[[0, 1, 2, 2, 0]]]),
         'h_salt': (None, [[[10, 10, 10]], [[1, 7, 0]]]),
         'h_one_hot': (None, [[[1, 0, 0, 0], [1, 0, 0, 0]], [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]]),
         'h_count': (None, [[[3, 0, 0, 0], [0, 0, 0, 3]]])}


def as_input(value):
    return value if isinstance(value, (str, int, float)) else np.array(value)


def to_numpy(value):
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)


def run_case(name):
    cls, kwargs, adapt, inputs = CASES[name]
    layer = getattr(layers, cls)(**kwargs)
    if adapt is not None:
        layer.adapt(as_input(adapt))
    return layer, [layer(as_input(x)) for x in inputs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_vocabulary_and_outputs_as_keras(name):
    layer, outputs = run_case(name)
    vocabulary, expected = KERAS[name]
    if vocabulary is not None:
        assert layer.get_vocabulary() == vocabulary
        assert layer.vocabulary_size() == len(vocabulary)
    for mine, theirs in zip(outputs, expected):
        mine, theirs = to_numpy(mine), np.array(theirs)
        assert mine.shape == theirs.shape
        if theirs.dtype.kind == "U":
            np.testing.assert_array_equal(mine, theirs)
        else:
            np.testing.assert_allclose(mine, theirs, atol=1e-5)
    if layer.get_config().get("output_mode") == "int" and not layer.get_config().get("invert"):
        assert all(o.dtype == torch.int64 for o in outputs)
    elif not getattr(layer, "invert", False):
        assert all(o.dtype == torch.float32 for o in outputs)


def test_recorded_answers_are_keras_answers():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    for name, (cls, kwargs, adapt, inputs) in CASES.items():
        theirs = getattr(keras.layers, cls)(**kwargs)
        if adapt is not None:
            theirs.adapt(as_input(adapt))
        vocabulary, expected = KERAS[name]
        if vocabulary is not None:
            assert [v if isinstance(v, str) else int(v) for v in theirs.get_vocabulary()] == vocabulary
        for x, want in zip(inputs, expected):
            got = theirs(as_input(x))
            got = np.asarray(got) if isinstance(got, list) else keras.ops.convert_to_numpy(got)
            np.testing.assert_allclose(got.astype(float), np.array(want, dtype=float), atol=1e-5) \
                if got.dtype.kind not in "USO" else np.testing.assert_array_equal(got.astype(str), want)


# ------------------------------------------------------------------------------------------------------- hashes
def test_farmhash64_known_values():
    # Fingerprint64("") is FarmHash's constant k2; the others are Google's FarmHash (and TensorFlow's Fingerprint64)
    # on strings that take each length branch: 1-3, 4-7, 8-16, 17-32, 33-64 and over 64 bytes.
    assert farmhash64(b"") == 0x9AE16A3B2F90404F
    known = {b"a": 12917804110809363939, b"abcd": 1897425971756105985, b"hello world": 6381520714923946011,
             b"The quick brown fox": 17929437435696225253,
             b"The quick brown fox jumps over the lazy dog": 12375473906752639284,
             b"The quick brown fox jumps over the lazy dog" * 4: 16883979703106176307}
    assert {key: farmhash64(key) for key in known} == known


def test_siphash64_reference_vectors():
    # SipHash-2-4 test vectors from the SipHash paper: key 00..0f, message 00..(n-1).
    key = [int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little")]
    assert siphash64(key, b"") == 0x726FDB47DD0E0E31
    assert siphash64(key, bytes(range(1))) == 0x74F839C593DC67FD
    assert siphash64(key, bytes(range(8))) == 0x93F5F5799A932462
    assert siphash64(key, bytes(range(15))) == 0xA129CA6149BE45E5


# ------------------------------------------------------------------------------------------------ lookups by hand
def test_integer_lookup_on_tensors_matches_a_dictionary():
    rng = np.random.default_rng(0)
    vocabulary = rng.permutation(np.unique(rng.integers(-10**12, 10**12, size=600)))[:500]
    ids = np.where(rng.random((64, 20)) < 0.8, rng.choice(vocabulary, (64, 20)), rng.integers(-5, 5, (64, 20)))
    layer = layers.IntegerLookup(vocabulary=vocabulary.tolist(), num_oov_indices=3)
    position = {int(v): i + 3 for i, v in enumerate(vocabulary)}
    expected = np.vectorize(lambda v: position.get(int(v), int(v) % 3))(ids)
    out = layer(torch.from_numpy(ids))
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out.dtype == torch.int64 and out.device == torch.device("cpu")
    small = layers.IntegerLookup(vocabulary=[5, 9])(torch.tensor([9, 5, 1], dtype=torch.int32))
    assert small.tolist() == [2, 1, 0] and small.dtype == torch.int64
    inverse = layers.IntegerLookup(vocabulary=vocabulary.tolist(), num_oov_indices=3, invert=True)
    back = inverse(out).numpy()
    np.testing.assert_array_equal(back, np.where(expected >= 3, ids, -1))


def test_adapt_from_batches_equals_adapt_on_the_array():
    data = np.array([["a", "b", "b"], ["c", "b", "a"], ["d", "a", "a"], ["e", "e", "b"]])
    whole, batched, stream, limited = (layers.StringLookup(output_mode="tf_idf") for _ in range(4))
    whole.adapt(data)
    batched.adapt(data, batch_size=3)
    stream.adapt((data[i:i + 2], np.zeros(2)) for i in range(0, 4, 2))  # (x, y) batches use x
    limited.adapt(iter([(data[:2], None), (data[2:], None)]), steps=1)
    for other in (batched, stream):
        assert other.get_vocabulary() == whole.get_vocabulary()
        np.testing.assert_allclose(other(data).numpy(), whole(data).numpy(), rtol=1e-6)
    assert limited.get_vocabulary() == ["[UNK]", "b", "a", "c"]
    counts = layers.IntegerLookup()
    counts.adapt(torch.tensor([4, 4, 7, 7, 7, 1]))
    assert counts.get_vocabulary() == [-1, 7, 4, 1]


def test_vocabulary_file_and_set_vocabulary(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("the\ncat\nsat\n", encoding="utf-8")
    layer = layers.StringLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == ["[UNK]", "the", "cat", "sat"]
    assert layer.get_config()["vocabulary"] == ["the", "cat", "sat"]
    np.testing.assert_array_equal(layer(np.array(["sat", "dog"])).numpy(), [3, 0])
    ids = tmp_path / "ids.txt"
    ids.write_text("12\n36\n", encoding="utf-8")
    np.testing.assert_array_equal(layers.IntegerLookup(vocabulary=ids)(torch.tensor([36, 5])).numpy(), [2, 0])
    empty = layers.StringLookup(mask_token="[MASK]")
    assert empty.vocabulary_size() == 2 and empty.get_vocabulary() == ["[MASK]", "[UNK]"]
    empty.set_vocabulary(["x", "y"])
    assert empty.get_vocabulary(include_special_tokens=False) == ["x", "y"]
    assert empty.vocabulary_size() == 4
    with pytest.raises(ValueError, match="does not exist"):
        layers.StringLookup(vocabulary=str(tmp_path / "missing.txt"))


@pytest.mark.parametrize("kwargs", [{"output_mode": "tf_idf"}, {"output_mode": "multi_hot", "mask_token": ""},
                                    {"num_oov_indices": 2, "mask_token": "", "salt": 5}])
def test_adapted_config_round_trip(kwargs):
    data = np.array([["a", "b", "b", ""], ["c", "b", "a", "z"]])
    layer = layers.StringLookup(**kwargs)
    layer.adapt(data)
    config = json.loads(json.dumps(layer.get_config()))
    clone = layers.deserialize({"class_name": "StringLookup", "config": config})
    assert clone.get_vocabulary() == layer.get_vocabulary()
    assert clone.get_config() == config
    query = np.array([["a", "q", "c", ""], ["b", "b", "zz", "a"]])
    np.testing.assert_allclose(clone(query).numpy(), layer(query).numpy(), rtol=1e-6)
    clone.adapt(data)  # a learnt vocabulary may be learnt again after loading


def test_layer_conformance():
    run_layer_test(layers.IntegerLookup, {"vocabulary": list(range(10)), "output_mode": "multi_hot"}, (4, 3),
                   expected_output_shape=(4, 11), expected_num_params=0, input_dtype="int64", compare_keras=False)
    run_layer_test(layers.IntegerLookup, {"vocabulary": [3, 1, 4], "mask_token": 0}, (4, 3),
                   expected_output_shape=(4, 3), expected_num_params=0, input_dtype="int64", compare_keras=False)
    run_layer_test(layers.Hashing, {"num_bins": 5, "output_mode": "count"}, (4, 3), expected_output_shape=(4, 5),
                   expected_num_params=0, input_dtype="int64", compare_keras=False)


def test_hashing_tensors_keep_dtype_and_device_and_equal_string_bins():
    ids = torch.tensor([[0, 1, -3], [42, 7, 1]])
    out = layers.Hashing(num_bins=8)(ids)
    assert out.dtype == torch.int64 and out.shape == ids.shape
    as_text = layers.Hashing(num_bins=8)(np.array([["0", "1", "-3"], ["42", "7", "1"]]))
    np.testing.assert_array_equal(out.numpy(), as_text.numpy())  # Keras hashes integers as their decimal text
    assert layers.Hashing(num_bins=8, dtype="int32")(ids).dtype == torch.int32
    assert layers.Hashing(num_bins=3).get_config()["dtype"] == "int64"


def test_save_and_load_models_with_lookups(tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, size=(256, 4))
    y = (np.isin(ids, [3, 5, 7]).any(axis=1)).astype("float32")
    lookup = layers.IntegerLookup(output_mode="multi_hot")
    lookup.adapt(ids)
    model = deepglass.Sequential([deepglass.Input((4,), dtype="int64"), lookup, layers.Dense(1, activation="sigmoid")])
    model.compile(deepglass.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(ids, y, epochs=20, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    model.save(tmp_path / "ids.keras")
    loaded = deepglass.models.load_model(tmp_path / "ids.keras")
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-6)
    assert loaded.layers[0].get_vocabulary() == lookup.get_vocabulary()

    words = layers.StringLookup(output_mode="count", mask_token="")
    words.adapt(np.array([["red", "red", "blue"], ["green", "", "red"]]))
    text_model = deepglass.Sequential([words, layers.Dense(2)])
    text_model.build((None, 3))
    text_model.save(tmp_path / "words.keras")
    reloaded = deepglass.models.load_model(tmp_path / "words.keras")
    query = np.array([["blue", "red", "pink"], ["", "green", "green"]])
    np.testing.assert_array_equal(reloaded.layers[0](query).numpy(), words(query).numpy())
    for a, b in zip(reloaded.get_weights(), text_model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make, message", [
    (lambda: layers.StringLookup(output_mode="mult_hot"), "Did you mean 'multi_hot'"),
    (lambda: layers.StringLookup(vocabulary=["a", "b", "a"]), r"repeated terms \['a'\]"),
    (lambda: layers.StringLookup(invert=True, output_mode="count"), "needs output_mode='int'"),
    (lambda: layers.IntegerLookup(sparse=True, output_mode="count"), "sparse=False"),
    (lambda: layers.Hashing(num_bins=4, output_mode="one_hot", sparse=True), "sparse=False"),
    (lambda: layers.Hashing(num_bins=0), "positive integer"),
    (lambda: layers.Hashing(num_bins=2, output_mode="onehot"), "Did you mean 'one_hot'"),
    (lambda: layers.StringLookup(max_tokens=1), "greater than 1"),
    (lambda: layers.StringLookup(pad_to_max_tokens=True), "needs max_tokens"),
    (lambda: layers.StringLookup(output_mode="tf_idf", vocabulary=["a"]), "pass `idf_weights`"),
    (lambda: layers.StringLookup(idf_weights=[1.0], vocabulary=["a"]), "only used with output_mode='tf_idf'"),
    (lambda: layers.StringLookup(vocabulary=["a", "", "b"], mask_token=""), "reserved mask token"),
    (lambda: layers.StringLookup(vocabulary=["a", "b", "c"], max_tokens=3), "larger than max_tokens=3"),
    (lambda: layers.IntegerLookup(num_oov_indices=2, salt=3), "oov_method='farmhash'"),
    (lambda: layers.IntegerLookup(vocabulary_dtype="int32"), "int64"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_calls_and_adapts():
    with pytest.raises(ValueError, match="found no strings"):
        layers.StringLookup().adapt(np.array([], dtype=str))
    with pytest.raises(ValueError, match="found no tokens"):
        layers.IntegerLookup().adapt(iter([]))
    with pytest.raises(ValueError, match="was given a `vocabulary`"):
        layers.StringLookup(vocabulary=["a"]).adapt(["a", "b"])
    with pytest.raises(ValueError, match=r"out-of-vocabulary values \['b', 'c'\]"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["a", "c", "b"]))
    with pytest.raises(ValueError, match="expects strings"):
        layers.StringLookup(vocabulary=["a"])(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="expects integers"):
        layers.IntegerLookup(vocabulary=[1])(np.array(["1"]))
    with pytest.raises(RuntimeError, match="call adapt"):
        layers.StringLookup(output_mode="multi_hot")(np.array(["a"]))
    adapted = layers.StringLookup(output_mode="multi_hot")
    adapted.adapt(["a", "b"])
    with pytest.raises(RuntimeError, match="cannot change once set"):
        adapted.adapt(["a", "b", "c"])
