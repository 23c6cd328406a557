"""Writes are atomic: a process killed (SIGKILL) in the middle of `save` leaves the previous file whole and
loadable; a failed write leaves nothing behind."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import deepglass

pytest.importorskip("h5py")

CHILD = textwrap.dedent("""
    import sys, time, zipfile
    import deepglass
    path, ready = sys.argv[1], sys.argv[2]
    deepglass.config.set_random_seed(123)
    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3), deepglass.layers.Dense(2)])
    original = zipfile.ZipFile.writestr

    def slow_writestr(self, name, data, *args, **kwargs):
        original(self, name, data, *args, **kwargs)
        open(ready, "w").close()  # half the archive is written: tell the parent, then stall
        time.sleep(60)

    zipfile.ZipFile.writestr = slow_writestr
    model.save(path)
""")


def make():
    return deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3), deepglass.layers.Dense(2)])


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_during_save_leaves_the_previous_file_intact(tmp_path):
    path, ready = tmp_path / "model.keras", tmp_path / "ready"
    model = make()
    model.save(path)
    before = path.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, "the child process ended before it started writing"
            assert time.monotonic() < deadline, "the child process never started writing"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers and all(name.startswith(".model.keras.") for name in leftovers)  # the write was cut short
    restored = deepglass.saving.load_model(path)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_failed_save_keeps_the_old_file_and_removes_its_temporary(tmp_path, monkeypatch):
    path = tmp_path / "w.weights.h5"
    model = make()
    model.save_weights(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(deepglass.saving.weights_h5.h5_io, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        make().save_weights(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.weights.h5"]


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
