"""The word-index sequences of IMDB and Reuters, prepared as Keras prepares them, with NumPy on flat arrays.

A set of sequences is held as one flat array of word indices and the length of each sequence, so that shifting
indices, adding the start mark, dropping long sequences and cutting the vocabulary are array operations
rather than a Python loop over millions of words.
"""
import itertools
import json
import warnings

import numpy as np

from deepglass.datasets import _files


class Sequences:
    """Sequences as a flat int64 array of words, each sequence's length, and one label per sequence."""

    def __init__(self, flat, lengths, labels):
        self.flat, self.lengths, self.labels = flat, lengths, labels

    @classmethod
    def from_lists(cls, sequences, labels):
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        flat = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))
        return cls(flat, lengths, np.asarray(labels))

    @classmethod
    def concatenate(cls, parts):
        return cls(*(np.concatenate([getattr(part, field) for part in parts])
                     for field in ("flat", "lengths", "labels")))

    def __len__(self):
        return len(self.lengths)

    def owners(self):
        """The index of the sequence that each word of `flat` belongs to."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    def select(self, keep):
        """The sequences where the boolean `keep` is true."""
        return Sequences(self.flat[np.repeat(keep, self.lengths)], self.lengths[keep], self.labels[keep])

    def to_object_array(self):
        """A 1-D object array holding each sequence as a list of Python ints, as Keras returns them."""
        words, out = self.flat.tolist(), np.empty(len(self.lengths), dtype=object)
        ends = np.cumsum(self.lengths).tolist()
        for i, (start, end) in enumerate(zip([0] + ends[:-1], ends)):
            out[i] = words[start:end]
        return out


_warned = set()


def legacy_num_words(loader, num_words, kwargs):
    """`num_words`, taking Keras 1's `nb_words` spelling (with a warning, once); other extra arguments raise."""
    if "nb_words" in kwargs:
        num_words = kwargs.pop("nb_words")
        if loader not in _warned:
            _warned.add(loader)
            warnings.warn(f"{loader}: `nb_words` is the Keras 1 spelling of `num_words`; use `num_words=` instead.",
                          DeprecationWarning, stacklevel=3)
    if kwargs:
        raise TypeError(f"{loader} got unexpected keyword arguments {sorted(kwargs)}; its arguments are path, "
                        "num_words, skip_top, maxlen, seed, start_char, oov_char and index_from (and test_split "
                        "for Reuters).")
    return num_words


def shuffle(rng, *arrays):
    """The arrays in one random order drawn from `rng` (a `np.random.RandomState`), as Keras shuffles them."""
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [array[indices] for array in arrays]


def encode(sequences, labels, start_char, index_from, maxlen):
    """Shift every word by `index_from`, put `start_char` in front (unless None), and keep only the sequences
    shorter than `maxlen` (a falsy `maxlen` keeps all), as Keras does."""
    data = Sequences.from_lists(sequences, labels)
    data.flat += index_from
    if start_char is not None:
        starts = np.cumsum(data.lengths + 1) - (data.lengths + 1)
        flat = np.empty(len(data.flat) + len(data), dtype=np.int64)
        is_start = np.zeros(len(flat), dtype=bool)
        is_start[starts] = True
        flat[is_start], flat[~is_start] = start_char, data.flat
        data = Sequences(flat, data.lengths + 1, data.labels)
    return data.select(data.lengths < maxlen) if maxlen else data


def limit_vocabulary(data, num_words, skip_top, oov_char):
    """Words outside `[skip_top, num_words)` become `oov_char`, or are dropped when it is None.

    Without `num_words` the bound is the largest index present, which (as in Keras) is itself excluded.
    """
    if not num_words:
        num_words = int(data.flat.max()) if data.flat.size else 0
    inside = (data.flat >= skip_top) & (data.flat < num_words)
    if oov_char is not None:
        return Sequences(np.where(inside, data.flat, oov_char), data.lengths, data.labels)
    lengths = np.bincount(data.owners()[inside], minlength=len(data)).astype(np.int64)
    return Sequences(data.flat[inside], lengths, data.labels)


def load_word_index(resource, loader, path):
    """A dataset's word index (word -> rank) from its JSON file, found or downloaded and checked."""
    with open(_files.fetch(resource, loader, path), encoding="utf-8") as file:
        return json.load(file)
