"""Run the hardening cases on deepglass and on Keras 3 (torch backend) and print a table of pass / fail.

Not collected by pytest (the cases' tests are the `test_*.py` modules beside it); run it by hand:

    KERAS_BACKEND=torch python tests/hardening/compare_keras.py [case ...]

Each case is written once against the Keras API and run on both libraries (`import deepglass as keras` runs Keras
programs), each in its own process whose address space is capped at 2 GiB above its size after the imports, so that
a bomb fails the case instead of the machine. A case passes under the same rule as its test: a hostile file is
refused with an error naming the file, runs nothing and stays under the memory cap; a fault leaves the previous file
byte-identical and loadable, and so on. The note says what happened.
"""
import gc
import json
import os
import pathlib
import resource
import signal
import subprocess
import sys
import tempfile
import time
import weakref
import zipfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
CASES = {}


def case(group):
    def register(fn):
        CASES[fn.__name__] = (group, fn)
        return fn
    return register


# ----------------------------------------------------------------------------------------------------- helpers
def small(kx):
    model = kx.Sequential([kx.Input((4,)), kx.layers.Dense(3, activation="relu"), kx.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rewrite(path, parts, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def refused(kx, path, marker=None, call=None):
    """(passed, note) for loading a hostile file: refused naming the file, nothing run, memory under the cap."""
    try:
        (call or (lambda: kx.saving.load_model(str(path))))()
    except MemoryError as error:
        return False, f"MemoryError (over the 2 GiB cap): {error}"[:100]
    except Exception as error:
        ran = marker is not None and pathlib.Path(marker).exists()
        named = pathlib.Path(path).name in str(error)
        note = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:100]
        if ran:
            return False, "the payload ran; " + note
        return named, note if named else "refused, but the error does not name the file; " + note
    ran = marker is not None and pathlib.Path(marker).exists()
    return False, "loaded" + (" and the payload ran" if ran else " without an error")


def lambda_file(kx, work, suffix, marker):
    marker_path = str(marker)

    def payload(x):
        open(marker_path, "w").close()
        return x * 2
    model = kx.Sequential([kx.Input((4,)), kx.layers.Lambda(payload, output_shape=(4,))])
    if os.path.exists(marker_path):
        os.remove(marker_path)
    path = work / f"lambda{suffix}"
    model.save(str(path))
    return path


def killed_writing(kx, write, path):
    """Run `write()` in a child ended by the kernel when it has written half of `path`'s size."""
    sys.path.insert(0, str(HERE.parent.parent))
    from tests.hardening import forked
    outcome = forked.run(write, file_size_limit=os.path.getsize(path) // 2, die_at_limit=True, memory_limit=None)
    return outcome


def intact(kx, path, before, load):
    if pathlib.Path(path).read_bytes() != before:
        return False, "the previous file was changed (overwritten in place)"
    try:
        load()
    except Exception as error:
        return False, f"the previous file does not load: {error}"[:100]
    return True, "the previous file is byte-identical and loads"


# -------------------------------------------------------------------------------------------------- hostile files
@case("hostile files")
def config_names_subprocess_popen(kx, work):
    marker = work / "pwned"
    path = work / "m.keras"
    small(kx).save(str(path))
    parts = members(path)
    config = json.loads(parts["config.json"])
    config["config"]["layers"][1] = {"module": "subprocess", "class_name": "Popen", "registered_name": "Popen",
                                     "config": {"args": ["touch", str(marker)]}}
    parts["config.json"] = json.dumps(config)
    return refused(kx, rewrite(work / "evil.keras", parts), marker)


@case("hostile files")
def config_switches_safe_mode_off_then_lambda(kx, work):
    marker = work / "ran"
    other = lambda_file(kx, work, ".keras", marker)
    parts = members(other)
    config = json.loads(parts["config.json"])
    config["config"]["layers"].insert(1, {"module": "keras.config", "class_name": "enable_unsafe_deserialization",
                                          "config": {}, "registered_name": None})
    parts["config.json"] = json.dumps(config)
    passed, note = refused(kx, rewrite(work / "evil.keras", parts), marker)
    try:  # safe mode must still be on: a plain Lambda file is still refused
        kx.saving.load_model(str(other))
    except Exception:
        return passed, note
    return False, "the file switched safe mode off; " + note


@case("hostile files")
def lambda_bytecode_in_keras(kx, work):
    marker = work / "ran"
    return refused(kx, lambda_file(kx, work, ".keras", marker), marker)


@case("hostile files")
def lambda_bytecode_in_legacy_h5(kx, work):
    marker = work / "ran"
    return refused(kx, lambda_file(kx, work, ".h5", marker), marker)


@case("hostile files")
def zip_bomb_config_1_gib(kx, work):
    """config.json inflates from about 1 MB to 1 GiB of spaces."""
    path = work / "m.keras"
    small(kx).save(str(path))
    parts = members(path)
    bomb = work / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            if name != "config.json":
                archive.writestr(name, data)
        with archive.open("config.json", "w", force_zip64=True) as member:
            chunk = b" " * (64 << 20)
            for _ in range(16):
                member.write(chunk)
    passed, note = refused(kx, bomb)
    return passed, f"({bomb.stat().st_size >> 10} KiB file) " + note


@case("hostile files")
def h5_dataset_of_2_to_the_50_elements(kx, work):
    import h5py
    model = small(kx)
    path = work / "w.weights.h5"
    model.save_weights(str(path))
    with h5py.File(path, "a") as f:
        name = next(n for n in _datasets(f) if len(f[n].shape) == 2)
        del f[name]
        f.create_dataset(name, shape=(1 << 25, 1 << 25), dtype="float32", chunks=(64, 64), compression="gzip")
    return refused(kx, path, call=lambda: model.load_weights(str(path)))


def _datasets(group):
    import h5py
    found = []
    group.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    return found


@case("hostile files")
def member_named_dot_dot(kx, work):
    path = work / "m.keras"
    small(kx).save(str(path))
    parts = members(path)
    parts["../evil.txt"] = b"x"
    passed, note = refused(kx, rewrite(work / "evil.keras", parts))
    return passed and not (work.parent / "evil.txt").exists(), note


@case("hostile files")
def truncated_archive(kx, work):
    path = work / "m.keras"
    small(kx).save(str(path))
    cut = work / "cut.keras"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return refused(kx, cut)


@case("hostile files")
def polyglot_png_then_zip(kx, work):
    path = work / "m.keras"
    small(kx).save(str(path))
    poly = work / "poly.keras"
    poly.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000) + path.read_bytes())
    return refused(kx, poly)


# ---------------------------------------------------------------------------------------------------------- faults
def kill_during(kx, work, name, write_new):
    path = work / name
    write_new(small(kx), str(path))
    before = path.read_bytes()
    outcome = killed_writing(kx, lambda: write_new(small(kx), str(path)), path)
    if outcome.signal != signal.SIGXFSZ:
        return False, f"the write was not cut short ({outcome})"
    load = (lambda: kx.saving.load_model(str(path))) if name.endswith(".keras") else \
        (lambda: small(kx).load_weights(str(path)))
    return intact(kx, path, before, load)


@case("faults")
def kill_during_save(kx, work):
    return kill_during(kx, work, "m.keras", lambda model, path: model.save(path))


@case("faults")
def kill_during_save_weights(kx, work):
    return kill_during(kx, work, "m.weights.h5", lambda model, path: model.save_weights(path))


@case("faults")
def kill_during_model_checkpoint(kx, work):
    x, y = np.ones((16, 4), "float32"), np.zeros((16, 2), "float32")
    return kill_during(kx, work, "ckpt.keras", lambda model, path: model.fit(
        x, y, epochs=1, verbose=0, callbacks=[kx.callbacks.ModelCheckpoint(path, monitor="loss")]))


@case("faults")
def kill_during_backup_then_resume(kx, work):
    """A backup write cut short; then the same fit runs again and must continue."""
    x, y = np.ones((64, 4), "float32"), np.zeros((64, 2), "float32")
    folder = str(work / "backup")

    class Stop(kx.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    def fit(*extra):
        small(kx).fit(x, y, epochs=2, batch_size=8, verbose=0,
                      callbacks=[kx.callbacks.BackupAndRestore(folder, save_freq=1), *extra])
    try:
        fit(Stop())
    except KeyboardInterrupt:
        pass
    files = [str(p) for p in pathlib.Path(folder).rglob("*") if p.is_file()]
    biggest = max(files, key=os.path.getsize)
    outcome = killed_writing(kx, fit, pathlib.Path(biggest))
    if outcome.signal != signal.SIGXFSZ:
        return False, f"the write was not cut short ({outcome})"
    try:
        fit()
    except Exception as error:
        return False, f"the run cannot continue: {type(error).__name__}: {error}"[:100]
    return True, "the run continues from the backup"


@case("faults")
def save_onto_a_full_disk(kx, work):
    sys.path.insert(0, str(HERE.parent.parent))
    from tests.hardening import forked
    path = work / "m.keras"
    small(kx).save(str(path))
    before = path.read_bytes()
    outcome = forked.run(lambda: small(kx).save(str(path)), file_size_limit=len(before) // 2, memory_limit=None)
    if outcome.error_type is None:
        return False, f"the save reported success: {outcome}"
    passed, note = intact(kx, path, before, lambda: kx.saving.load_model(str(path)))
    return passed, f"raised {outcome.error_type}; " + note


def resumable(kx):
    kx.utils.set_random_seed(3)
    model = kx.Sequential([kx.Input((6,)), kx.layers.Dense(16, activation="relu"), kx.layers.Dropout(0.3),
                           kx.layers.Dense(3)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@case("faults")
def resume_mid_epoch_is_bit_identical(kx, work):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((96, 6)).astype("float32"), rng.integers(0, 3, 96)

    class Stop(kx.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = 0

        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen == 8:
                raise KeyboardInterrupt

    def fit(model, *callbacks, seed=11):
        kx.utils.set_random_seed(seed)
        model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=list(callbacks))
        return model.get_weights()
    expected = fit(resumable(kx))
    folder = str(work / "backup")
    try:
        fit(resumable(kx), kx.callbacks.BackupAndRestore(folder, save_freq=2), Stop())
    except KeyboardInterrupt:
        pass
    resumed = fit(resumable(kx), kx.callbacks.BackupAndRestore(folder, save_freq=2), seed=99)
    same = all(np.array_equal(a, b) for a, b in zip(expected, resumed))
    return same, "bit-identical to the uninterrupted run" if same else "the weights differ from the uninterrupted run"


class PoisonAt:
    """A callback class factory: makes the last kernel NaN after training batch `at` (counted over epochs)."""

    @staticmethod
    def make(kx, at):
        class Poison(kx.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seen = 0

            def on_train_batch_end(self, batch, logs=None):
                self.seen += 1
                if self.seen == at:
                    kernel, bias = self.model.layers[-1].get_weights()
                    self.model.layers[-1].set_weights([np.full_like(kernel, np.nan), bias])
        return Poison()


@case("faults")
def terminate_on_nan_names_epoch_and_batch(kx, work):
    import contextlib
    import io
    x, y = np.ones((48, 4), "float32"), np.zeros((48, 2), "float32")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = small(kx).fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                                callbacks=[PoisonAt.make(kx, 6 + 3), kx.callbacks.TerminateOnNaN()])
    text = out.getvalue().strip()
    named = "epoch 2" in text.lower() and "batch 3" in text.lower()
    stopped = len(history.history["loss"]) == 2
    return named and stopped, text.splitlines()[-1][:100] if text else "nothing printed"


@case("faults")
def fit_stops_on_nan_without_callbacks(kx, work):
    import warnings
    x, y = np.ones((48, 4), "float32"), np.zeros((48, 2), "float32")
    seen = []

    class Count(kx.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small(kx).fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                      callbacks=[PoisonAt.make(kx, 6 + 3), Count()])
    named = any("epoch 2, batch" in str(w.message) for w in caught)
    within_one = len(seen) <= 6 + 5
    return named and within_one, f"{len(seen)} batches trained of 24; " + (
        "the batch is named" if named else "nothing named")


@case("faults")
def no_nan_weights_in_a_checkpoint(kx, work):
    import warnings
    x, y = np.ones((32, 4), "float32"), np.zeros((32, 2), "float32")
    template = str(work / "e{epoch}.weights.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small(kx).fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[
            PoisonAt.make(kx, 5), kx.callbacks.ModelCheckpoint(template, "loss", save_weights_only=True)])
    bad = []
    for file in sorted(work.glob("e*.weights.h5")):
        model = small(kx)
        model.load_weights(str(file))
        if not all(np.isfinite(w).all() for w in model.get_weights()):
            bad.append(file.name)
    return not bad, f"NaN weights written to {bad}" if bad else "only finite checkpoints written"


@case("faults")
def dataloader_worker_killed(kx, work):
    import torch

    class Dying(torch.utils.data.Dataset):
        def __len__(self):
            return 64

        def __getitem__(self, index):
            if index == 40:
                os.kill(os.getpid(), signal.SIGKILL)
            return torch.zeros(4), torch.zeros(2)
    start = time.monotonic()
    signal.alarm(60)  # a hang ends the case
    try:
        small(kx).fit(torch.utils.data.DataLoader(Dying(), batch_size=16, num_workers=2), epochs=2, verbose=0)
    except Exception as error:
        return time.monotonic() - start < 30, f"{type(error).__name__} after {time.monotonic() - start:.1f} s: " \
                                             f"{str(error)[:60]}"
    finally:
        signal.alarm(0)
    return False, "fit finished without an error"


# ------------------------------------------------------------------------------------------------------- resources
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) << 10 for line in status if line.startswith("VmRSS"))


@case("resources")
def memory_over_20_fit_evaluate_predict(kx, work):
    rng = np.random.default_rng(0)
    model = kx.Sequential([kx.Input((128,)), kx.layers.Dense(64, activation="relu"), kx.layers.Dense(10)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

    def cycle():
        x, y = rng.standard_normal((4096, 128)).astype("float32"), rng.integers(0, 10, 4096)
        model.fit(x, y, batch_size=1024, epochs=1, verbose=0)
        model.evaluate(x, y, batch_size=2048, verbose=0)
        model.predict(x, batch_size=2048, verbose=0)
    for _ in range(3):
        cycle()
    gc.collect()
    before = rss()
    for _ in range(20):
        cycle()
    gc.collect()
    growth = (rss() - before) / (1 << 20)
    return growth < 16, f"RSS grew {growth:.1f} MiB"


@case("resources")
def memory_over_50_models(kx, work):
    rng, alive = np.random.default_rng(0), []
    x, y = rng.standard_normal((64, 128)).astype("float32"), rng.integers(0, 10, 64)

    def cycle():
        model = kx.Sequential([kx.Input((128,)), kx.layers.Dense(256, activation="relu"), kx.layers.Dense(10)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        model.predict(x, verbose=0)
        alive.append(weakref.ref(model))
    for _ in range(5):
        cycle()
    gc.collect()
    before = rss()
    for _ in range(50):
        cycle()
    gc.collect()
    growth, kept = (rss() - before) / (1 << 20), sum(ref() is not None for ref in alive)
    return growth < 16 and kept == 0, f"RSS grew {growth:.1f} MiB; {kept} of 55 dropped models still alive"


@case("resources")
def four_processes_load_at_once(kx, work):
    sys.path.insert(0, str(HERE.parent.parent))
    from tests.hardening import forked
    path = work / "m.keras"
    small(kx).save(str(path))
    go_read, go_write = os.pipe()

    def load():
        os.read(go_read, 1)
        kx.saving.load_model(str(path))
        return "loaded"
    children = [forked.start(load, memory_limit=None) for _ in range(4)]
    os.write(go_write, b"gogo")
    outcomes = [child.wait(120) for child in children]
    ok = all(outcome.value == "loaded" for outcome in outcomes)
    return ok, "all four loaded" if ok else "; ".join(str(o) for o in outcomes)[:100]


@case("resources")
def load_from_a_read_only_folder(kx, work):
    sys.path.insert(0, str(HERE.parent.parent))
    from tests.hardening import forked
    folder = pathlib.Path(tempfile.mkdtemp())
    os.chmod(folder, 0o755)
    small(kx).save(str(folder / "m.keras"))
    kx.saving.load_model(str(folder / "m.keras"))  # what loading imports on first use, imported while root can
    os.chmod(folder / "m.keras", 0o444)
    os.chmod(folder, 0o555)
    def load():
        kx.saving.load_model(str(folder / "m.keras"))
        return "loaded"
    outcome = forked.run(load, as_nobody=True, memory_limit=None)
    os.chmod(folder, 0o755)
    return outcome.value == "loaded", "loaded" if outcome.value == "loaded" else str(outcome)[:100]


# ---------------------------------------------------------------------------------------------------------- driver
def run_one(name, library):
    """In a fresh process: import the library, cap memory, run the case, print its result as JSON."""
    import warnings
    warnings.simplefilter("ignore")
    if library == "keras":
        import keras as kx
    else:
        import deepglass as kx
    import h5py  # noqa: F401  (imported before the cap, as both libraries need it)
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) << 10 for line in status if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (size + (2 << 30), resource.RLIM_INFINITY))
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"compare-{library}-"))
    try:
        passed, note = CASES[name][1](kx, work)
    except MemoryError as error:
        passed, note = False, f"MemoryError: {error}"[:100]
    except Exception as error:
        passed, note = False, f"the case failed: {type(error).__name__}: {error}"[:100]
    print("RESULT " + json.dumps({"passed": bool(passed), "note": note}), flush=True)
    os._exit(0)


def run_case(name, library):
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([sys.executable, __file__, "--one", name, library], capture_output=True, text=True,
                              env=env, timeout=600)
    except subprocess.TimeoutExpired:
        return {"passed": False, "note": "did not finish within 600 s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"passed": False, "note": f"the process died ({done.returncode}): {last}"[:100]}


def main(names):
    rows = []
    for name in names or list(CASES):
        results = {library: run_case(name, library) for library in ("deepglass", "keras")}
        rows.append((CASES[name][0], name, results))
        mark = {True: "pass", False: "FAIL"}
        print(f"{CASES[name][0]:<14} {name:<42} deepglass {mark[results['deepglass']['passed']]:<5} "
              f"keras {mark[results['keras']['passed']]:<5}", file=sys.stderr, flush=True)
    print("| group | case | deepglass | Keras 3 | Keras 3: what happened | deepglass: what happened |")
    print("|---|---|---|---|---|---|")
    for group, name, results in rows:
        d, k = results["deepglass"], results["keras"]
        print(f"| {group} | {name} | {'pass' if d['passed'] else 'fail'} | {'pass' if k['passed'] else 'fail'} | "
              f"{k['note'].replace('|', '/')} | {d['note'].replace('|', '/')} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        sys.path.insert(0, str(HERE.parent.parent))
        run_one(sys.argv[2], sys.argv[3])
    main(sys.argv[1:])
