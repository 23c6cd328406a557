"""pad_sequences against Keras's (the oracle) for every combination of its arguments."""
import itertools

import numpy as np
import pytest

import deepglass
from deepglass.preprocessing import sequence as preprocessing_sequence
from deepglass.utils import pad_sequences

keras = pytest.importorskip("keras")

SEQUENCES = [[1, 2, 3, 4, 5], [], [6], [7, 8, 9], np.array([10, 11]), (12, 13, 14, 15, 16, 17)]


def _same(ours, theirs):
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("padding,truncating,maxlen,dtype,value", itertools.product(
    ["pre", "post"], ["pre", "post"], [None, 1, 3, 6, 9], ["int32", "float32", "int64", "uint8"], [0.0, -1, 2.5]))
def test_matches_keras(padding, truncating, maxlen, dtype, value):
    if dtype == "uint8" and value == -1:
        value = 255  # NumPy refuses to cast -1 to uint8, Keras included
    arguments = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)
    _same(pad_sequences(SEQUENCES, **arguments), keras.utils.pad_sequences(SEQUENCES, **arguments))


@pytest.mark.parametrize("padding,truncating,maxlen", itertools.product(["pre", "post"], ["pre", "post"], [None, 2]))
def test_sequences_of_vectors_match_keras(padding, truncating, maxlen):
    sequences = [np.ones((3, 2)), np.arange(2).reshape(1, 2), [], [[5, 6], [7, 8]]]
    arguments = dict(maxlen=maxlen, dtype="float32", padding=padding, truncating=truncating, value=-1.0)
    ours = pad_sequences(sequences, **arguments)
    _same(ours, keras.utils.pad_sequences(sequences, **arguments))
    assert ours.shape[2:] == (2,)


@pytest.mark.parametrize("dtype", [object, "<U5"])
def test_strings_match_keras(dtype):
    sequences = [["a", "bb"], ["ccc"], []]
    arguments = dict(maxlen=3, dtype=dtype, value="pad", padding="post")
    _same(pad_sequences(sequences, **arguments), keras.utils.pad_sequences(sequences, **arguments))


def test_examples_and_other_spellings():
    expected = np.array([[0, 0, 1], [0, 2, 3], [4, 5, 6]], dtype=np.int32)
    _same(pad_sequences([[1], [2, 3], [4, 5, 6]]), expected)
    assert preprocessing_sequence.pad_sequences is pad_sequences is deepglass.utils.pad_sequences


def test_empty_input_gives_an_empty_array():
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[], []]).shape == (2, 0)


@pytest.mark.parametrize("call,message", [
    (lambda: pad_sequences([[1]], padding="middle"), 'expected "pre" or "post". Received: padding=\'middle\''),
    (lambda: pad_sequences([[1]], truncating="end"), "truncating='end'"),
    (lambda: pad_sequences(5), "must be a list of sequences"),
    (lambda: pad_sequences([[1], 2]), "Found non-iterable: 2"),
    (lambda: pad_sequences([["a"]], value="x"), "use dtype=object"),
    (lambda: pad_sequences([np.ones((2, 3)), np.ones((2, 4))]), "different from expected shape \\(3,\\)"),
])
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
