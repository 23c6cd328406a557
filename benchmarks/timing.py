"""Timing and memory: interleaved repetitions after a warm-up, the rise of resident memory during each run and, on
CUDA, its peak GPU memory (the clock is read only after the GPU has finished what the run queued)."""
import time

from benchmarks import devices


def peak_rss_reset():
    """Reset the kernel's high-water mark of this process's resident memory (Linux); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def status_mb(field, pid="self"):
    """A memory field of /proc/<pid>/status in MB: "VmRSS" (resident now) or "VmHWM" (its peak); NaN elsewhere."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


MAX_REPEATS = 50  # the most repetitions that `min_seconds` asks for


def measure(runs, repeats, warmup=1, min_seconds=0.0):
    """Time each of `runs` ({name: function}) `repeats` times, interleaved (the order rotates each repetition),
    after `warmup` calls of each; then more repetitions (up to MAX_REPEATS) until each has run for `min_seconds` in
    all, so that a median of short runs is not left to a few samples on a noisy machine.

    Returns {name: {"seconds": [...], "warmup_seconds": s, "peak_extra_rss_mb": MB}} (`warmup_seconds`: the first
    call, which pays one-time costs such as torch.compile's); on CUDA also "peak_gpu_mb" (torch's allocator peak
    during the run) and "peak_extra_gpu_mb" (its rise over what was allocated when the run began), each the largest
    of the repetitions, and "held_gpu_mb" (what its warm-up calls left allocated: optimizer state made at the first
    step, say)."""
    names = list(runs)
    timed = {name: {"seconds": [], "peak_extra_rss_mb": 0.0} for name in names}
    for index in range(warmup):
        for name in names:
            held = devices.gpu_allocated_mb()
            devices.synchronize()
            start = time.perf_counter()
            runs[name]()
            devices.synchronize()
            if index == 0:
                timed[name]["warmup_seconds"] = time.perf_counter() - start
            if held is not None:
                timed[name]["held_gpu_mb"] = timed[name].get("held_gpu_mb", 0.0) + devices.gpu_allocated_mb() - held
    repeat = 0
    while repeat < repeats or (repeat < MAX_REPEATS and
                               min(sum(result["seconds"]) for result in timed.values()) < min_seconds):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            _timed_run(runs[name], timed[name])
        repeat += 1
    return timed


def repetitions(timed):
    """How many timed repetitions `measure` made (the same for every run)."""
    return len(next(iter(timed.values()))["seconds"])


def _timed_run(run, result):
    """One run of `run`, its time and memory added to `result`."""
    peak_rss_reset()
    resident = status_mb("VmRSS")
    allocated = devices.gpu_peak_reset()
    devices.synchronize()  # nothing queued before the run counts in it
    start = time.perf_counter()
    run()
    devices.synchronize()  # everything the run queued counts in it
    result["seconds"].append(time.perf_counter() - start)
    result["peak_extra_rss_mb"] = max(result["peak_extra_rss_mb"], status_mb("VmHWM") - resident)
    gpu = devices.gpu_peak_mb(allocated)
    if gpu is not None:
        result["peak_gpu_mb"] = max(result.get("peak_gpu_mb", 0.0), gpu[0])
        result["peak_extra_gpu_mb"] = max(result.get("peak_extra_gpu_mb", 0.0), gpu[1])
