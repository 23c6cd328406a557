"""Atomic writes: overwrite=False, and fsync of the data and of the rename. A kill or a full disk in the middle
of a write is in tests/hardening/test_faults.py."""
import os

import pytest

import deepglass

pytest.importorskip("h5py")


def make():
    return deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3), deepglass.layers.Dense(2)])


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    path = tmp_path / "m.keras"
    make().save(path)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        make().save(path, overwrite=False)


@pytest.mark.real_fsync
def test_the_data_and_the_rename_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    make().save(tmp_path / "m.keras")
    assert len(synced) == 2  # the temporary file before the rename, the folder after it
