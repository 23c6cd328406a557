"""Sequence utilities from Keras's utils: padding variable-length sequences into one array."""
import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (and cut) sequences of different lengths to one length, giving a `(num_samples, maxlen)` array.

    Shorter sequences are filled with `value`, before them (`padding="pre"`) or after (`"post"`); longer ones
    lose their first (`truncating="pre"`) or last (`"post"`) items. Items may themselves be arrays of one shape,
    which then trails the result's shape.

    Arguments:
        sequences: a list of sequences (lists or arrays of numbers, or of equal-shaped arrays).
        maxlen: the length of every output sequence; the longest sequence's length when `None`.
        dtype: the output's type; `object` or a string type to pad sequences of strings.
        padding: `"pre"` or `"post"`: where shorter sequences are padded.
        truncating: `"pre"` or `"post"`: where longer sequences are cut.
        value: the padding value (a string for string or object dtypes).

    Returns a NumPy array of shape `(len(sequences), maxlen) + item_shape`.

    Example:
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2)
    array([[0, 1],
           [2, 3],
           [5, 6]], dtype=int32)
    """
    for name, choice in (("padding", padding), ("truncating", truncating)):
        if choice not in ("pre", "post"):
            raise ValueError(f'Received an invalid value for `{name}`, expected "pre" or "post". '
                             f"Received: {name}={choice!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be a list of sequences. Received an object of type "
                         f"{type(sequences).__name__}.")
    lengths, item_shape = _lengths_and_item_shape(sequences)
    if maxlen is None:
        maxlen = max(lengths, default=0)
    text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not text:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}; use dtype=object "
                         "to pad variable-length strings.")
    padded = np.full((len(sequences), maxlen) + item_shape, value, dtype=dtype)
    for index, sequence in enumerate(sequences):
        if not len(sequence) or not maxlen:
            continue
        kept = np.asarray(sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen], dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {index} is different from "
                             f"expected shape {item_shape}; all items must have the shape of the first one.")
        if padding == "post":
            padded[index, :len(kept)] = kept
        else:
            padded[index, maxlen - len(kept):] = kept
    return padded


def _lengths_and_item_shape(sequences):
    """Each sequence's length, and the shape of the items of the first non-empty one (`()` for numbers)."""
    lengths, item_shape = [], None
    for sequence in sequences:
        try:
            lengths.append(len(sequence))
        except TypeError as error:
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: {sequence!r}") from error
        if item_shape is None and lengths[-1]:
            item_shape = np.asarray(sequence).shape[1:]
    return lengths, item_shape or ()
