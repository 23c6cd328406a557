"""The pickle reader builds plain data and NumPy arrays, exactly as pickle would, and refuses everything else."""
import io
import os
import pickle

import numpy as np
import pytest

from deepglass.datasets._safe_pickle import UnsafePickleError, load_npz, loads
from tests.datasets.formats import py2_pickle

SAMPLES = [
    {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2, 300, 70000], "text": "héllo",
     "float": 1.5, "big": 2 ** 70, "negative": -5, "tuple": (1, (2, 3)), "none": None, "bool": True},
    np.array([[1, 2], [3]], dtype=object),
    np.array([[1, 2], [3, 4]] + [[5]], dtype=object),
    np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
    np.array([True, False]),
    np.array([1 + 2j, 3.5]),
    np.linspace(0, 1, 5, dtype=np.float32),
    [np.arange(3)] * 2,
    (np.arange(3, dtype=">f8"), {"nested": [np.arange(2, dtype=np.int16)]}),
]


def _same(ours, expected):
    if isinstance(expected, np.ndarray):
        assert type(ours) is np.ndarray and ours.dtype == expected.dtype and ours.shape == expected.shape
        assert ours.flags.f_contiguous == expected.flags.f_contiguous and ours.flags.writeable
        if expected.dtype.hasobject:
            for a, b in zip(ours.flat, expected.flat):
                _same(a, b)
        else:
            np.testing.assert_array_equal(ours, expected)
    elif isinstance(expected, (dict, list, tuple)):
        assert type(ours) is type(expected) and len(ours) == len(expected)
        pairs = zip(ours.items(), expected.items()) if isinstance(expected, dict) else zip(ours, expected)
        for a, b in pairs:
            _same(a, b)
    else:
        assert type(ours) is type(expected) and ours == expected


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_reads_what_pickle_reads(index, protocol):
    data = pickle.dumps(SAMPLES[index], protocol=protocol)
    _same(loads(data), pickle.loads(data, encoding="bytes"))


def test_reads_python2_cifar_style_pickles():
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": [6, 9, 300],
             b"data": np.arange(3 * 3072, dtype=np.uint32).astype(np.uint8).reshape(3, 3072), b"filenames": [b"a"]}
    data = py2_pickle(batch)
    _same(loads(data), pickle.loads(data, encoding="bytes"))


class _Shell:
    def __reduce__(self):
        return os.system, ("echo unsafe",)


class _Plain:
    pass


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("payload", [_Shell(), _Plain(), {b"data": [_Plain()]}, eval, np.float64(1.0)])
def test_refuses_classes_functions_and_calls(payload, protocol):
    with pytest.raises(UnsafePickleError, match="Refusing to load"):
        loads(pickle.dumps(payload, protocol=protocol))


def test_refuses_structured_dtypes_and_calls_to_ndarray():
    with pytest.raises(UnsafePickleError, match="Refusing the array type"):
        loads(pickle.dumps(np.zeros(2, dtype=[("a", "i4")])))
    with pytest.raises(UnsafePickleError, match="ndarray directly"):
        loads(b"\x80\x02cnumpy\nndarray\n(K\x02tR.")


def test_array_data_of_the_wrong_size_is_reported():
    good = pickle.dumps(np.arange(4, dtype=np.uint8), protocol=3)
    bad = good.replace(b"C\x04\x00\x01\x02\x03", b"C\x03\x00\x01\x02")
    assert bad != good
    with pytest.raises(UnsafePickleError, match="needs 4 bytes"):
        loads(bad)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_pickles_are_reported(fraction):
    data = pickle.dumps(SAMPLES[0], protocol=2)
    with pytest.raises(UnsafePickleError, match="truncated"):
        loads(data[:int(len(data) * fraction)])


def test_npz_with_ragged_sequences_and_numbers():
    sequences = np.empty(3, dtype=object)
    sequences[:] = [[1, 2], [3], [4, 5, 6]]
    buffer = io.BytesIO()
    np.savez(buffer, x=sequences, y=np.array([0, 1, 1]))
    buffer.seek(0)
    arrays = load_npz(buffer)
    assert [list(s) for s in arrays["x"]] == [[1, 2], [3], [4, 5, 6]]
    np.testing.assert_array_equal(arrays["y"], [0, 1, 1])
