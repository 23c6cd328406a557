"""Dtype policies (Keras's `keras.dtype_policies`): `DTypePolicy`, and `get`, `serialize`, `deserialize`.

Example:
    >>> from deepglass import dtype_policies
    >>> dtype_policies.get("mixed_bfloat16")
    <DTypePolicy "mixed_bfloat16">
"""
from deepglass.mixed_precision.policy import DTypePolicy, FloatDTypePolicy, deserialize, get, serialize

__all__ = ["DTypePolicy", "FloatDTypePolicy", "get", "serialize", "deserialize"]
