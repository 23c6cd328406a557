"""Test settings: Keras (the oracle) runs on its torch backend, on the CPU; every test starts with fresh layer
names."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
# The oracle computes on the CPU in full float32, also where a GPU would let it round matrix products (TF32).
os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")

import pytest  # noqa: E402

import deepglass  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_session():
    deepglass.clear_session(free_memory=False)  # a garbage collection before every test would cost minutes
    deepglass.config.set_random_seed(0)
    yield
