"""deepglass: the Keras API on PyTorch, with insight into training."""
__version__ = "0.1.0"
