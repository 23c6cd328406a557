"""Speed of a workload under each contender: training epochs (W1-W5, W8) or predict/evaluate passes (W6)."""
import math
import statistics

from benchmarks import contenders, devices, inference, overhead, targets
from benchmarks.report import Section
from benchmarks.timing import measure, repetitions
from benchmarks.workloads import Unavailable


def run_workload(workload, names, repeats, min_seconds=0.0):
    """Time `workload` under the contenders in `names` that run it; a Section with one row per contender."""
    if workload.kind == "inference":
        runs, baseline_of, notes, held = _inference_runs(workload, names)
        unit, versus = "batch", "torch loop"
    else:
        runs, notes, held = _training_runs(workload, names)
        baseline_of = {name: contenders.BASELINE for name in runs}
        unit, versus = "step", "tutorial loop"
    timed = measure(runs, repeats, min_seconds=min_seconds)
    for name, result in timed.items():
        if held[name] is not None:
            result["peak_own_gpu_mb"] = held[name] + result.get("held_gpu_mb", 0.0) + result["peak_extra_gpu_mb"]
    batches = math.ceil(len(workload.x) / workload.batch_size)
    data, rows = {}, []
    memory = [key for key in MEMORY if devices.is_cuda() or "gpu" not in key]  # the columns this device measures
    for name, result in timed.items():
        seconds = statistics.median(result["seconds"])
        data[name] = {f"ms_per_{unit}": 1000 * seconds / batches, "samples_per_s": len(workload.x) / seconds,
                      "baseline": baseline_of[name], **{k: v for k, v in result.items() if k.startswith("peak_")},
                      "seconds": result["seconds"], "warmup_seconds": result.get("warmup_seconds")}
    for name, row in data.items():
        baseline = data.get(row["baseline"])
        row["ratio"] = row[f"ms_per_{unit}"] / baseline[f"ms_per_{unit}"] if baseline else None
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
        rows.append([name, f"{row[f'ms_per_{unit}']:.2f}", f"{row['samples_per_s']:.0f}", ratio]
                    + [f"{row[key]:.0f}" for key in memory])
    columns = ["contender", f"ms/{unit}", "samples/s", f"vs {versus}"] + [MEMORY[key] for key in memory]
    notes = [f"data: {workload.source}, {len(workload.x)} samples"] + notes
    if "deepglass (jit_compile)" in data:
        warmup = data["deepglass (jit_compile)"]["warmup_seconds"]
        notes.append(f"deepglass (jit_compile): its warm-up epoch, torch.compile's compilation included, took "
                     f"{warmup:.1f} s (not in the table, which times the epochs after it)")
    record = {"source": workload.source, "samples": len(workload.x), "repeats": repetitions(timed),
              "device": devices.record(), "contenders": data}
    operator_ms = _operator_time(runs.get(contenders.TUNED), batches, record)
    times = {name: row[f"ms_per_{unit}"] for name, row in data.items()}
    if workload.overhead_probe and operator_ms:
        record["overhead"], overhead_notes = overhead.overheads(times, operator_ms(), contenders.TUNED)
        notes += overhead_notes
    if workload.kind == "inference":
        notes += targets.inference_notes(times, inference.BASELINE)
    elif workload.name in targets.WORKLOADS:
        notes += targets.training_notes(workload.name, times, operator_ms)
    if devices.is_cuda():
        notes.append(GPU_NOTE)
    return Section(workload.name, f"{workload.name}: {workload.description}", columns, rows, record, notes)


def _operator_time(tuned_run, batches, record):
    """A function giving the time per step of the operators of `tuned_run` (`overhead.operator_ms`), measured at its
    first call only and kept in `record["operators_ms_per_step"]`; None without a tuned run."""
    if tuned_run is None:
        return None

    def operator_ms():
        if "operators_ms_per_step" not in record:
            record["operators_ms_per_step"] = overhead.operator_ms(tuned_run, batches)
        return record["operators_ms_per_step"]
    return operator_ms


MEMORY = {"peak_extra_rss_mb": "extra peak RSS (MB)", "peak_gpu_mb": "peak GPU memory (MB)",
          "peak_extra_gpu_mb": "extra peak GPU memory (MB)", "peak_own_gpu_mb": "own peak GPU memory (MB)"}
GPU_NOTE = ("peak GPU memory: torch's allocator peak during a contender's run (Keras 3 allocates through it too), "
            "which includes what every contender prepared for this workload keeps on the GPU (models, optimizer "
            "state, the tuned loop's data); extra: its rise over what was allocated when the run began; own: that "
            "rise plus what the contender itself keeps on the GPU between runs (what its preparation and warm-up "
            "left allocated), the memory it needs to train, which the target compares")


def _training_runs(workload, names):
    runs, notes, held = {}, [], {}
    for name in names:
        if workload.contenders is not None and name not in workload.contenders:
            continue
        try:
            runs[name], held[name] = _prepared(contenders.CONTENDERS[name], workload)
        except Unavailable as reason:
            notes.append(f"{name}: skipped, {reason}")
    return runs, notes, held


def _prepared(factory, workload):
    """What `factory` makes for `workload`, and the GPU memory (MB) it left allocated (None on the CPU)."""
    before = devices.gpu_allocated_mb()
    made = factory(workload)
    return made, None if before is None else devices.gpu_allocated_mb() - before


def _inference_runs(workload, names):
    """predict and evaluate of each inference contender whose training counterpart is chosen (deepglass,
    keras 3; the torch loop whenever either torch loop is)."""
    passes, notes = {}, []
    for name, factory in inference.CONTENDERS.items():
        if name not in names and not (name == inference.BASELINE and any(n.startswith("torch") for n in names)):
            continue
        try:
            passes[name] = _prepared(factory, workload)
        except Unavailable as reason:
            notes.append(f"{name}: skipped, {reason}")
    runs, baseline_of, held = {}, {}, {}
    for index, mode in enumerate(("predict", "evaluate")):
        for name, (functions, memory) in passes.items():
            runs[f"{name} {mode}"], held[f"{name} {mode}"] = functions[index], memory
            baseline_of[f"{name} {mode}"] = f"{inference.BASELINE} {mode}"
    return runs, baseline_of, notes, held
