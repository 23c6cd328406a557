"""Helpers for the tests of examples/: `load_example(name)` imports `examples/NAME.py` as a module.

Use it as a fixture::

    def test_quick_run(load_example, tmp_path):
        results = load_example("linear_to_mlp").main(["--quick", "--out", str(tmp_path)])

or as a function: ``from tests.examples.conftest import import_example``.
"""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def import_example(name):
    """The module of `examples/NAME.py`, imported once per test session (as `deepglass_examples.NAME`)."""
    module_name = f"deepglass_examples.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = EXAMPLES / f"{name}.py"
    if not path.is_file():
        names = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))
        raise FileNotFoundError(f"No example named {name!r}: expected the file {path}; the examples are {names}.")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, so that dataclasses and pickling inside the script find their module.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


@pytest.fixture
def load_example():
    """The function `import_example(name)`: returns the module of `examples/NAME.py`."""
    return import_example


@pytest.fixture(autouse=True)
def one_thread():
    """One CPU thread: as fast as several for models this small, and much faster when other processes share the
    cores (threads then wait for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
