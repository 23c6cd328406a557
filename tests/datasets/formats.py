"""Small dataset files in the real formats, written by the tests: npz, gzipped IDX, CIFAR's Python 2 pickles."""
import dataclasses
import gzip
import hashlib
import io
import os
import struct
import tarfile

import numpy as np


def file_hash(path, algorithm="sha256"):
    with open(path, "rb") as file:
        return hashlib.new(algorithm, file.read()).hexdigest()


def trust(monkeypatch, owner, attribute, path, algorithm="sha256", key=None):
    """Make `owner.attribute` (a Resource, or `owner.attribute[key]`) accept the file at `path`: the tests' small
    files cannot have the published checksums."""
    if key is None:
        resource = getattr(owner, attribute)
        monkeypatch.setattr(owner, attribute, dataclasses.replace(resource, hashes=(file_hash(path, algorithm),)))
    else:
        table = getattr(owner, attribute)
        monkeypatch.setitem(table, key, dataclasses.replace(table[key], hashes=(file_hash(path, algorithm),)))


def write_npz(path, **arrays):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, **arrays)  # object arrays (ragged sequences) are stored as pickles, as in Keras's files
    return path


def ragged(rng, count, low, high, vocabulary):
    """An object array of `count` lists of word indices with lengths in [low, high)."""
    out = np.empty(count, dtype=object)
    for i in range(count):
        out[i] = rng.integers(1, vocabulary, size=int(rng.integers(low, high))).tolist()
    return out


def idx_bytes(array):
    """An IDX file of unsigned bytes: magic 0x0000080N (N dimensions), big-endian sizes, then the data."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path, array, mtime=0, level=9):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(gzip.compress(idx_bytes(array), compresslevel=level, mtime=mtime))
    return path


def py2_pickle(value):
    """`value` pickled as Python 2's cPickle did at protocol 2, the format of CIFAR's batches: `str` (here bytes)
    as SHORT_BINSTRING / BINSTRING, and NumPy 1.x arrays as `_reconstruct` + BUILD with the raw bytes."""
    return b"\x80\x02" + _emit(value) + b"."


def _emit(value):
    if isinstance(value, bytes):
        size = b"U" + bytes([len(value)]) if len(value) < 256 else b"T" + struct.pack("<i", len(value))
        return size + value
    if isinstance(value, int):
        if 0 <= value < 256:
            return b"K" + bytes([value])
        return b"M" + struct.pack("<H", value) if 0 <= value < 65536 else b"J" + struct.pack("<i", value)
    if isinstance(value, list):
        return b"](" + b"".join(_emit(item) for item in value) + b"e"
    if isinstance(value, dict):
        return b"}(" + b"".join(_emit(key) + _emit(item) for key, item in value.items()) + b"u"
    if isinstance(value, np.ndarray):
        shape = b"(" + b"".join(_emit(int(n)) for n in value.shape) + b"t"
        dtype = (b"cnumpy\ndtype\n" + _emit(value.dtype.str[1:].encode()) + b"K\x00K\x01\x87R"
                 + b"(K\x03" + _emit(value.dtype.str[:1].encode())
                 + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
        return (b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87R"
                + b"(K\x01" + shape + dtype + b"\x89" + _emit(value.tobytes()) + b"tb")
    raise TypeError(type(value))


def cifar_batch(rng, count, label_keys, num_classes):
    """A CIFAR batch dict as in the real files: bytes keys, uint8 data (n, 3072), labels as lists of ints."""
    batch = {b"batch_label": b"training batch 1 of 5",
             b"data": rng.integers(0, 256, size=(count, 3072), dtype=np.uint8),
             b"filenames": [f"image_{i}.png".encode() for i in range(count)]}
    for key, classes in zip(label_keys, num_classes):
        batch[key.encode()] = rng.integers(0, classes, size=count).tolist()
    return batch


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)
    return path


def write_tar_gz(path, members):
    """A .tar.gz holding `members` ({name in the archive: bytes})."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
