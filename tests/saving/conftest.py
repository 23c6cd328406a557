"""Saving tests: fsync (durability across power loss, which no test here observes) would be most of their time."""
import pytest


@pytest.fixture(autouse=True)
def no_fsync(request, monkeypatch):
    if request.node.get_closest_marker("real_fsync"):
        return
    from deepglass.saving import atomic
    monkeypatch.setattr(atomic, "_fsync_file", lambda path: None)
    monkeypatch.setattr(atomic, "_fsync_folder", lambda folder: None)


def pytest_configure(config):
    config.addinivalue_line("markers", "real_fsync: keep fsync in atomic writes")
