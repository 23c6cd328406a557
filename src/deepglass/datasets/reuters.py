"""Reuters newswires: 11,228 newswires as sequences of word indices, labelled with one of 46 topics."""
import numpy as np

from deepglass.datasets import _files, _safe_pickle, _sequences

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
RESOURCE = _files.Resource(
    name="reuters.npz", origin=ORIGIN_FOLDER + "reuters.npz",
    hashes=("d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",))
WORD_INDEX = _files.Resource(
    name="reuters_word_index.json", origin=ORIGIN_FOLDER + "reuters_word_index.json",
    hashes=("4d44cc38712099c9e383dc6e5f11a921",))
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113, start_char=1,
              oov_char=2, index_from=3, **kwargs):
    """Load the Reuters newswires as Keras does: `(x_train, y_train), (x_test, y_test)`.

    Words are indexed by frequency, as in `imdb.load_data`; the newswires are shuffled together and the last
    `test_split` of them is the test set. The file (2 MB) is taken from the deepglass cache, then Keras's cache,
    and downloaded (checksum verified) only when neither has it; its ragged arrays are read without unpickling.

    Arguments:
        path: the file name in the caches (Keras's `path`), or a path with a folder to use that file itself.
        num_words: keep the `num_words` most frequent words (indices below `num_words`); others become
            `oov_char`. `None` keeps all.
        skip_top: the most frequent words to turn into `oov_char` as well.
        maxlen: keep only the newswires shorter than `maxlen` words (counting the start mark); `None` keeps all.
        test_split: the fraction of newswires in the test set.
        seed: the seed of the shuffle.
        start_char: the index put at the start of every newswire; `None` for none.
        oov_char: the index that replaces cut words; `None` drops them instead.
        index_from: added to every word index.
        **kwargs: Keras 1's `nb_words` for `num_words` (it warns).

    Returns `x_train` and `x_test`: object arrays of lists of word indices (8,982 and 2,246 by default);
    `y_train` and `y_test`: int64 arrays of topic labels 0-45 (see `get_label_names`).

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.reuters.load_data(num_words=10000)
    >>> len(x_train), len(x_test)
    (8982, 2246)
    """
    num_words = _sequences.legacy_num_words("reuters.load_data()", num_words, kwargs)
    arrays = _safe_pickle.load_npz(_files.fetch(RESOURCE, "reuters.load_data()", path))
    xs, labels = _sequences.shuffle(np.random.RandomState(seed), arrays["x"], arrays["y"])
    data = _sequences.encode(xs, labels, start_char, index_from, maxlen)
    data = _sequences.limit_vocabulary(data, num_words, skip_top, oov_char)
    x, split = data.to_object_array(), int(len(data) * (1 - test_split))
    return (x[:split], data.labels[:split]), (x[split:], data.labels[split:])


def get_word_index(path="reuters_word_index.json"):
    """The word index of the Reuters data: a dict from each word to its frequency rank (1 for the most frequent).

    In `load_data`'s sequences a word of rank `r` has index `r + index_from` (3 by default).

    Arguments:
        path: the file name in the caches, or a path with a folder to use that file itself.
    """
    return _sequences.load_word_index(WORD_INDEX, "reuters.get_word_index()", path)


def get_label_names():
    """The 46 topic names, in label order: `get_label_names()[3]` is `"earn"`."""
    return LABEL_NAMES
