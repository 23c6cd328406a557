"""Faults: a process killed while it writes, a full disk, a read-only folder, a resumed run, a NaN loss, a dying
DataLoader worker. Each case runs its training or writing in a forked child (see `forked`), so that the child can be
killed with SIGKILL at a chosen moment, limited to a file size, or stripped of root's permissions.

Moments of a write (every write goes through `deepglass.saving.atomic`): the temporary file has just been created;
half of the new file's bytes are written (the kernel ends the process at that size: RLIMIT_FSIZE with SIGXFSZ at
its default action, which no code can catch, as with SIGKILL); the new file is complete but not yet in place.
"""
import contextlib
import os
import re
import signal
import tempfile
import time
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.callbacks import BackupAndRestore, Callback, ModelCheckpoint, TerminateOnNaN
from deepglass.saving import atomic
from tests.hardening import forked
from tests.saving.test_safety import small_model
from tests.training.test_backup_and_restore import Interrupt

# ------------------------------------------------------------------------------------------------------ writers
X, Y = np.random.default_rng(1).standard_normal((64, 4)).astype("float32"), np.zeros((64, 2), "float32")


def compiled(model=None):
    model = model or small_model()
    model.compile(optimizer="sgd", loss="mse")
    return model


def checkpoint(path, model):
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss")])


def backup(path, model):
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[BackupAndRestore(os.path.dirname(path), 1)])


def interrupted_backup(path, model):
    """The previous backup: a run interrupted after two batches leaves it behind."""
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=2, batch_size=16, verbose=0,
                  callbacks=[BackupAndRestore(os.path.dirname(path), 1), Interrupt(2)])


WRITERS = {  # name -> (file name, write a new version, write the previous version)
    "save .keras": ("m.keras", lambda path, model: model.save(path), None),
    "save .h5": ("m.h5", lambda path, model: model.save(path), None),
    "save_weights .weights.h5": ("w.weights.h5", lambda path, model: model.save_weights(path), None),
    "save_weights .safetensors": ("w.safetensors", lambda path, model: model.save_weights(path), None),
    "save_weights .h5": ("w.h5", lambda path, model: model.save_weights(path), None),
    "ModelCheckpoint": ("ckpt.keras", checkpoint, None),
    "BackupAndRestore": ("backup/latest.backup", backup, interrupted_backup),
}


def previous_file(folder, writer):
    """The file the write will replace, and its bytes."""
    name, write, write_previous = WRITERS[writer]
    path = folder / name
    path.parent.mkdir(exist_ok=True)
    (write_previous or write)(str(path), compiled())
    return path, path.read_bytes()


def assert_previous_file_intact(path, before):
    assert path.read_bytes() == before, f"{path.name} changed"
    for other in path.parent.iterdir():  # a cut-short write leaves at most a hidden temporary
        assert other == path or (other.name.startswith(f".{path.name}.") and other.name.endswith(".tmp")), other
    if path.suffix == ".backup":
        torch.load(path, weights_only=True)
    elif path.name.startswith(("m.", "ckpt")):
        deepglass.saving.load_model(path)
    else:
        small_model().load_weights(path)


def stall_after(module, name, call=1):
    """Make call number `call` of `module.name` stall (for the parent's SIGKILL) once it has done its work."""
    real, calls = getattr(module, name), []

    def stalling(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == call:
            forked.stall()
        return result
    setattr(module, name, stalling)


MOMENTS = ["temporary created", "half written", "written, not in place"]


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_kill_during_a_write_keeps_the_previous_file(tmp_path, writer, moment):
    path, before = previous_file(tmp_path, writer)
    write = WRITERS[writer][1]

    def write_until_killed():
        if moment == "temporary created":
            stall_after(tempfile, "mkstemp")
        elif moment == "written, not in place":
            stall_after(atomic, "_fsync_file")
        write(str(path), compiled())
        return "finished"

    limit = dict(file_size_limit=len(before) // 2, die_at_limit=True) if moment == "half written" else {}
    outcome = forked.run(write_until_killed, **limit)
    expected = signal.SIGXFSZ if moment == "half written" else signal.SIGKILL
    assert outcome.signal == expected, f"the write was not cut short: it {outcome}"
    assert_previous_file_intact(path, before)


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_save_onto_a_full_disk_raises_and_keeps_the_previous_file(tmp_path, writer):
    """The disk fills up halfway through the new file (RLIMIT_FSIZE: writes past it fail with EFBIG)."""
    path, before = previous_file(tmp_path, writer)
    outcome = forked.run(WRITERS[writer][1], str(path), compiled(), file_size_limit=len(before) // 2)
    assert outcome.error_type is not None, f"the save reported success on a full disk: it {outcome}"
    if writer != "BackupAndRestore":  # torch.save reports it as a RuntimeError of its zip writer
        assert outcome.error_type == "OSError" and "File too large" in outcome.error, str(outcome)
    assert_previous_file_intact(path, before)
    assert sorted(os.listdir(path.parent)) == [path.name]  # the temporary is gone too


@pytest.mark.skipif(not forked.as_nobody_possible(), reason="cannot give up root's permissions here")
@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_save_into_a_read_only_folder_raises_and_keeps_the_previous_file(shared_folder, writer):
    path, before = previous_file(shared_folder, writer)
    os.chmod(path.parent, 0o555)  # root ignores this, so the child writes as nobody
    outcome = forked.run(WRITERS[writer][1], str(path), compiled(), as_nobody=True)
    assert outcome.error_type == "PermissionError", f"the save into a read-only folder {outcome}"
    assert_previous_file_intact(path, before)


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_save_under_a_path_that_is_a_file_raises(tmp_path, writer):
    """A folder that cannot be written even by root: the path's parent is a file."""
    (tmp_path / "file").write_bytes(b"not a folder")
    path = tmp_path / "file" / WRITERS[writer][0]
    with pytest.raises((NotADirectoryError, FileExistsError)):
        WRITERS[writer][1](str(path), compiled())
    assert sorted(os.listdir(tmp_path)) == ["file"]


# -------------------------------------------------------------------------------------------------------- resume
class TrainedIds(layers.Layer):
    """Passes on features 1: and records the ids (feature 0) of the samples each training step trains on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, inputs, training=None):
        if self.training if training is None else training:
            self.seen.append(inputs[:, 0].long().tolist())
        return inputs[:, 1:]

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (input_shape[-1] - 1,)


def resumable_model():
    deepglass.config.set_random_seed(3)
    model = deepglass.Sequential([deepglass.Input((7,)), TrainedIds(), layers.Dense(16, activation="relu"),
                                  layers.Dropout(0.3), layers.Dense(16, activation="relu"), layers.Dropout(0.2, seed=5),
                                  layers.Dense(3)])
    model.compile(optimizer=deepglass.optimizers.Adam(deepglass.optimizers.schedules.ExponentialDecay(0.01, 5, 0.7)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def id_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 7)).astype("float32")
    x[:, 0] = np.arange(96)  # each sample's id
    return x, rng.integers(0, 3, 96)


class StallAt(Callback):
    """Stalls for the parent's SIGKILL after `after` training batches."""

    def __init__(self, after):
        super().__init__()
        self.after, self.seen = after, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.after:
            forked.stall()


def train(backup_dir=None, save_freq=1, seed=11, kill_after=None, double_checkpoint=False):
    """Three epochs of six batches (in a forked child); everything a resumed run must repeat, at the end."""
    from deepglass.training import rng_state
    model = resumable_model()
    callbacks = [BackupAndRestore(backup_dir, save_freq, double_checkpoint=double_checkpoint)] if backup_dir else []
    callbacks += [StallAt(kill_after)] if kill_after else []
    x, y = id_data()
    deepglass.config.set_random_seed(seed)  # a resumed run starts from another seed: the backup restores it
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=callbacks)
    return {"weights": model.get_weights(), "optimizer": model.optimizer.state_dict(),
            "iterations": int(model.optimizer.iterations), "learning_rate": float(model.optimizer.learning_rate),
            "rng": rng_state.capture(model), "batches": model.layers[0].seen, "history": history.history}


def assert_same(mine, theirs, where="state"):
    """Bit-identical nested values: tensors and arrays by their bits, the rest by equality."""
    if isinstance(mine, dict):
        assert sorted(mine) == sorted(theirs), where
        for key in mine:
            assert_same(mine[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(mine, (list, tuple)):
        assert len(mine) == len(theirs), where
        for index, (a, b) in enumerate(zip(mine, theirs)):
            assert_same(a, b, f"{where}[{index}]")
    elif torch.is_tensor(mine):
        assert torch.equal(mine, theirs), where
    elif isinstance(mine, np.ndarray):
        np.testing.assert_array_equal(mine, theirs, err_msg=where)
    else:
        assert mine == theirs, f"{where}: {mine!r} != {theirs!r}"


@pytest.fixture(scope="module")
def uninterrupted():
    outcome = forked.run(train)
    assert outcome.error_type is None, str(outcome)
    return outcome.value


def kill_then_resume(backup_dir, kill_after, save_freq=1, double_checkpoint=False, damage=None, in_write=None):
    """Kill a run after `kill_after` batches, or in backup write number `in_write` (complete, not yet in place);
    then run it again. Returns the resumed run's state and the batches the backup it continued from had seen."""
    def train_until_killed():
        if in_write is not None:
            stall_after(atomic, "_fsync_file", call=in_write)
        return train(backup_dir, save_freq, kill_after=kill_after, double_checkpoint=double_checkpoint)
    killed = forked.run(train_until_killed)
    assert killed.signal == signal.SIGKILL, f"training was not killed: it {killed}"
    position = torch.load(os.path.join(backup_dir, "latest.backup"), weights_only=True)
    if damage is not None:
        damage(os.path.join(backup_dir, "latest.backup"))
    resumed = forked.run(train, backup_dir, save_freq, 99, None, double_checkpoint)
    assert resumed.error_type is None, str(resumed)
    return resumed.value, 6 * position["epoch"] + position["step"]


@pytest.mark.parametrize("save_freq, kill_after", [(1, 4), (4, 10), (3, 14), ("epoch", 9), (5, 17), (1, "write")])
def test_resume_after_a_kill_at_any_batch_is_bit_identical(tmp_path, uninterrupted, save_freq, kill_after):
    """Weights, optimizer state (step counter, schedule position), every random generator and the metrics equal
    those of the run that was never killed; the resumed run trains exactly the batches the backup had not seen."""
    if kill_after == "write":
        resumed, done = kill_then_resume(tmp_path / "backup", None, save_freq, in_write=7)
        assert done == 6  # the kill hit the 7th backup's write: the 6th is where the run continues
    else:
        resumed, done = kill_then_resume(tmp_path / "backup", kill_after, save_freq)
    assert_same(resumed["batches"], uninterrupted["batches"][done:], "the batches trained after the resume")
    for key in ("weights", "optimizer", "iterations", "learning_rate", "rng"):
        assert_same(resumed[key], uninterrupted[key], key)
    epochs_left = len(resumed["history"]["loss"])
    assert_same(resumed["history"], {k: v[-epochs_left:] for k, v in uninterrupted["history"].items()}, "history")
    leftovers = os.listdir(tmp_path / "backup") if (tmp_path / "backup").exists() else []
    assert all(name.startswith(".latest.backup.") for name in leftovers), leftovers  # the backup went at the end


def garbage(path):
    with open(path, "wb") as file:
        file.write(b"damaged by the disk")


def truncate(path):
    os.truncate(path, os.path.getsize(path) // 2)


def flip_a_weight_bit(path):
    """One bit of the first weight tensor's data, which torch's zip format does not checksum."""
    import zipfile
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    with open(path, "r+b") as file:
        file.seek(info.header_offset + 26)
        name_length, extra_length = np.frombuffer(file.read(4), "<u2")
        file.seek(info.header_offset + 30 + int(name_length) + int(extra_length) + 2)
        byte = file.read(1)
        file.seek(-1, os.SEEK_CUR)
        file.write(bytes([byte[0] ^ 0x40]))


@pytest.mark.parametrize("damage", [
    garbage, truncate,
    flip_a_weight_bit,
], ids=["garbage", "truncated", "bit flip"])
def test_a_corrupt_latest_backup_falls_back_on_the_previous_one(tmp_path, uninterrupted, damage):
    resumed, _ = kill_then_resume(tmp_path / "backup", 11, save_freq=2, double_checkpoint=True, damage=damage)
    for key in ("weights", "optimizer", "iterations", "rng"):
        assert_same(resumed[key], uninterrupted[key], key)


def test_no_usable_backup_is_a_clear_error_and_changes_nothing(tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "latest.backup").write_bytes(b"PK\x03\x04 truncated")
    (folder / "latest.backup.bkp").write_bytes(b"")
    model = compiled()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"could not read its backup: .*latest\.backup: .*latest\.backup\.bkp: .*"
                                         r"Delete the folder"):
        model.fit(X, Y, verbose=0, callbacks=[BackupAndRestore(folder, double_checkpoint=True)])
    for mine, theirs in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(mine, theirs)


# ----------------------------------------------------------------------------------------------------- NaN, Inf
class PoisonAt(layers.Layer):
    """Multiplies its inputs by `value` on training call number `at` (0-based) and counts the calls."""

    def __init__(self, at, value, **kwargs):
        super().__init__(**kwargs)
        self.at, self.value, self.calls = at, value, 0

    def call(self, inputs, training=None):
        if not (self.training if training is None else training):
            return inputs
        self.calls += 1
        return inputs * self.value if self.calls - 1 == self.at else inputs


def poisoned_model(value, at=6 + 3):
    """Six batches per epoch: the loss is `value` at epoch 2, batch 3 (0-based). Compiled with run_eagerly, since a
    step replayed from a CUDA graph (on a GPU) would not run PoisonAt's counting."""
    model = deepglass.Sequential([deepglass.Input((4,)), PoisonAt(at, value), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    return model


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
@pytest.mark.parametrize("raise_error", [True, False])
def test_terminate_on_nan_stops_within_one_batch_naming_the_epoch_and_batch(capsys, value, raise_error):
    model = poisoned_model(value)
    callback = TerminateOnNaN(raise_error=raise_error)
    if raise_error:
        with pytest.raises(RuntimeError, match="at epoch 2, batch 3"):
            model.fit(X[:48], Y[:48], batch_size=8, epochs=4, shuffle=False, verbose=0, callbacks=[callback])
    else:
        history = model.fit(X[:48], Y[:48], batch_size=8, epochs=4, shuffle=False, verbose=0, callbacks=[callback])
        assert "Epoch 2, batch 3: Invalid loss" in capsys.readouterr().out
        assert len(history.history["loss"]) == 2
    assert model.layers[0].calls == 6 + 4  # no step after the one whose loss was not finite
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_fit_stops_after_a_non_finite_loss_without_any_callback(value):
    """On the CPU within one batch; on a GPU, whose losses are read without a wait per step, when the logs are read:
    here (no callback, no progress bar) at the end of the epoch. The always-on check's own tests are in
    tests/training/test_loss_watch.py."""
    model = poisoned_model(value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X[:48], Y[:48], batch_size=8, epochs=4, shuffle=False, verbose=0)
            reports = [str(w.message) for w in caught]
        except Exception as error:  # stopping with an error is as good as stopping with a warning
            reports = [str(error)]
    assert any(re.search("(?i)epoch 2, batch 3", report) for report in reports), reports
    last_step = 6 + 4 if deepglass.config.device().type == "cpu" else 6 + 6
    assert model.layers[0].calls <= last_step, "training went on past the step that reads the loss"


class PoisonWeights(Callback):
    """Sets the last kernel to `value` after epoch 2, batch 1 (as a diverging step would)."""

    def __init__(self, value):
        super().__init__()
        self.value, self.epoch = value, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == (1, 1):
            with torch.no_grad():
                self.model.layers[-1].weights[0].fill_(self.value)


def saved_weights(path):
    if path.endswith(".backup"):
        return [t.numpy() for t in torch.load(path, weights_only=True)["weights"]]
    if path.endswith(".keras"):
        return deepglass.saving.load_model(path).get_weights()
    model = small_model()
    model.load_weights(path)
    return model.get_weights()


CHECKPOINTS = {
    "ModelCheckpoint .keras per epoch": lambda folder: ModelCheckpoint(str(folder / "e{epoch}.keras"), "loss"),
    "ModelCheckpoint .weights.h5 per batch": lambda folder: ModelCheckpoint(
        str(folder / "e{epoch}-b{batch}.weights.h5"), "loss", save_weights_only=True, save_freq=1),
    "ModelCheckpoint .safetensors per 2 batches": lambda folder: ModelCheckpoint(
        str(folder / "e{epoch}-b{batch}.safetensors"), "loss", save_weights_only=True, save_freq=2),
    "BackupAndRestore per batch": lambda folder: BackupAndRestore(folder, 1, delete_checkpoint=False),
}


@pytest.mark.filterwarnings("ignore:The loss became")
@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
@pytest.mark.parametrize("kind", list(CHECKPOINTS))
def test_no_non_finite_weights_are_written_to_a_checkpoint(tmp_path, kind, value):
    model = compiled()
    skipped = pytest.warns(UserWarning, match="NaN or infinite") if kind.startswith("ModelCheckpoint") else \
        contextlib.nullcontext()
    with skipped:
        model.fit(X[:32], Y[:32], batch_size=8, epochs=3, shuffle=False, verbose=0,
                  callbacks=[PoisonWeights(value), CHECKPOINTS[kind](tmp_path)])
    written = sorted(p for p in os.listdir(tmp_path) if not p.startswith("."))
    assert written, "the checkpoints before the weights went bad were not written"
    for name in written:
        assert all(np.isfinite(w).all() for w in saved_weights(str(tmp_path / name))), f"{name} holds {value}"


# ------------------------------------------------------------------------------------------- DataLoader workers
class DyingDataset(torch.utils.data.Dataset):
    """Sample 40 (batch 2 of 16) ends the worker process that loads it."""

    def __init__(self, how):
        self.how = how

    def __len__(self):
        return 64

    def __getitem__(self, index):
        if index == 40:
            if self.how == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            elif self.how == "segfault":
                import ctypes
                ctypes.string_at(0)
            else:
                os._exit(3)
        return torch.zeros(4), torch.zeros(2)


@pytest.mark.parametrize("how", ["killed", "segfault", "exits"])
def test_a_dataloader_worker_that_dies_raises_a_named_error(how):
    def fit_on_a_dying_loader():
        model = compiled()
        start = time.monotonic()
        try:
            model.fit(torch.utils.data.DataLoader(DyingDataset(how), batch_size=16, num_workers=2), epochs=2,
                      verbose=0)
        except Exception as error:
            return type(error).__name__, str(error), time.monotonic() - start
        return None, None, time.monotonic() - start

    outcome = forked.run(fit_on_a_dying_loader, timeout=60)  # a hang fails here, with a TimeoutError
    error_type, message, seconds = outcome.value
    assert error_type == "RuntimeError", f"fit finished without an error in {seconds:.1f} s"
    assert "The DataLoader failed while producing batch" in message, message  # and what torch said of the worker
    assert seconds < 30
