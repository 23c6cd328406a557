"""Vocabulary lookups: StringLookup and IntegerLookup map tokens to indices (and back), learnt with `adapt`."""
import collections
import os

import numpy as np
import torch

from deepglass import config, naming
from deepglass.layers.hashing import (StringInputLayer, as_string_array, hash_array, hash_integers, is_string_data,
                                      output_device, _as_salt)
from deepglass.layers.preprocessing import _first_of, encode_categories
from deepglass.layers.symbolic import KerasTensor

_OUTPUT_MODES = {"int": "int", "one_hot": "one_hot", "multi_hot": "multi_hot", "count": "count", "tf_idf": "tf_idf",
                 "binary": "multi_hot", "tf-idf": "tf_idf"}


class IndexLookup(StringInputLayer):
    """The vocabulary lookup behind StringLookup and IntegerLookup (see their docstrings for the arguments).

    Index layout, as in Keras: `[mask (int mode only)] [num_oov_indices OOV slots] [tokens, most frequent first]`.
    """

    _kind = "token"

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, vocabulary_size=None, has_input_vocabulary=None, **kwargs):
        output_mode = naming.lookup("output_mode", output_mode, _OUTPUT_MODES)
        _check_arguments(max_tokens, pad_to_max_tokens, num_oov_indices, invert, output_mode, sparse, idf_weights)
        self.oov_method = naming.lookup("oov_method", oov_method, {"floormod": "floormod", "farmhash": "farmhash"})
        if salt is not None and vocabulary_dtype != "string" and self.oov_method != "farmhash":
            raise ValueError(f"`salt` keys the OOV hash, which integers use only with oov_method='farmhash'. "
                             f"Received: oov_method={oov_method!r} and salt={salt!r}")
        super().__init__(**kwargs)
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode, self.pad_to_max_tokens = bool(invert), output_mode, bool(pad_to_max_tokens)
        self.vocabulary_dtype, self.salt = vocabulary_dtype, _as_salt(salt)
        self._frozen_vocab_size = vocabulary_size
        self._has_input_vocabulary = vocabulary is not None if has_input_vocabulary is None else has_input_vocabulary
        self._tokens, self._idf, self._tables = [], None, {}
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError("With output_mode='tf_idf' and a `vocabulary`, pass `idf_weights` too (one weight per "
                             "vocabulary term).")
        self.input_vocabulary, self.input_idf_weights = None, _plain(idf_weights)
        if vocabulary is not None:
            self.input_vocabulary = self._read_vocabulary(vocabulary)
            self._set_vocabulary(self.input_vocabulary, idf_weights, from_file=_is_path(vocabulary))
        self._from_init = vocabulary is not None

    # ------------------------------------------------------------------------------------------ vocabulary layout
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The number of indices: mask and OOV slots plus the tokens."""
        return self._token_start_index() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens=True):
        """The token at each index (mask and OOV slots first); without them if `include_special_tokens=False`."""
        vocabulary = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self._oov_start_index():
            vocabulary[0] = self.mask_token
        return vocabulary if include_special_tokens else vocabulary[self._token_start_index():]

    def _read_vocabulary(self, vocabulary):
        """A vocabulary given as a list, array, tensor or path of a text file (one token a line) as a list."""
        if _is_path(vocabulary):
            if not os.path.isfile(vocabulary):
                raise ValueError(f"Vocabulary file {os.fspath(vocabulary)!r} does not exist; pass the path of a text "
                                 "file with one token per line, or a list of tokens.")
            with open(vocabulary, encoding="utf-8") as file:
                lines = file.read().splitlines()
            while lines and lines[-1] == "":
                lines.pop()
            return self._tokens_from(lines)
        if torch.is_tensor(vocabulary):
            vocabulary = vocabulary.detach().cpu().numpy()
        return self._tokens_from(np.asarray(vocabulary).reshape(-1).tolist() if isinstance(vocabulary, np.ndarray)
                                 else list(vocabulary))

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary (a list, array, tensor or text-file path) and, for `"tf_idf"`, its IDF weights.

        The vocabulary may start with the special tokens (`[mask_token] + [oov_token] * num_oov_indices`, as
        `get_vocabulary()` returns it) or leave them out.
        """
        self._set_vocabulary(self._read_vocabulary(vocabulary), idf_weights, from_file=_is_path(vocabulary))

    def _set_vocabulary(self, vocabulary, idf_weights, from_file):
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"`idf_weights` is only used with output_mode='tf_idf'; received output_mode="
                             f"{self.output_mode!r}. Drop idf_weights or use output_mode='tf_idf'.")
        if from_file and self.output_mode == "tf_idf":
            raise ValueError("output_mode='tf_idf' needs `idf_weights` with the vocabulary; pass the vocabulary as "
                             "a list rather than a file path.")
        if not vocabulary:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        special = self.get_vocabulary()[:self._token_start_index()]
        has_special = not from_file and vocabulary[:len(special)] == special
        tokens = vocabulary[len(special):] if has_special else vocabulary
        self._check_tokens(tokens, special)
        self._set_tokens(tokens)
        if idf_weights is not None:
            self._set_idf(vocabulary, idf_weights, has_special)
        self._from_init = False

    def _check_tokens(self, tokens, special):
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(f"The vocabulary has repeated terms {repeated}; each term must appear once "
                             "(deduplicate it, e.g. with dict.fromkeys(vocabulary)).")
        reserved = [("mask", self.mask_token)] + ([("OOV", self.oov_token)] if self.invert else [])
        for what, token in reserved:
            if token is not None and token in tokens:
                raise ValueError(f"Found the reserved {what} token {token!r} at vocabulary index "
                                 f"{len(special) + tokens.index(token)}; leave the special tokens out of the "
                                 f"vocabulary, or put them first in exactly this order: {special}.")
        size = self._token_start_index() + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"Attempted to set a vocabulary of size {size} (with mask and OOV slots), larger than "
                             f"max_tokens={self.max_tokens}; raise max_tokens or shorten the vocabulary.")

    def _set_tokens(self, tokens):
        size = self._token_start_index() + len(tokens)
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size not in (None, size):
            raise RuntimeError(f"With output_mode={self.output_mode!r} and pad_to_max_tokens=False the vocabulary "
                               f"size sets the output width, so it cannot change once set: it was "
                               f"{self._frozen_vocab_size}, the new vocabulary has {size}. Create a new layer.")
        self._tokens, self._tables, self._frozen_vocab_size = list(tokens), {}, size

    def _set_idf(self, vocabulary, idf_weights, has_special):
        weights = np.asarray(idf_weights.detach().cpu() if torch.is_tensor(idf_weights) else idf_weights,
                             dtype="float64")
        if weights.ndim != 1 or len(weights) != len(vocabulary):
            raise ValueError(f"`idf_weights` must be a 1-D list with one weight per vocabulary term "
                             f"({len(vocabulary)}); received shape {weights.shape}.")
        # The special tokens have no document frequency of their own: they get the mean weight, as in Keras.
        front = [] if has_special else [weights.mean()] * self._token_start_index()
        weights = np.concatenate([front, weights])
        self._idf = self._padded_idf(weights)

    def _padded_idf(self, weights):
        if self.pad_to_max_tokens and self.max_tokens is not None:
            weights = np.pad(weights, (0, self.max_tokens - len(weights)))
        self._tables = {}
        return weights.astype("float32")

    # ----------------------------------------------------------------------------------------------------- adapt
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from `data`: an array or list of tokens, or an iterable of batches (`(x, y)` batches
        use `x`). Tokens are ranked by count, ties broken by the token (higher first), and the list cut to
        `max_tokens`; with `"tf_idf"` each row is a document for the IDF weights. `batch_size` streams an array in
        batches; `steps` stops after that many batches."""
        self._learn(self._documents(batch) for batch in _adapt_batches(data, batch_size, steps))

    def _learn(self, document_batches, owner=None):
        name = (owner or self).name
        if self._has_input_vocabulary:
            raise ValueError(f'Cannot adapt layer "{name}": it was given a `vocabulary`; create it without one '
                             "to learn the vocabulary from data.")
        counts, document_counts, documents = collections.Counter(), collections.Counter(), 0
        for flat, rows, num_rows in document_batches:
            uniques, inverse, batch_counts = np.unique(flat, return_inverse=True, return_counts=True)
            counts.update(dict(zip(uniques.tolist(), batch_counts.tolist())))
            if self.output_mode == "tf_idf":
                # A token counts once per document it occurs in: count the distinct (row, token) pairs.
                pairs = np.unique(rows.astype(np.int64) * len(uniques) + inverse.reshape(-1))
                in_documents = np.bincount(pairs % max(len(uniques), 1), minlength=len(uniques))
                document_counts.update(dict(zip(uniques.tolist(), in_documents.tolist())))
            documents += num_rows
        if not counts:
            raise ValueError(f'adapt() found no {self._kind}s in the data given to layer "{name}"; pass a '
                             f"non-empty array, list or iterable of batches.")
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens:
            ranked = ranked[:max(self.max_tokens - self._token_start_index(), 0)]
        self._set_tokens([token for token, _ in ranked])
        if self.output_mode == "tf_idf":
            frequency = np.array([document_counts[token] for token, _ in ranked], dtype="float64")
            idf = np.log(1.0 + documents / (1.0 + frequency)).astype("float32")
            front = np.full(self._token_start_index(), idf.mean() if len(idf) else 0.0, dtype="float32")
            self._idf = self._padded_idf(np.concatenate([front, idf]))
        self._from_init = False

    def _documents(self, batch):
        """One batch as (its tokens, flat; the document of each token; the number of documents): each row
        (first-axis entry) of a 2-D or higher batch is a document, a 0-D or 1-D batch is one."""
        values = self._values(batch)
        values = values.cpu().numpy() if torch.is_tensor(values) else values
        values = values.reshape(1, -1) if values.ndim <= 1 else \
            values.reshape(len(values), int(np.prod(values.shape[1:])))
        rows = np.repeat(np.arange(len(values)), values.shape[1])
        return values.reshape(-1), rows, len(values)

    # ------------------------------------------------------------------------------------------------------ call
    def call(self, inputs):
        if self.invert:
            return self._invert(inputs)
        return self._encode(self._lookup(self._values(inputs)))

    def _lookup(self, values):
        """int64 indices of `values` (mask -> 0 in int mode, -1 otherwise, to be dropped)."""
        indices, oov = self._indices(values)
        if self.num_oov_indices == 0 and bool(oov.any()):  # one host read, only when unknown tokens are errors
            unknown = values[oov] if torch.is_tensor(values) else values[oov.cpu().numpy()]
            found = np.unique(unknown.cpu().numpy() if torch.is_tensor(unknown) else unknown).tolist()
            raise ValueError(f"With num_oov_indices=0 every input must be in the vocabulary; found out-of-vocabulary "
                             f"values {found[:10]}. Set num_oov_indices=1 to map them to an OOV index.")
        return indices

    def _encode(self, indices):
        """Indices (-1 for nothing) as the output mode asks: unchanged for "int", else vectors of the vocabulary."""
        if self.output_mode == "int":
            return indices
        if not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise RuntimeError(f"With output_mode={self.output_mode!r} and pad_to_max_tokens=False the layer needs "
                               "its vocabulary before it is called: pass `vocabulary` or call adapt() first.")
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        dtype = self._dtype if self._dtype.is_floating_point else config.standardize_dtype()
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        encoded = encode_categories(indices, mode, depth, dtype)
        return encoded * self._table("idf", encoded.device) if self.output_mode == "tf_idf" else encoded

    def _indices(self, values):
        """`_lookup`'s indices, and where the OOV tokens are."""
        keys, positions = self._table("lookup", self._device_of(values))
        found, indices = self._search(keys, positions, values)
        masked = self._equal(values, self.mask_token)
        oov = ~found & ~masked
        if self.num_oov_indices > 1:
            indices = torch.where(oov, self._oov_bucket(values) + self._oov_start_index(), indices)
        else:
            indices = torch.where(oov, self._oov_start_index() if self.num_oov_indices else -1, indices)
        if self.mask_token is not None:
            indices = torch.where(masked, 0 if self.output_mode == "int" else -1, indices)
        return indices, oov

    def _table(self, which, device):
        """The lookup (sorted keys, their indices), invert or IDF table on `device`, made once per device."""
        key = (which, device)
        if key not in self._tables:
            with torch.inference_mode(False):
                self._tables[key] = self._make_table(which, device)
        return self._tables[key]

    def _make_table(self, which, device):
        if which == "idf":
            if self._idf is None:
                raise ValueError("output_mode='tf_idf' needs IDF weights: call adapt() or pass `idf_weights`.")
            return torch.from_numpy(self._idf).to(device)
        order = np.argsort(self._key_array(self._tokens), kind="stable")
        keys = self._key_array(self._tokens)[order]
        positions = order.astype(np.int64) + self._token_start_index()
        return self._to_device(keys, device), torch.from_numpy(positions).to(device)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "one_hot":
            keep = input_shape[:-1] if len(input_shape) > 1 and input_shape[-1] == 1 else input_shape
            return keep + (depth,)
        return input_shape[:-1] + (depth,)

    def compute_output_spec(self, inputs):
        dtype = torch.int64 if self.output_mode == "int" else config.standardize_dtype()
        if self.invert and self.vocabulary_dtype == "string":
            raise ValueError("StringLookup(invert=True) returns strings, which a symbolic model cannot carry; apply "
                             "it to the model's predictions outside the model.")
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype)

    # ---------------------------------------------------------------------------------------------------- config
    def get_config(self):
        if self._from_init or not self._tokens:
            vocabulary, idf_weights = self.input_vocabulary, self.input_idf_weights
        else:
            vocabulary = self.get_vocabulary()
            idf_weights = None if self._idf is None else self._idf[:len(vocabulary)].tolist()
        result = {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                  "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                  "mask_token": self.mask_token, "output_mode": self.output_mode, "sparse": False,
                  "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary_dtype": self.vocabulary_dtype,
                  "idf_weights": idf_weights, "vocabulary": vocabulary, "vocabulary_size": self._frozen_vocab_size,
                  "oov_method": self.oov_method, "salt": self.salt}
        if vocabulary is not None and not self._has_input_vocabulary:
            result["has_input_vocabulary"] = False  # a learnt vocabulary: the rebuilt layer may adapt again
        return result


def _check_arguments(max_tokens, pad_to_max_tokens, num_oov_indices, invert, output_mode, sparse, idf_weights):
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 1):
        raise ValueError(f"If set, `max_tokens` must be an integer greater than 1. Received: max_tokens={max_tokens}")
    if pad_to_max_tokens and max_tokens is None:
        raise ValueError("pad_to_max_tokens=True pads the outputs to `max_tokens`, so it needs max_tokens set. "
                         "Received: max_tokens=None")
    if not isinstance(num_oov_indices, int) or num_oov_indices < 0:
        raise ValueError(f"`num_oov_indices` must be a non-negative integer. Received: "
                         f"num_oov_indices={num_oov_indices!r}")
    if invert and output_mode != "int":
        raise ValueError(f"invert=True maps indices back to tokens, which needs output_mode='int'. Received: "
                         f"output_mode={output_mode!r}")
    if sparse:
        raise ValueError("Sparse outputs are not supported; pass sparse=False.")
    if idf_weights is not None and output_mode != "tf_idf":
        raise ValueError(f"`idf_weights` is only used with output_mode='tf_idf'. Received: output_mode="
                         f"{output_mode!r}")


def _plain(value):
    """Lists, arrays and tensors as JSON-safe (nested) lists of Python values."""
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value


def _is_path(vocabulary):
    return isinstance(vocabulary, (str, os.PathLike))


def _adapt_batches(data, batch_size=None, steps=None):
    """The batches `adapt` learns from: an array, list or tensor (a 1-D one as one token per row), split into
    `batch_size` rows if given, or the inputs of each batch of an iterable (at most `steps` of them)."""
    if isinstance(data, (str, bytes)) or isinstance(data, (list, tuple, np.ndarray)) or torch.is_tensor(data):
        array = data if torch.is_tensor(data) else np.asarray(data, dtype=object if is_string_data(data) else None)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if batch_size is None:
            yield array
            return
        for start in range(0, len(array), int(batch_size)):
            yield array[start:start + int(batch_size)]
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(f"adapt() expects an array, a list or an iterable of batches; received "
                        f"{type(data).__name__}.")
    for index, batch in enumerate(data):
        if steps is not None and index >= steps:
            return
        yield _first_of(batch)


class StringLookup(IndexLookup):
    """Maps strings to integer indices from a vocabulary (given, or learnt with `adapt`), or back with `invert=True`.

    Indices: `0` is the mask (when `mask_token` is set, in `"int"` mode), then `num_oov_indices` out-of-vocabulary
    slots (several: tokens are spread over them by FarmHash64), then the vocabulary, most frequent first.

    Arguments:
        max_tokens: the largest vocabulary size, special slots included (None: no limit).
        num_oov_indices: OOV slots (0: unknown tokens raise an error).
        mask_token: the token that means "nothing here" (index 0 in int mode, dropped in the other modes).
        oov_token: the token `invert=True` returns for OOV indices.
        vocabulary: a list, array or path of a text file with one token per line.
        idf_weights: with `output_mode="tf_idf"`, one inverse-document-frequency weight per vocabulary term.
        invert: map indices to tokens (NumPy array of str) instead.
        output_mode: `"int"` (int64 indices), `"one_hot"`, `"multi_hot"`, `"count"` or `"tf_idf"` (float vectors
            as wide as the vocabulary: per token, per sample, counted, or counted times the IDF weight).
        pad_to_max_tokens: make the vectors `max_tokens` wide whatever the vocabulary's size.
        encoding: how bytes inputs are decoded.
        oov_method, salt: as in Keras (`salt` keys SipHash64 for the OOV slots).

    Example:
        >>> layer = deepglass.layers.StringLookup(vocabulary=["a", "b", "c"])
        >>> layer([["a", "c"], ["d", "b"]])
        tensor([[1, 3],
                [0, 2]])
    """

    _kind = "string"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    def _tokens_from(self, values):
        return [v.decode(self.encoding) if isinstance(v, bytes) else str(v) for v in values]

    def _values(self, inputs):
        if torch.is_tensor(inputs):
            raise ValueError(f'StringLookup "{self.name}" expects strings; received a tensor of dtype {inputs.dtype}.'
                             " Pass a list or NumPy array of str (use IntegerLookup for integer ids).")
        return as_string_array(inputs, self.encoding, f'StringLookup "{self.name}"')

    def _key_array(self, tokens):
        return np.array(tokens, dtype=str)

    def _device_of(self, values):
        return output_device(self)

    def _to_device(self, keys, device):
        return keys  # strings stay in NumPy; only the positions become a tensor

    def _search(self, keys, positions, values):
        device = output_device(self)
        if not len(keys):
            return torch.zeros(values.shape, dtype=torch.bool, device=device), \
                torch.zeros(values.shape, dtype=torch.int64, device=device)
        where = np.asarray(np.minimum(np.searchsorted(keys, values), len(keys) - 1))
        found = torch.from_numpy(np.asarray(keys[where] == values)).to(device)
        return found, positions[torch.from_numpy(where).to(device)]

    def _equal(self, values, token):
        if token is None:
            return torch.zeros(values.shape, dtype=torch.bool, device=output_device(self))
        return torch.from_numpy(np.asarray(values == str(token))).to(output_device(self))

    def _oov_bucket(self, values):
        return torch.from_numpy(hash_array(values, self.num_oov_indices, self.salt)).to(output_device(self))

    def _invert(self, inputs):
        indices = inputs.detach().cpu().numpy() if torch.is_tensor(inputs) else np.asarray(inputs)
        table = np.array(self.get_vocabulary(), dtype=object)
        table[self._oov_start_index():self._token_start_index()] = self.oov_token
        inside = (indices >= 0) & (indices < len(table))
        out = np.where(inside, table[np.where(inside, indices, 0)] if len(table) else self.oov_token, self.oov_token)
        return out.astype(str)

    def get_config(self):
        result = super().get_config()
        del result["vocabulary_dtype"]  # strings are the only choice, as in Keras's config
        return {**result, "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Maps integer ids to contiguous indices from a vocabulary (given, or learnt with `adapt`), or back with
    `invert=True`.

    Tensor inputs stay on their device: the lookup is a `torch.searchsorted` over the sorted vocabulary.
    Indices: `0` is the mask (when `mask_token` is set, in `"int"` mode), then `num_oov_indices` out-of-vocabulary
    slots (several: `id % num_oov_indices`, or FarmHash64 with `oov_method="farmhash"`), then the vocabulary, most
    frequent first.

    Arguments:
        max_tokens: the largest vocabulary size, special slots included (None: no limit).
        num_oov_indices: OOV slots (0: unknown ids raise an error).
        mask_token: the id that means "nothing here" (index 0 in int mode, dropped in the other modes).
        oov_token: the id `invert=True` returns for OOV indices (default -1).
        vocabulary: a list, array, tensor or path of a text file with one id per line.
        vocabulary_dtype: "int64" (the only choice).
        idf_weights: with `output_mode="tf_idf"`, one inverse-document-frequency weight per vocabulary term.
        invert: map indices to ids instead.
        output_mode: `"int"` (int64 indices), `"one_hot"`, `"multi_hot"`, `"count"` or `"tf_idf"` (float vectors).
        pad_to_max_tokens: make the vectors `max_tokens` wide whatever the vocabulary's size.
        oov_method: `"floormod"` (`id % num_oov_indices`) or `"farmhash"`; salt: keys SipHash64 for "farmhash".

    Example:
        >>> layer = deepglass.layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
        >>> layer(torch.tensor([[12, 1138, 42], [42, 1000, 36]]))
        tensor([[1, 3, 4],
                [4, 0, 2]])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"Only vocabulary_dtype='int64' is supported. Received: "
                             f"vocabulary_dtype={vocabulary_dtype!r}")
        if invert and oov_token is None:
            raise ValueError("invert=True needs an `oov_token` to return for OOV indices; pass e.g. oov_token=-1.")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=None if mask_token is None else int(mask_token),
                         oov_token=None if oov_token is None else int(oov_token), vocabulary=vocabulary,
                         vocabulary_dtype=vocabulary_dtype, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse, pad_to_max_tokens=pad_to_max_tokens,
                         oov_method=oov_method, salt=salt, name=name, **kwargs)

    def _tokens_from(self, values):
        try:
            return [int(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"IntegerLookup's vocabulary must hold integers; received {list(values)[:5]}...") \
                from None

    def _values(self, inputs):
        if is_string_data(inputs):
            raise ValueError(f'IntegerLookup "{self.name}" expects integers; received strings. Use StringLookup '
                             "for string tokens.")
        values = inputs if torch.is_tensor(inputs) else torch.as_tensor(np.asarray(inputs))
        return values.to(torch.int64)  # float ids (a model's default float Input) truncate, as Keras casts them

    def _key_array(self, tokens):
        return np.array(tokens, dtype=np.int64)

    def _device_of(self, values):
        return values.device

    def _to_device(self, keys, device):
        return torch.from_numpy(keys).to(device)

    def _search(self, keys, positions, values):
        if not len(keys):
            return torch.zeros_like(values, dtype=torch.bool), torch.zeros_like(values)
        where = torch.searchsorted(keys, values).clamp_max(len(keys) - 1)
        return keys[where] == values, positions[where]

    def _equal(self, values, token):
        return torch.zeros_like(values, dtype=torch.bool) if token is None else values == token

    def _oov_bucket(self, values):
        if self.oov_method == "floormod":
            return torch.remainder(values, self.num_oov_indices)
        return hash_integers(values, self.num_oov_indices, self.salt)

    def _invert(self, inputs):
        indices = self._values(inputs)
        table = self._table("invert", indices.device)
        inside = (indices >= 0) & (indices < len(table))
        return torch.where(inside, table[indices.clamp(0, max(len(table) - 1, 0))], self.oov_token)

    def _make_table(self, which, device):
        if which != "invert":
            return super()._make_table(which, device)
        table = torch.tensor(self.get_vocabulary() or [self.oov_token], dtype=torch.int64, device=device)
        table[self._oov_start_index():self._token_start_index()] = self.oov_token
        return table
