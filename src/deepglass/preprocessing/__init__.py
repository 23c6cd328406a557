"""Keras's `keras.preprocessing` namespace: `preprocessing.sequence.pad_sequences`."""
from deepglass.preprocessing import sequence

__all__ = ["sequence"]
