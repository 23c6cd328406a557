"""TextVectorization: raw text to token indices or bag-of-words vectors (standardize, split, n-grams, lookup)."""
import re
import string

import numpy as np
import torch

from deepglass import config, naming
from deepglass.layers.hashing import StringInputLayer, as_string_array, output_device
from deepglass.layers.lookup import StringLookup, _OUTPUT_MODES, _adapt_batches
from deepglass.layers.symbolic import KerasTensor

# Keras lower-cases with TensorFlow's `strings.lower` (ASCII letters only) and strips ASCII punctuation.
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STRIP = str.maketrans("", "", string.punctuation)
_STANDARDIZERS = {"lower": _LOWER, "strip_punctuation": _STRIP,
                  "lower_and_strip_punctuation": str.maketrans(string.ascii_uppercase, string.ascii_lowercase,
                                                               string.punctuation)}
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")  # the ASCII whitespace TensorFlow's `strings.split` splits on


def _split_whitespace(text):
    return [token for token in _WHITESPACE.split(text) if token]


_SPLITTERS = {"whitespace": _split_whitespace, "character": list}


class TextVectorization(StringInputLayer):
    """Turns strings into token indices (`"int"`) or one vector per string (`"multi_hot"`, `"count"`, `"tf_idf"`).

    Each string is standardized (lower-cased, punctuation stripped), split into tokens (at whitespace), optionally
    expanded with n-grams (`"a b"` for ngrams=2), and looked up in a vocabulary learnt with `adapt(texts)` or given.
    Index 0 is padding, 1 is out-of-vocabulary, then the tokens by frequency (ties: the higher token first).

    Arguments:
        max_tokens: the largest vocabulary, padding and OOV included (None: no limit).
        standardize: `"lower_and_strip_punctuation"`, `"lower"`, `"strip_punctuation"`, None, or a function of a
            NumPy array of str returning one of the same shape.
        split: `"whitespace"`, `"character"`, None (each string is one token), or a function of a 1-D NumPy array
            of str returning one list of tokens per string.
        ngrams: None, an integer n (all 1..n-grams) or a tuple of widths (`(1, 3)`).
        output_mode: `"int"` (int64 indices, padded with 0), `"multi_hot"`, `"count"` or `"tf_idf"` (float vectors
            as wide as the vocabulary), or `"one_hot"` (one vector per token; zero vectors pad shorter strings).
        output_sequence_length: with `"int"`, pad or cut every sequence to this length.
        pad_to_max_tokens: make the vectors `max_tokens` wide whatever the vocabulary's size.
        vocabulary: a list of tokens or the path of a text file with one token per line.
        idf_weights: with `"tf_idf"` and a `vocabulary`, one weight per vocabulary term.
        encoding: how bytes inputs are decoded.

    Example:
        >>> layer = deepglass.layers.TextVectorization(output_sequence_length=4)
        >>> layer.adapt(["The cat sat.", "The dog ran!"])
        >>> layer(["the cat ran away"])
        tensor([[2, 6, 4, 1]])
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs):
        if not (standardize is None or callable(standardize)):
            standardize = naming.lookup("standardize", standardize, {k: k for k in _STANDARDIZERS})
        if not (split is None or callable(split)):
            split = naming.lookup("split", split, {k: k for k in _SPLITTERS})
        output_mode = naming.lookup("output_mode", output_mode, _OUTPUT_MODES)
        _check_arguments(ngrams, output_mode, output_sequence_length, sparse, ragged)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        self._standardize, self._split, self._output_mode, self._encoding = standardize, split, output_mode, encoding
        self._ngrams_arg = list(ngrams) if isinstance(ngrams, (list, tuple)) else ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else \
            (tuple(ngrams) if ngrams is not None else None)
        self._output_sequence_length = output_sequence_length
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
                                          has_input_vocabulary=has_input_vocabulary, encoding=encoding,
                                          vocabulary_size=vocabulary_size)

    # ------------------------------------------------------------------------------------------------ vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from `data`: an array or list of strings, or an iterable of batches of them (`(x, y)`
        batches use `x`); each string is a document for `"tf_idf"`. `batch_size` streams an array in batches;
        `steps` stops after that many batches."""
        self._lookup_layer._learn((self._documents(batch) for batch in _adapt_batches(data, batch_size, steps)),
                                  owner=self)

    def get_vocabulary(self, include_special_tokens=True):
        """The token at each index (`""` for padding and `"[UNK]"` first); without them if
        `include_special_tokens=False`."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        """The number of indices, padding and OOV included."""
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary (a list or a text-file path) and, for `"tf_idf"`, its IDF weights."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # ------------------------------------------------------------------------------------------------ tokenizing
    def _tokens(self, inputs):
        """Standardized tokens: a NumPy array (no split) or, with a split, (one list of tokens per string, the
        strings' shape)."""
        text = self._standardized(as_string_array(inputs, self._encoding, f'TextVectorization "{self.name}"'))
        if self._split is None:
            return self._ngrammed_array(text) if self._ngrams else text
        if text.ndim > 1:
            if text.shape[-1] != 1:
                raise ValueError(f"TextVectorization splits one string per sample: inputs must have shape (batch,) "
                                 f"or (batch, 1). Received: inputs.shape={text.shape}")
            text = text[..., 0]
        flat = text.reshape(-1)
        if callable(self._split):
            rows = [[str(token) for token in row] for row in self._split(flat)]
        else:
            rows = [_SPLITTERS[self._split](s) for s in flat.tolist()]
        if self._ngrams:
            rows = [_ngrams(row, self._ngrams) for row in rows]
        return rows, text.shape

    def _standardized(self, text):
        if self._standardize is None:
            return text
        if callable(self._standardize):
            return as_string_array(np.asarray(self._standardize(text)), self._encoding)
        table = _STANDARDIZERS[self._standardize]
        return np.array([s.translate(table) for s in text.reshape(-1).tolist()], dtype=str).reshape(text.shape)

    def _ngrammed_array(self, text):
        rows = [_ngrams(row, self._ngrams) for row in text.reshape(-1, text.shape[-1] if text.ndim else 1).tolist()]
        return np.array(rows, dtype=str).reshape(text.shape[:-1] + (-1,))

    def _documents(self, batch):
        """A batch for the vocabulary's counts: (its tokens, flat; the document of each token; the number of
        documents)."""
        tokens = self._tokens(batch)
        if isinstance(tokens, np.ndarray):
            tokens = tokens.reshape(1, -1) if tokens.ndim <= 1 else \
                tokens.reshape(len(tokens), int(np.prod(tokens.shape[1:])))
            return tokens.reshape(-1), np.repeat(np.arange(len(tokens)), tokens.shape[1]), len(tokens)
        rows, _ = tokens
        lengths = [len(row) for row in rows]
        flat = np.array([token for row in rows for token in row], dtype=str)
        return flat, np.repeat(np.arange(len(rows)), lengths), len(rows)

    # ------------------------------------------------------------------------------------------------------ call
    def call(self, inputs):
        tokens = self._tokens(inputs)
        lookup = self._lookup_layer
        if isinstance(tokens, np.ndarray):
            indices = lookup._lookup(tokens)
        else:
            indices = self._padded(*tokens)
        if self._output_mode != "int":
            return lookup._encode(indices)
        if self._output_sequence_length is not None:
            indices = _fit_length(indices, self._output_sequence_length)
        return indices

    def _padded(self, rows, shape):
        """The tokens of `rows` looked up, as one row per string padded at the end (0 in int mode, else -1, which
        encodes to nothing)."""
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        width = int(lengths.max()) if len(rows) else 0
        pad = 0 if self._output_mode == "int" else -1
        out = torch.full((len(rows), max(width, 0 if self._output_mode == "int" else 1)), pad, dtype=torch.int64,
                         device=output_device(self._lookup_layer))
        flat = np.array([token for row in rows for token in row], dtype=str)
        if flat.size:
            columns = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            where = np.repeat(np.arange(len(rows)), lengths) * out.shape[1] + columns
            out.view(-1)[torch.from_numpy(where).to(out.device)] = self._lookup_layer._lookup(flat)
        return out.reshape(tuple(shape) + (out.shape[1],))

    # ---------------------------------------------------------------------------------------------------- shapes
    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        input_shape = tuple(input_shape)
        if self._split is None:
            input_shape = input_shape + (1,) if len(input_shape) <= 1 else input_shape
        else:
            input_shape = input_shape + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs):
        dtype = torch.int64 if self._output_mode == "int" else config.standardize_dtype()
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype)

    # ---------------------------------------------------------------------------------------------------- config
    def get_config(self):
        lookup = self._lookup_layer.get_config()
        result = {**super().get_config(), "max_tokens": lookup["max_tokens"], "standardize": self._standardize,
                  "split": self._split, "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
                  "output_sequence_length": self._output_sequence_length,
                  "pad_to_max_tokens": lookup["pad_to_max_tokens"], "sparse": False, "ragged": False,
                  "vocabulary": lookup["vocabulary"], "idf_weights": lookup["idf_weights"], "encoding": self._encoding,
                  "vocabulary_size": lookup["vocabulary_size"]}
        if "has_input_vocabulary" in lookup:
            result["has_input_vocabulary"] = lookup["has_input_vocabulary"]
        return result

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("standardize", "split"):
            if isinstance(config.get(key), dict):
                raise ValueError(f"TextVectorization's `{key}` is the custom function {config[key].get('config')!r}; "
                                 "pass it in custom_objects when loading, or register it with "
                                 "@deepglass.saving.register_serializable().")
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)


def _check_arguments(ngrams, output_mode, output_sequence_length, sparse, ragged):
    if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams > 0) or
            (isinstance(ngrams, (tuple, list)) and all(isinstance(n, int) and n > 0 for n in ngrams))):
        raise ValueError(f"`ngrams` must be None, a positive integer, or a tuple of positive integers. Received: "
                         f"ngrams={ngrams!r}")
    if output_mode == "int" and not (output_sequence_length is None or
                                     (isinstance(output_sequence_length, int) and output_sequence_length >= 0)):
        raise ValueError(f"`output_sequence_length` must be None or a non-negative integer. Received: "
                         f"output_sequence_length={output_sequence_length!r}")
    if output_mode != "int" and output_sequence_length is not None:
        raise ValueError(f"`output_sequence_length` pads 'int' outputs only; with output_mode={output_mode!r} drop "
                         f"it. Received: output_sequence_length={output_sequence_length}")
    if sparse:
        raise ValueError("TextVectorization does not support sparse outputs; pass sparse=False.")
    if ragged:
        raise ValueError("TextVectorization does not support ragged outputs; pass ragged=False and use "
                         "output_sequence_length (or the default padding to the longest string).")


def _ngrams(tokens, widths):
    """All n-grams of `tokens` for each width in `widths`, width by width, joined with spaces (as TensorFlow's
    `strings.ngrams`; sequences shorter than a width give none of that width)."""
    return [" ".join(tokens[i:i + n]) for n in widths for i in range(len(tokens) - n + 1)]


def _fit_length(indices, length):
    """Cut or zero-pad the last axis of `indices` to `length`."""
    indices = indices[..., :length]
    missing = length - indices.shape[-1]
    return torch.nn.functional.pad(indices, (0, missing)) if missing > 0 else indices
