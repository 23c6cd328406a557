"""Test settings: Keras (the oracle) runs on its torch backend; every test starts with fresh layer names."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

import deepglass  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_session():
    deepglass.clear_session()
    deepglass.config.set_random_seed(0)
    yield
