"""Data feeding: what deepglass's input pipeline costs, for three sources of data.

F1 in-memory arrays: the share of a W2 training step spent feeding it (a fit epoch against fit running the same
   number of steps on one pre-made batch, which feeds by slicing a view); target below 5%.
F2 a torch DataLoader (num_workers 0 and 2): deepglass's fit against the same loader in a plain PyTorch loop
   (the tuned loop's model and fused optimizer); target no slower.
F3 a memory-mapped array far larger than a batch: the peak resident memory (VmHWM) of a fresh process that
   fits one epoch on it; target below 1 GiB (on a GPU, less the CUDA runtime's own host memory). The file is
   written to a temporary folder and removed afterwards.
"""
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from benchmarks import devices
from benchmarks.contenders import keras_optimizer, torch_loss, torch_optimizer
from benchmarks.report import Section
from benchmarks.timing import measure, repetitions, status_mb
from benchmarks.workloads import keras_model, torch_inputs, torch_model

ROW_SHAPE = (32, 32, 3)  # one float32 image per memmap row, 12 KiB
MEMMAP_BATCH = 256


def _deepglass_model(workload):
    import deepglass
    model = keras_model(deepglass, workload)
    model.compile(optimizer=keras_optimizer(deepglass, workload), loss=workload.loss)
    return model


def _ms_per_step(timed, name, steps):
    return 1000 * statistics.median(timed[name]["seconds"]) / steps


def in_memory_share(workload, repeats, min_seconds=0.0):
    """F1: a fit epoch over in-memory arrays against the same number of steps fed one pre-made batch."""
    model, size = _deepglass_model(workload), workload.batch_size
    steps = math.ceil(len(workload.x) / size)
    one_x, one_y = workload.x[:size], workload.y[:size]
    runs = {"fit epoch on in-memory arrays": lambda: model.fit(workload.x, workload.y, batch_size=size, epochs=1,
                                                               verbose=0),
            "fit of the same steps on one pre-made batch": lambda: model.fit(
                one_x, one_y, batch_size=size, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)}
    timed = measure(runs, repeats, min_seconds=min_seconds)
    fed, premade = (_ms_per_step(timed, name, steps) for name in runs)
    share = (fed - premade) / fed
    rows = [[name, f"{_ms_per_step(timed, name, steps):.2f}", ""] for name in runs]
    rows.append(["input pipeline (difference)", f"{fed - premade:.2f}", f"{share:.1%}"])
    return Section("F1", f"F1: input pipeline share of a step, in-memory arrays, {workload.name} model, batch {size}",
                   ["measure", "ms/step", "share of the step"], rows,
                   {"ms_per_step": fed, "ms_per_step_premade": premade, "share": share, "steps": steps,
                    "repeats": repetitions(timed), "seconds": {name: timed[name]["seconds"] for name in runs}},
                   [f"target: below 5% ({'met' if share < 0.05 else 'missed'}); the pre-made batch is sliced from "
                    "data already on the device, so the difference is the shuffle and gather of each batch; within "
                    "noise it can come out below zero", f"data: {workload.source}, {len(workload.x)} samples"])


def loader_speed(workload, repeats, workers=(0, 2), min_seconds=0.0):
    """F2: deepglass's fit on a torch DataLoader against the same loader in a plain PyTorch loop."""
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(workload.x), torch.from_numpy(workload.y))
    model = _deepglass_model(workload)
    runs = {}
    for count in workers:
        loader = torch.utils.data.DataLoader(dataset, batch_size=workload.batch_size, shuffle=True,
                                             num_workers=count)
        runs[f"deepglass fit, num_workers={count}"] = lambda loader=loader: model.fit(loader, epochs=1, verbose=0)
        runs[f"torch loop, num_workers={count}"] = _torch_loader_loop(workload, loader)
    timed = measure(runs, repeats, min_seconds=min_seconds)
    steps = math.ceil(len(workload.x) / workload.batch_size)
    rows, ratios = [], {}
    for count in workers:
        ours, theirs = (_ms_per_step(timed, f"{who}, num_workers={count}", steps) for who in ("deepglass fit",
                                                                                              "torch loop"))
        ratios[count] = ours / theirs
        rows += [[f"deepglass fit, num_workers={count}", f"{ours:.2f}", f"{ratios[count]:.2f}x"],
                 [f"torch loop, num_workers={count}", f"{theirs:.2f}", "1.00x"]]
    met = all(ratio <= 1.0 for ratio in ratios.values())
    return Section("F2", f"F2: a torch DataLoader as the source, {workload.name} model, batch {workload.batch_size}",
                   ["contender", "ms/step", "vs torch loop"], rows,
                   {"ratios": {str(k): v for k, v in ratios.items()}, "steps": steps, "repeats": repetitions(timed),
                    "seconds": {name: timed[name]["seconds"] for name in runs}},
                   [f"target: deepglass no slower than the torch loop ({'met' if met else 'missed'}; "
                    "differences within a few percent are noise on a busy machine)",
                    "the same DataLoader object (shuffling TensorDataset of NHWC images) feeds both; the torch loop "
                    "uses the tuned loop's channels-last model and fused optimizer",
                    f"data: {workload.source}, {len(workload.x)} samples"])


def _torch_loader_loop(workload, loader):
    device = devices.current()
    model = torch_model(workload).to(device, memory_format=torch.channels_last)
    optimizer = torch_optimizer(workload, model.parameters(), fused=True)
    loss_fn = torch_loss(workload)

    def epoch():
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(torch_inputs(workload, x)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epoch


def memmap_rss(gib, folder=None):
    """F3: write a `gib` GiB float32 memmap, then fit one epoch on it in a fresh process (on the run's device);
    its peak RSS."""
    rows = max(1, int(gib * 2 ** 30) // (4 * math.prod(ROW_SHAPE)))
    with tempfile.TemporaryDirectory(prefix="deepglass-memmap-", dir=folder) as where:
        path = os.path.join(where, "x.f32")
        start = time.perf_counter()
        _write_random(path, rows)
        np.save(os.path.join(where, "y.npy"), np.random.default_rng(6).integers(0, 10, rows))
        written = time.perf_counter() - start
        command = [sys.executable, "-m", "benchmarks.feeding", where, str(rows), devices.current().type]
        child = subprocess.run(command, capture_output=True, text=True,
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if child.returncode:
        raise RuntimeError(f"the memmap child process failed:\n{child.stderr[-3000:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    size_gib = rows * 4 * math.prod(ROW_SHAPE) / 2 ** 30
    peak = result["peak_rss_mb"]
    before = result["rss_before_fit_mb"]
    cuda_share = result["cuda_host_mb"]
    judged = peak - cuda_share  # the CUDA runtime's own host memory is no part of the data's path
    rows_out = [[f"{size_gib:.3g} GiB, {rows} x {ROW_SHAPE}", f"{before:.0f}", f"{peak:.0f}", f"{peak - before:.0f}",
                 f"{result['fit_seconds']:.1f}", f"{size_gib * 1024 / result['fit_seconds']:.0f}"]]
    return Section("F3", f"F3: peak memory fitting one epoch of an np.memmap (batch {MEMMAP_BATCH}, "
                         "Flatten + Dense(10), shuffled)",
                   ["data", "RSS before fit (MB)", "peak RSS (MB)", "growth during fit (MB)", "epoch (s)",
                    "read (MB/s)"], rows_out,
                   {**result, "gib": size_gib, "rows": rows, "write_seconds": written,
                    "device": devices.current().type},
                   [f"target: peak RSS below 1024 MB ({'met' if judged < 1024 else 'missed'}); peak = VmHWM of the "
                    f"fitting process on {devices.describe()}, Python, torch and deepglass included"
                    + (f"; on a GPU less the CUDA runtime's own host memory ({cuda_share:.0f} MB: its context and "
                       f"kernel code, RSS after one warm-up step less RSS before any CUDA call), so "
                       f"{judged:.0f} MB" if cuda_share else ""),
                    f"the file was written in {written:.1f} s to a temporary folder and is read from the page cache "
                    "where it fits there"])


def _write_random(path, rows, chunk_rows=4096):
    """Random rows written with plain file writes (writing through a mapping would count in this process's RSS)."""
    rng = np.random.default_rng(5)
    with open(path, "wb") as handle:
        for start in range(0, rows, chunk_rows):
            count = min(chunk_rows, rows - start)
            handle.write(rng.random((count,) + ROW_SHAPE, dtype=np.float32).tobytes())


def _fit_memmap(folder, rows, device):
    """The child process: fit one epoch on the memmap in `folder` on `device`; prints its memory and time as JSON."""
    import deepglass
    deepglass.config.set_device(device)
    x = np.memmap(os.path.join(folder, "x.f32"), dtype=np.float32, mode="r", shape=(rows,) + ROW_SHAPE)
    y = np.load(os.path.join(folder, "y.npy"))
    model = deepglass.Sequential([deepglass.Input(ROW_SHAPE), deepglass.layers.Flatten(),
                                  deepglass.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # torch's one-time imports, outside the timed epoch
    without_cuda = status_mb("VmRSS")
    if device == "cuda":
        # The CUDA runtime keeps host memory of its own: its context, and the code of each kernel, loaded at its
        # first use (a few hundred MB for one step of this model). One step on two in-memory rows loads them all.
        model.fit(np.zeros((2,) + ROW_SHAPE, np.float32), np.zeros(2, np.int64), verbose=0)
        torch.cuda.synchronize()
    before = status_mb("VmRSS")
    start = time.perf_counter()
    model.fit(x, y, batch_size=MEMMAP_BATCH, epochs=1, verbose=0)
    if device == "cuda":
        torch.cuda.synchronize()
    print(json.dumps({"rss_before_fit_mb": before, "peak_rss_mb": status_mb("VmHWM"),
                      "cuda_host_mb": before - without_cuda if device == "cuda" else 0.0,
                      "fit_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    _fit_memmap(sys.argv[1], int(sys.argv[2]), sys.argv[3])
