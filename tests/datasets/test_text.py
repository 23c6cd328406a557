"""imdb and reuters against Keras's own loaders on the same small files, over a grid of their arguments."""
import itertools
import json

import numpy as np
import pytest

from deepglass.datasets import DatasetChecksumError, imdb, reuters
from tests.datasets.formats import ragged, trust, write_bytes, write_npz

# Every combination of the arguments that shape the sequences: num_words, skip_top, maxlen, start_char,
# oov_char, index_from.
GRID = list(itertools.product([None, 12], [0, 4], [None, 9], [1, None], [2, None], [3, 0]))


def _assert_same_sequences(ours, theirs):
    (ours_x_train, ours_y_train), (ours_x_test, ours_y_test) = ours
    (x_train, y_train), (x_test, y_test) = theirs
    for a, b in ((ours_x_train, x_train), (ours_x_test, x_test)):
        assert a.dtype == object and a.ndim == 1 and len(a) == len(b)
        assert [list(s) for s in a] == [list(s) for s in b]
        assert all(type(word) is int for sequence in a for word in sequence)
    for a, b in ((ours_y_train, y_train), (ours_y_test, y_test)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def imdb_file(monkeypatch, keras_cache, keras_datasets):
    rng = np.random.default_rng(4)
    path = write_npz(str(keras_cache / "imdb.npz"), x_train=ragged(rng, 14, 1, 14, 30),
                     y_train=rng.integers(0, 2, 14), x_test=ragged(rng, 9, 1, 14, 30), y_test=rng.integers(0, 2, 9))
    trust(monkeypatch, imdb, "RESOURCE", path)
    keras_imdb = keras_datasets("imdb")
    monkeypatch.setattr(keras_imdb, "get_file", lambda *args, **kwargs: path)
    return keras_imdb


@pytest.mark.parametrize("num_words,skip_top,maxlen,start_char,oov_char,index_from", GRID)
def test_imdb_matches_keras(imdb_file, num_words, skip_top, maxlen, start_char, oov_char, index_from):
    arguments = dict(num_words=num_words, skip_top=skip_top, maxlen=maxlen, start_char=start_char,
                     oov_char=oov_char, index_from=index_from, seed=7)
    _assert_same_sequences(imdb.load_data(**arguments), imdb_file.load_data(**arguments))


def test_imdb_defaults_match_keras(imdb_file):
    ours = imdb.load_data()
    _assert_same_sequences(ours, imdb_file.load_data())
    assert all(sequence[0] == 1 for sequence in ours[0][0])


def test_imdb_maxlen_that_keeps_nothing_is_an_error(imdb_file):
    with pytest.raises(ValueError, match="no sequence was kept. Increase maxlen"):
        imdb.load_data(maxlen=1)


def test_imdb_accepts_keras_1_nb_words(imdb_file):
    with pytest.warns(DeprecationWarning, match="nb_words"):
        ours = imdb.load_data(nb_words=10)
    _assert_same_sequences(ours, imdb_file.load_data(num_words=10))
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['num_word'\\]"):
        imdb.load_data(num_word=10)


@pytest.fixture
def reuters_file(monkeypatch, keras_cache, keras_datasets):
    rng = np.random.default_rng(5)
    path = write_npz(str(keras_cache / "reuters.npz"), x=ragged(rng, 25, 1, 14, 30), y=rng.integers(0, 46, 25))
    trust(monkeypatch, reuters, "RESOURCE", path)
    keras_reuters = keras_datasets("reuters")
    monkeypatch.setattr(keras_reuters, "get_file", lambda *args, **kwargs: path)
    return keras_reuters


@pytest.mark.parametrize("num_words,skip_top,maxlen,start_char,oov_char,index_from", GRID)
@pytest.mark.parametrize("test_split", [0.2, 0.5])
def test_reuters_matches_keras(reuters_file, num_words, skip_top, maxlen, start_char, oov_char, index_from,
                               test_split):
    arguments = dict(num_words=num_words, skip_top=skip_top, maxlen=maxlen, start_char=start_char,
                     oov_char=oov_char, index_from=index_from, test_split=test_split, seed=11)
    _assert_same_sequences(reuters.load_data(**arguments), reuters_file.load_data(**arguments))


def test_reuters_defaults_and_label_names(reuters_file):
    ours = reuters.load_data()
    _assert_same_sequences(ours, reuters_file.load_data())
    assert len(ours[0][0]) == int(25 * 0.8)
    assert reuters.get_label_names() == reuters_file.get_label_names()


@pytest.mark.parametrize("module,name", [(imdb, "imdb_word_index.json"), (reuters, "reuters_word_index.json")])
def test_word_index_is_read_and_checked(monkeypatch, deepglass_cache, module, name):
    index = {"the": 1, "and": 2, "ünïcode": 3}
    path = write_bytes(str(deepglass_cache / name), json.dumps(index).encode())
    trust(monkeypatch, module, "WORD_INDEX", path, "md5")
    assert module.get_word_index() == index
    write_bytes(path, json.dumps({"the": 1}).encode())
    with pytest.raises(DatasetChecksumError, match=f"{name} is truncated, corrupt or another version: its md5"):
        module.get_word_index()
