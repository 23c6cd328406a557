"""Resources: memory that does not grow over repeated training or over models built and dropped, and files that
several processes (and processes without write permission) load at once.

Each measurement runs in a forked child (see `forked`), so the test process's own allocations do not count.
"""
import gc
import os
import weakref

import numpy as np
import pytest

import deepglass
from deepglass import layers
from tests.hardening import forked
from tests.hardening.forked import MiB

GROWTH = 16 * MiB  # allocator noise; a leak of each cycle's 2 MiB of data, or of each model, would be 40 MiB or more


def model_of(width=256):
    model = deepglass.Sequential([deepglass.Input((128,)), layers.Dense(width, activation="relu"),
                                  layers.Dense(width, activation="relu"), layers.Dense(10)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fresh_data(rng):
    return rng.standard_normal((4096, 128)).astype("float32"), rng.integers(0, 10, 4096)  # 2 MiB each time


def rss_growth(cycle, warm_up, repeats):
    """How much VmRSS grew over `repeats` calls of `cycle`, after `warm_up` calls (allocator pools, lazy state)."""
    for _ in range(warm_up):
        cycle()
    gc.collect()
    before = forked.status_bytes("VmRSS")
    for _ in range(repeats):
        cycle()
    gc.collect()
    return forked.status_bytes("VmRSS") - before


def test_memory_does_not_grow_over_20_fit_evaluate_predict_cycles():
    def measure():
        model, rng = model_of(64), np.random.default_rng(0)

        def cycle():
            x, y = fresh_data(rng)
            model.fit(x, y, batch_size=1024, epochs=1, verbose=0)
            model.evaluate(x, y, batch_size=2048, verbose=0)
            model.predict(x, batch_size=2048, verbose=0)
        return rss_growth(cycle, warm_up=3, repeats=20)

    outcome = forked.run(measure)
    assert outcome.error_type is None, str(outcome)
    assert outcome.value < GROWTH, f"memory grew by {outcome.value / MiB:.1f} MiB over 20 cycles"


def test_memory_does_not_grow_over_50_models_built_and_dropped():
    """Each model (200,000 weights, Adam's state, a fit and a predict) is gone once dropped: nothing keeps it."""
    def measure():
        rng, alive = np.random.default_rng(0), []

        def cycle():
            model = model_of()
            x, y = rng.standard_normal((64, 128)).astype("float32"), rng.integers(0, 10, 64)
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)
            model.predict(x, verbose=0)
            alive.append(weakref.ref(model))
        growth = rss_growth(cycle, warm_up=5, repeats=50)
        return growth, sum(ref() is not None for ref in alive)

    outcome = forked.run(measure)
    assert outcome.error_type is None, str(outcome)
    growth, kept = outcome.value
    assert kept == 0, f"{kept} of 55 dropped models are still referenced"
    assert growth < GROWTH, f"memory grew by {growth / MiB:.1f} MiB over 50 models"


def saved_pair(folder):
    """Two versions of one model file, and each version's predictions on `x`."""
    x = np.random.default_rng(1).standard_normal((8, 128)).astype("float32")
    versions = []
    for seed in (1, 2):
        deepglass.config.set_random_seed(seed)
        model = model_of(64)
        model.save(folder / f"v{seed}.keras")
        versions.append(model.predict(x, verbose=0))
    return x, versions


def test_four_processes_load_one_file_at_once_while_a_fifth_replaces_it(tmp_path):
    """Every load sees a whole file, the old version or the new one: saving replaces it in one step."""
    x, versions = saved_pair(tmp_path)
    path = tmp_path / "model.keras"
    path.write_bytes((tmp_path / "v1.keras").read_bytes())
    go_read, go_write = os.pipe()  # the children wait on it, so that they start together

    def load_repeatedly():
        os.read(go_read, 1)
        return [deepglass.saving.load_model(path).predict(x, verbose=0) for _ in range(5)]

    def replace_repeatedly():
        os.read(go_read, 1)
        for index in range(10):
            deepglass.saving.load_model(tmp_path / f"v{1 + index % 2}.keras").save(path)
        return "saved"

    children = [forked.start(load_repeatedly) for _ in range(4)] + [forked.start(replace_repeatedly)]
    os.write(go_write, b"go" * 5)
    outcomes = [child.wait(120) for child in children]
    os.close(go_read)
    os.close(go_write)
    assert outcomes[-1].value == "saved", str(outcomes[-1])
    for outcome in outcomes[:-1]:
        assert outcome.error_type is None, str(outcome)
        for predictions in outcome.value:
            assert any(np.array_equal(predictions, version) for version in versions)


@pytest.mark.skipif(not forked.as_nobody_possible(), reason="cannot give up root's permissions here")
def test_loading_from_a_read_only_folder_works(shared_folder):
    x, versions = saved_pair(shared_folder)
    model = deepglass.saving.load_model(shared_folder / "v1.keras")
    for name in ("w.weights.h5", "w.safetensors", "w.h5", "m.h5"):
        model.save(shared_folder / name) if name == "m.h5" else model.save_weights(shared_folder / name)
    for name in os.listdir(shared_folder):
        os.chmod(shared_folder / name, 0o444)
    os.chmod(shared_folder, 0o555)  # root ignores this, so the child reads as nobody

    def load_everything():
        predictions = [deepglass.saving.load_model(shared_folder / name).predict(x, verbose=0)
                       for name in ("v1.keras", "m.h5")]
        for name in ("w.weights.h5", "w.safetensors", "w.h5"):
            into = model_of(64)
            into.load_weights(shared_folder / name)
            predictions.append(into.predict(x, verbose=0))
        return predictions

    outcome = forked.run(load_everything, as_nobody=True)
    assert outcome.error_type is None, str(outcome)
    for predictions in outcome.value:
        np.testing.assert_array_equal(predictions, versions[0])
