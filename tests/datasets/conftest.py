"""Every dataset test runs offline with empty, private caches: the deepglass and Keras homes point into a temporary
folder, and the downloader raises the error a machine without network gives."""
import urllib.error

import pytest

from deepglass.datasets import _files


@pytest.fixture(autouse=True)
def offline_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGLASS_HOME", str(tmp_path / "deepglass_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def no_network(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_files, "_open_url", no_network)
    return tmp_path


@pytest.fixture
def deepglass_cache(tmp_path):
    return tmp_path / "deepglass_home" / "datasets"


@pytest.fixture
def keras_cache(tmp_path):
    return tmp_path / "keras_home" / "datasets"


@pytest.fixture(scope="session")
def keras_datasets():
    """Keras's own dataset loaders (the oracle), reading the files the tests give them."""
    pytest.importorskip("keras")
    import importlib
    return lambda name: importlib.import_module(f"keras.src.datasets.{name}")
