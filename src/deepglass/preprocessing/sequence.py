"""Keras's `keras.preprocessing.sequence`: `pad_sequences`, the same function as `deepglass.utils.pad_sequences`."""
from deepglass.utils.sequence import pad_sequences

__all__ = ["pad_sequences"]
