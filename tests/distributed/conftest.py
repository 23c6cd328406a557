"""The processes these tests launch train on CPUs (see `launching`), so the single-process runs they are compared
with train on the CPU too: a GPU draws shuffles and dropout masks from its own generator."""
import pytest

import deepglass


@pytest.fixture(scope="package", autouse=True)
def train_on_the_cpu():
    saved = deepglass.config._settings["device"]
    deepglass.config.set_device("cpu")
    yield
    deepglass.config._settings["device"] = saved

