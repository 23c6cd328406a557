"""A pickle reader that builds plain data and NumPy arrays only, for the dataset files that are pickles.

CIFAR's batches are Python pickles, and the IMDB and Reuters archives hold ragged object arrays, which NumPy
stores as pickles. `pickle.load` would call whatever a tampered file names. Here Python's unpickler runs with
every global lookup answered from a short allow-list, each name by a function of this module that checks its
arguments, never by NumPy's own: `numpy._reconstruct` gives an empty array whose state is checked before it is
set (`numpy.ndarray` itself cannot be called), `numpy.dtype` accepts boolean, number and object types only,
`_codecs.encode` accepts latin-1 text only, and `numpy._frombuffer` reads bytes into a number array.
So a file can build numbers, strings, bytes, lists, tuples, dicts and such arrays, and nothing else: any
class, function or extension code it names is refused with `UnsafePickleError` before anything is called.

Strings from Python 2 pickles (`str`) come back as `bytes`, as `pickle.load(f, encoding="bytes")` gives them.
"""
import io
import math
import os
import pickle
import re
import zipfile
import zlib

import numpy as np


class UnsafePickleError(ValueError):
    """A pickle asked for something other than plain data or NumPy arrays, or is truncated or malformed."""


MAX_EXPANSION = 100  # bytes an .npz member may declare per byte it stores, above BOMB_FLOOR_BYTES
BOMB_FLOOR_BYTES = 1 << 20
_TYPESTR = re.compile(r"[biufcO][0-9]+")  # bool, int, uint, float, complex, object: numpy's own dtype pickles


class _Dtype:
    """`numpy.dtype(typestr, align, copy)` as pickled; its byte order arrives with the state (BUILD)."""

    def __init__(self, typestr, align=False, copy=True):
        if isinstance(typestr, bytes):  # Python 2 pickles
            typestr = typestr.decode("ascii", "replace")
        if not isinstance(typestr, str) or not _TYPESTR.fullmatch(typestr):
            raise UnsafePickleError(f"Refusing the array type {typestr!r}: expected a boolean, number or object "
                                    "type such as 'u1', 'i8', 'f4' or 'O8'.")
        self.dtype = np.dtype(typestr)

    def __setstate__(self, state):
        # numpy's dtype state: (version, byte order, subarray, names, fields, elsize, alignment, flags[, metadata])
        if isinstance(state, tuple) and len(state) > 1 and isinstance(state[1], bytes):  # Python 2 pickles
            state = (state[0], state[1].decode("ascii", "replace"), *state[2:])
        if (not isinstance(state, tuple) or len(state) not in (8, 9) or state[1] not in ("<", ">", "|", "=")
                or any(part is not None for part in state[2:5])):
            raise UnsafePickleError(f"Refusing a structured or malformed array type state {state!r:.100}: "
                                    "expected a plain boolean, number or object type.")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


class _Array(np.ndarray):
    """An array made by `_reconstruct`, empty until the unpickler sets its checked state."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickleError(f"Expected an array state (version, shape, dtype, fortran, data), "
                                    f"got {state!r:.100}.")
        shape, dtype, fortran, raw = state[-4:]
        _check_shape(shape)
        if not isinstance(dtype, _Dtype) or not isinstance(fortran, (bool, int)):
            raise UnsafePickleError(f"Expected an array's dtype and order in its state, got {state!r:.100}.")
        count = math.prod(shape)
        if dtype.dtype.hasobject:
            if not isinstance(raw, list) or len(raw) != count:
                raise UnsafePickleError(f"An object array of shape {shape} needs a list of {count} items; the file "
                                        "is truncated or corrupt.")
        elif not isinstance(raw, (bytes, bytearray)) or len(raw) != count * dtype.dtype.itemsize:
            raise UnsafePickleError(f"An array of shape {shape} and type {dtype.dtype} needs "
                                    f"{count * dtype.dtype.itemsize} bytes of data; the file is truncated or corrupt.")
        super().__setstate__((1, shape, dtype.dtype, bool(fortran), raw))


def _check_shape(shape):
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise UnsafePickleError(f"Expected an array shape (a tuple of non-negative integers), got {shape!r:.100}.")
    return shape


def _reconstruct(cls, shape, typecode):
    # numpy pickles an array as `_reconstruct(ndarray, (0,), b"b")`, then sets its state.
    if cls is not _ndarray or typecode not in (b"b", "b"):
        raise UnsafePickleError(f"Refusing to reconstruct {cls!r:.60}: only numpy.ndarray is read.")
    return np.ndarray.__new__(_Array, _check_shape(shape), "b")


def _ndarray(*args):
    raise UnsafePickleError("Refusing to call numpy.ndarray directly: only pickled arrays are read.")


def _dtype(typestr, align=False, copy=True):
    return _Dtype(typestr, align, copy)


def _encode(text, encoding):
    # Python 3 writes bytes at protocols 0-2 as `_codecs.encode(text, "latin1")`.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"Refusing _codecs.encode({text!r:.40}, {encoding!r:.20}): only latin-1 text is "
                                "read.")
    return text.encode("latin1")


def _frombuffer(buffer, dtype, shape, order):
    # numpy's pickles at protocol 5: `_frombuffer(bytes, dtype, shape, order)`.
    if not isinstance(dtype, _Dtype) or dtype.dtype.hasobject or not isinstance(buffer, (bytes, bytearray)):
        raise UnsafePickleError("Refusing numpy _frombuffer with anything but bytes and a number type.")
    count = math.prod(_check_shape(shape))
    if len(buffer) != count * dtype.dtype.itemsize:
        raise UnsafePickleError(f"An array of shape {shape} and type {dtype.dtype} needs "
                                f"{count * dtype.dtype.itemsize} bytes of data; the file is truncated or corrupt.")
    array = np.frombuffer(buffer, dtype.dtype, count).reshape(shape, order="F" if order == "F" else "C")
    return array.copy("K").view(_Array)  # a later BUILD on it goes through the checked __setstate__


_ALLOWED = {
    ("numpy", "ndarray"): _ndarray,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise UnsafePickleError(f"Refusing to load `{module}.{name}` from a dataset file: only plain data and "
                                    "NumPy arrays are read; the file may be corrupt or malicious.")
        return allowed

    def persistent_load(self, pid):
        raise UnsafePickleError("Refusing a persistent reference in a dataset file.")


_LEAVES = frozenset({int, float, complex, bool, str, bytes, bytearray, type(None)})


def _plain(value, done):
    """`value` with each of our arrays as a plain ndarray. `done` maps what was converted (by id) to its result,
    so that shared and self-referring parts stay so; lists of plain values (IMDB's millions of word indices)
    are passed over by a type check that runs in C."""
    if id(value) in done:
        return done[id(value)]
    if isinstance(value, _Array):
        done[id(value)] = array = value.view(np.ndarray)
        if array.dtype.hasobject:
            for index, item in enumerate(array.flat):
                plain = _plain(item, done)
                if plain is not item:
                    array.flat[index] = plain
        return array
    if isinstance(value, (list, tuple)):
        if set(map(type, value)) <= _LEAVES:
            return value
        if isinstance(value, tuple):
            return tuple(_plain(item, done) for item in value)
        done[id(value)] = items = []
        items.extend(_plain(item, done) for item in value)
        return items
    if isinstance(value, dict):
        done[id(value)] = items = {}
        items.update((key, _plain(item, done)) for key, item in value.items())
        return items
    return value


def loads(data):
    """Read a pickle made of plain data and NumPy arrays; raise `UnsafePickleError` for anything else.

    Arguments:
        data: the pickle's bytes.

    Example:
    >>> loads(pickle.dumps({"labels": [1, 2]}))
    {'labels': [1, 2]}
    """
    try:
        return _plain(_Unpickler(io.BytesIO(data), encoding="bytes").load(), {})
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, MemoryError, RecursionError) as error:
        raise UnsafePickleError(f"The pickle is truncated or malformed ({type(error).__name__}: {error}); the "
                                "file is corrupt.") from None


def load_npz(path):
    """Read every array of an `.npz` archive; object arrays (ragged sequences) go through `loads`.

    Before a member is read, its declared size must be within `MAX_EXPANSION` times the bytes it stores (above
    `BOMB_FLOOR_BYTES`: a decompression bomb is refused), and a number array's header must declare exactly the bytes
    that follow it (a header claiming 2**50 elements is refused before anything is allocated).

    Arguments:
        path: the `.npz` file (a path or a binary file object).

    Returns a dict from each member's name (without `.npy`) to its array.
    """
    label = os.fspath(path) if isinstance(path, (str, os.PathLike)) else "the .npz data"
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if info.filename.endswith(".npy")]
            for info in members:
                _check_member_size(info, label)
            return {info.filename[:-4]: _read_npy(archive.read(info), f"{label} ({info.filename})")
                    for info in members}
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise UnsafePickleError(f"{label} is not a complete .npz archive ({error}); the file is truncated or "
                                "corrupt.") from None


def _check_member_size(info, label):
    if info.file_size > BOMB_FLOOR_BYTES and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
        raise UnsafePickleError(f"{label}: the member {info.filename!r} declares {info.file_size} bytes but stores "
                                f"{info.compress_size}; refusing a decompression bomb.")


def _read_npy(data, where):
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except ValueError as error:
        raise UnsafePickleError(f"{where} has no valid .npy header ({error}); the file is corrupt.") from None
    if not dtype.hasobject:
        needed, held = math.prod(shape) * dtype.itemsize, len(data) - stream.tell()
        if needed != held:
            raise UnsafePickleError(f"{where} declares an array of shape {shape} and type {dtype} ({needed} bytes) "
                                    f"but holds {held} bytes; the file is truncated or crafted.")
        stream.seek(0)
        return np.lib.format.read_array(stream, allow_pickle=False)
    try:
        array = loads(data[stream.tell():])
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{where}: {error}") from None
    if not isinstance(array, np.ndarray) or array.shape != shape or not array.dtype.hasobject:
        raise UnsafePickleError(f"{where} promised an object array of shape {shape} and holds something else; the "
                                "file is corrupt.")
    return array
