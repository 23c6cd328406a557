"""Memory-mapped arrays train like in-memory ones and are never read whole."""
import subprocess
import sys
import textwrap

import numpy as np

import deepglass
from deepglass import layers


def write_npy(path, rows, columns, seed=0, chunk=4096):
    """Write a float32 .npy file chunk by chunk, so the test itself never holds it in memory."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros((0, columns), "float32"))
    header["shape"] = (rows, columns)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, rows, chunk):
            handle.write(rng.standard_normal((min(chunk, rows - start), columns)).astype("float32").tobytes())


def train(x, y):
    deepglass.clear_session()
    deepglass.config.set_random_seed(5)
    model = deepglass.Sequential([deepglass.Input((x.shape[1],)), layers.Dense(4, activation="relu"),
                                  layers.Dropout(0.1), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=2, validation_split=0.2, verbose=0)
    return model, history


def test_memmap_trains_exactly_like_the_array_in_memory(tmp_path):
    path = tmp_path / "x.npy"
    write_npy(path, 500, 12)
    streamed = np.load(path, mmap_mode="r")
    y = (np.asarray(streamed)[:, 0] > 0).astype("int64")
    model_a, history_a = train(streamed, y)
    model_b, history_b = train(np.array(streamed), y)
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history_a.history == history_b.history
    np.testing.assert_array_equal(model_a.predict(streamed, verbose=0), model_b.predict(np.array(streamed), verbose=0))


def test_peak_memory_stays_far_below_the_file_size(tmp_path):
    path = tmp_path / "big.npy"
    write_npy(path, 60_000, 1024)  # 245 MB
    script = textwrap.dedent(f"""
        import resource, numpy as np, deepglass
        x = np.load({str(path)!r}, mmap_mode="r")
        y = np.zeros(len(x), dtype="int64")
        model = deepglass.Sequential([deepglass.Input((1024,)), deepglass.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.predict(x[:64], verbose=0)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        model.fit(x, y, batch_size=256, epochs=1, verbose=0)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    growth_mb = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                   check=True).stdout.split()[-1])
    assert growth_mb < 100, f"peak memory grew by {growth_mb} MB while streaming a 245 MB file"
