"""IMDB movie reviews: 25,000 training and 25,000 test reviews as sequences of word indices, labelled by sentiment."""
import numpy as np

from deepglass.datasets import _files, _safe_pickle, _sequences

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
RESOURCE = _files.Resource(
    name="imdb.npz", origin=ORIGIN_FOLDER + "imdb.npz",
    hashes=("69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",))
WORD_INDEX = _files.Resource(
    name="imdb_word_index.json", origin=ORIGIN_FOLDER + "imdb_word_index.json",
    hashes=("bfafd718b763782e994055a2d397834f",))


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    """Load the IMDB reviews as Keras does: `(x_train, y_train), (x_test, y_test)`.

    Words are indexed by frequency (index 1 + `index_from` - 1 is the most frequent word), so that
    `num_words=10000` keeps the 10,000 most frequent. Index 0 is left for padding. The file (17 MB) is taken
    from the deepglass cache, then Keras's cache, and downloaded (checksum verified) only when neither has it;
    its ragged arrays are read without unpickling.

    Arguments:
        path: the file name in the caches (Keras's `path`), or a path with a folder to use that file itself.
        num_words: keep the `num_words` most frequent words (indices below `num_words`); others become
            `oov_char`. `None` keeps all.
        skip_top: the most frequent words to turn into `oov_char` as well (e.g. "the", "a").
        maxlen: keep only the reviews shorter than `maxlen` words (counting the start mark); `None` keeps all.
        seed: the seed of the shuffle of each set.
        start_char: the index put at the start of every review; `None` for none.
        oov_char: the index that replaces cut words; `None` drops them instead.
        index_from: added to every word index.
        **kwargs: Keras 1's `nb_words` for `num_words` (it warns).

    Returns `x_train` and `x_test`: object arrays of 25,000 lists of word indices each; `y_train` and `y_test`:
    int64 arrays of labels, 1 positive and 0 negative.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.imdb.load_data(num_words=20000)
    >>> x_train.shape, y_test.shape
    ((25000,), (25000,))
    """
    num_words = _sequences.legacy_num_words("imdb.load_data()", num_words, kwargs)
    arrays = _safe_pickle.load_npz(_files.fetch(RESOURCE, "imdb.load_data()", path))
    rng = np.random.RandomState(seed)
    train = _sequences.shuffle(rng, arrays["x_train"], arrays["y_train"])
    test = _sequences.shuffle(rng, arrays["x_test"], arrays["y_test"])
    train, test = (_sequences.encode(x, y, start_char, index_from, maxlen) for x, y in (train, test))
    if maxlen and (not len(train) or not len(test)):
        raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                         "Increase maxlen.")
    data = _sequences.limit_vocabulary(_sequences.Sequences.concatenate([train, test]), num_words, skip_top,
                                       oov_char)
    x, split = data.to_object_array(), len(train)
    return (x[:split], data.labels[:split]), (x[split:], data.labels[split:])


def get_word_index(path="imdb_word_index.json"):
    """The word index of the IMDB data: a dict from each word to its frequency rank (1 for the most frequent).

    In `load_data`'s sequences a word of rank `r` has index `r + index_from` (3 by default).

    Arguments:
        path: the file name in the caches, or a path with a folder to use that file itself.

    Example:
    >>> index = deepglass.datasets.imdb.get_word_index()
    >>> words = {rank + 3: word for word, rank in index.items()}
    """
    return _sequences.load_word_index(WORD_INDEX, "imdb.get_word_index()", path)
