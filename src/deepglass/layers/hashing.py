"""Hashing: strings and integers to bins with FarmHash64 (or keyed SipHash64), the hashes Keras's layer uses.

Also the helpers every string-taking preprocessing layer shares: string inputs (lists, nested lists, NumPy arrays
of str, bytes or objects) become NumPy arrays of str, and such layers take them in eager calls without the tensor
conversion other layers apply.
"""
import functools
import struct

import numpy as np
import torch

from deepglass import config, naming
from deepglass.layers.layer import Layer
from deepglass.layers.preprocessing import encode_categories, encoded_shape
from deepglass.layers.symbolic import KerasTensor

_MASK64 = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _rotate(value, shift):
    return value if shift == 0 else ((value >> shift) | (value << (64 - shift))) & _MASK64


def _shift_mix(value):
    return value ^ (value >> 47)


def _hash_len16(u, v, mul=0x9DDFEA08EB382D69):
    a = ((u ^ v) * mul) & _MASK64
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK64
    b ^= b >> 47
    return (b * mul) & _MASK64


def _fetch64(data, at):
    return struct.unpack_from("<Q", data, at)[0]


def _fetch32(data, at):
    return struct.unpack_from("<I", data, at)[0]


def _hash_len0to16(s, n):
    if n >= 8:
        mul = _K2 + n * 2
        a = (_fetch64(s, 0) + _K2) & _MASK64
        b = _fetch64(s, n - 8)
        c = (_rotate(b, 37) * mul + a) & _MASK64
        d = ((_rotate(a, 25) + b) * mul) & _MASK64
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = _K2 + n * 2
        return _hash_len16(n + (_fetch32(s, 0) << 3), _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _MASK64) * _K2) & _MASK64
    return _K2


def _hash_len17to32(s, n):
    mul = _K2 + n * 2
    a = (_fetch64(s, 0) * _K1) & _MASK64
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK64
    d = (_fetch64(s, n - 16) * _K2) & _MASK64
    return _hash_len16((_rotate((a + b) & _MASK64, 43) + _rotate(c, 30) + d) & _MASK64,
                       (a + _rotate((b + _K2) & _MASK64, 18) + c) & _MASK64, mul)


def _hash_len33to64(s, n):
    mul = _K2 + n * 2
    a = (_fetch64(s, 0) * _K2) & _MASK64
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK64
    d = (_fetch64(s, n - 16) * _K2) & _MASK64
    y = (_rotate((a + b) & _MASK64, 43) + _rotate(c, 30) + d) & _MASK64
    z = _hash_len16(y, (a + _rotate((b + _K2) & _MASK64, 18) + c) & _MASK64, mul)
    e = (_fetch64(s, 16) * mul) & _MASK64
    f = _fetch64(s, 24)
    g = ((y + _fetch64(s, n - 32)) * mul) & _MASK64
    h = ((z + _fetch64(s, n - 24)) * mul) & _MASK64
    return _hash_len16((_rotate((e + f) & _MASK64, 43) + _rotate(g, 30) + h) & _MASK64,
                       (e + _rotate((f + a) & _MASK64, 18) + g) & _MASK64, mul)


def _weak_hash_len32(s, at, a, b):
    w, x, y, z = struct.unpack_from("<4Q", s, at)
    a = (a + w) & _MASK64
    b = _rotate((b + a + z) & _MASK64, 21)
    c = a
    a = (a + x + y) & _MASK64
    b = (b + _rotate(a, 44)) & _MASK64
    return (a + z) & _MASK64, (b + c) & _MASK64


def farmhash64(data):
    """FarmHash's `Fingerprint64` of `data` (bytes): the stable 64-bit hash TensorFlow's `Fingerprint64` and
    Keras's `Hashing` use, the same on every platform."""
    n = len(data)
    if n <= 16:
        return _hash_len0to16(data, n)
    if n <= 32:
        return _hash_len17to32(data, n)
    if n <= 64:
        return _hash_len33to64(data, n)
    x, y = 81, (81 * _K1 + 113) & _MASK64
    z = (_shift_mix((y * _K2 + 113) & _MASK64) * _K2) & _MASK64
    v, w = (0, 0), (0, 0)
    x = (x * _K2 + _fetch64(data, 0)) & _MASK64
    last64 = (n - 1) // 64 * 64 + ((n - 1) & 63) - 63
    for at in range(0, (n - 1) // 64 * 64, 64):
        x = (_rotate((x + y + v[0] + _fetch64(data, at + 8)) & _MASK64, 37) * _K1) & _MASK64
        y = (_rotate((y + v[1] + _fetch64(data, at + 48)) & _MASK64, 42) * _K1) & _MASK64
        x ^= w[1]
        y = (y + v[0] + _fetch64(data, at + 40)) & _MASK64
        z = (_rotate((z + w[0]) & _MASK64, 33) * _K1) & _MASK64
        v = _weak_hash_len32(data, at, (v[1] * _K1) & _MASK64, (x + w[0]) & _MASK64)
        w = _weak_hash_len32(data, at + 32, (z + w[1]) & _MASK64, (y + _fetch64(data, at + 16)) & _MASK64)
        z, x = x, z
    mul = _K1 + ((z & 0xFF) << 1)
    w = ((w[0] + ((n - 1) & 63)) & _MASK64, w[1])
    v = ((v[0] + w[0]) & _MASK64, v[1])
    w = ((w[0] + v[0]) & _MASK64, w[1])
    at = last64
    x = (_rotate((x + y + v[0] + _fetch64(data, at + 8)) & _MASK64, 37) * mul) & _MASK64
    y = (_rotate((y + v[1] + _fetch64(data, at + 48)) & _MASK64, 42) * mul) & _MASK64
    x ^= (w[1] * 9) & _MASK64
    y = (y + v[0] * 9 + _fetch64(data, at + 40)) & _MASK64
    z = (_rotate((z + w[0]) & _MASK64, 33) * mul) & _MASK64
    v = _weak_hash_len32(data, at, (v[1] * mul) & _MASK64, (x + w[0]) & _MASK64)
    w = _weak_hash_len32(data, at + 32, (z + w[1]) & _MASK64, (y + _fetch64(data, at + 16)) & _MASK64)
    z, x = x, z
    return _hash_len16((_hash_len16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _MASK64,
                       (_hash_len16(v[1], w[1], mul) + x) & _MASK64, mul)


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _MASK64
    v1 = _rotate(v1, 64 - 13) ^ v0
    v0 = _rotate(v0, 64 - 32)
    v2 = (v2 + v3) & _MASK64
    v3 = _rotate(v3, 64 - 16) ^ v2
    v0 = (v0 + v3) & _MASK64
    v3 = _rotate(v3, 64 - 21) ^ v0
    v2 = (v2 + v1) & _MASK64
    v1 = _rotate(v1, 64 - 17) ^ v2
    v2 = _rotate(v2, 64 - 32)
    return v0, v1, v2, v3


def siphash64(key, data):
    """SipHash-2-4 of `data` (bytes) with the 128-bit `key` given as two 64-bit words: the keyed hash of TensorFlow's
    `StrongKeyedHash` (Keras's `Hashing` with a `salt`)."""
    k0, k1 = (int(k) & _MASK64 for k in key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]
    n = len(data)
    tail = data[n - n % 8:] + bytes(7 - n % 8) + bytes([n & 0xFF])
    words = struct.unpack(f"<{n // 8}Q", data[:n - n % 8]) + struct.unpack("<Q", tail)
    for m in words:
        v[3] ^= m
        v = list(_sip_round(*_sip_round(*v)))
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4):
        v = list(_sip_round(*v))
    return v[0] ^ v[1] ^ v[2] ^ v[3]


@functools.lru_cache(maxsize=1 << 16)
def hash_bucket(value, num_buckets, salt=None):
    """The bucket of `value` (a str, encoded as UTF-8, or bytes) in `[0, num_buckets)`, as TensorFlow's
    `to_hash_bucket_fast` (FarmHash64) or, with `salt` (two integers), `to_hash_bucket_strong` (SipHash64)."""
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return (farmhash64(data) if salt is None else siphash64(salt, data)) % num_buckets


def hash_array(values, num_buckets, salt=None):
    """`hash_bucket` of every element of the NumPy array `values` (of str), as an int64 array; each distinct value is
    hashed once."""
    uniques, inverse = np.unique(values, return_inverse=True)
    salt = None if salt is None else tuple(salt)
    buckets = np.array([hash_bucket(str(u), num_buckets, salt) for u in uniques], dtype=np.int64)
    return buckets[inverse.reshape(-1)].reshape(values.shape)


def hash_integers(values, num_buckets, salt=None):
    """`hash_bucket` of the decimal text of every integer in the tensor `values` (as TensorFlow's `as_string` then
    hash), on `values`' device; each distinct value is hashed once on the host."""
    uniques, inverse = torch.unique(values, return_inverse=True)
    salt = None if salt is None else tuple(salt)
    buckets = [hash_bucket(str(u), num_buckets, salt) for u in uniques.tolist()]
    return torch.tensor(buckets, dtype=torch.int64, device=values.device)[inverse]


# ------------------------------------------------------------------------------------------------- string inputs
def is_string_data(value):
    """True for a str or bytes, a (nested) list of them, or a NumPy array of str, bytes or objects."""
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "USO"
    if isinstance(value, (list, tuple)):
        return bool(value) and is_string_data(value[0])
    return False


def as_string_array(value, encoding="utf-8", who="This layer"):
    """`value` (str, bytes, nested lists, or a NumPy array of str, bytes or objects) as a NumPy array of str."""
    array = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=object)
    if array.dtype.kind == "U":
        return array
    if array.dtype.kind == "S":
        return np.char.decode(array, encoding)
    if array.dtype.kind == "O":
        flat = [v.decode(encoding) if isinstance(v, bytes) else v for v in array.reshape(-1).tolist()]
        if all(isinstance(v, str) for v in flat):
            return np.array(flat, dtype=str).reshape(array.shape)
    raise ValueError(f"{who} expects strings (a str, a list of str, or a NumPy array of str); received an array of "
                     f"dtype {array.dtype} with shape {array.shape}. Pass the text as strings.")


def output_device(layer):
    """Where a string layer puts the tensors it makes: the device the layer was moved to (`model.to(device)`)."""
    return layer._device_marker.device


class StringInputLayer(Layer):
    """A layer that takes NumPy string arrays and lists of strings as they are (other layers turn arrays into
    tensors first), and whose outputs go to the device the layer lives on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Strings have no device: an empty buffer follows the layer through `.to(device)` and says where to put the
        # tensors made from strings; it holds nothing, so saving and memory estimates are unaffected.
        self.register_buffer("_device_marker", torch.empty(0), persistent=False)

    _takes_strings = True


_MODES = ("int", "one_hot", "multi_hot", "count")


class Hashing(StringInputLayer):
    """Hashes strings or integers into `num_bins` bins: `bin = FarmHash64(str(value)) % num_bins`.

    Integers (and floats, truncated to integers) are hashed as their decimal text, as Keras does, so `3` and `"3"`
    land in the same bin. The bins equal Keras's for the same inputs: FarmHash64 (TensorFlow's `Fingerprint64`)
    without a salt, SipHash-2-4 keyed by the salt with one, both computed here on the host with each distinct value
    hashed once (tensor inputs come back on their own device).

    Arguments:
        num_bins: the number of bins, including the mask bin when `mask_value` is set.
        mask_value: a value that maps to bin 0 (the others then hash into bins 1 to `num_bins - 1`); None for none.
        salt: an integer or two integers keying SipHash64 instead of FarmHash64, to make the bins unguessable.
        output_mode: `"int"` (bin ids, int64), `"one_hot"`, `"multi_hot"` or `"count"` (float vectors of
            `num_bins`).
        sparse: must be False (sparse outputs are not supported).

    Example:
        >>> deepglass.layers.Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).flatten()
        tensor([1, 0, 1, 1, 2])
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        output_mode = naming.lookup("output_mode", output_mode, {m: m for m in _MODES})
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else config.floatx()
        super().__init__(**kwargs)
        if not isinstance(num_bins, int) or isinstance(num_bins, bool) or num_bins <= 0:
            raise ValueError(f"Received an invalid value for `num_bins`, expected a positive integer. "
                             f"Received: num_bins={num_bins!r}")
        if output_mode == "int" and self._dtype not in (torch.int32, torch.int64):
            raise ValueError(f'With output_mode="int", `dtype` must be "int32" or "int64". Received: '
                             f"dtype={self.dtype}")
        if sparse:
            raise ValueError("Hashing does not support sparse outputs; pass sparse=False.")
        self.num_bins, self.mask_value, self.output_mode = num_bins, mask_value, output_mode
        self.salt = _as_salt(salt)

    def call(self, inputs):
        if is_string_data(inputs):
            values = as_string_array(inputs, who=f'Hashing "{self.name}"')
            indices = torch.from_numpy(self._bins_of_strings(values)).to(output_device(self))
        else:
            indices = self._bins_of_numbers(torch.as_tensor(inputs))
        if self.output_mode == "int":
            return indices.to(self._dtype)
        return encode_categories(indices, self.output_mode, self.num_bins, self._dtype)

    def _bins(self):
        return self.num_bins - 1 if self.mask_value is not None and self.num_bins > 1 else self.num_bins

    def _bins_of_strings(self, values):
        bins = hash_array(values, self._bins(), self.salt)
        if self._bins() == self.num_bins:
            return bins
        return np.where(values == str(self.mask_value), 0, bins + 1)

    def _bins_of_numbers(self, values):
        as_int = values if not values.is_floating_point() else values.to(torch.int64)
        bins = hash_integers(as_int.to(torch.int64), self._bins(), self.salt)
        if self._bins() == self.num_bins:
            return bins
        return torch.where(values == self.mask_value, 0, bins + 1)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_bins)

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(inputs.shape), self._dtype)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                "output_mode": self.output_mode, "sparse": False}


def _as_salt(salt):
    """Keras's `salt`: None, one integer (used for both key words) or two integers, as a list."""
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(isinstance(s, int) for s in salt):
        return [int(s) for s in salt]
    if isinstance(salt, int) and not isinstance(salt, bool):
        return [salt, salt]
    raise ValueError(f"`salt` must be an integer or a pair of integers. Received: salt={salt!r}")
