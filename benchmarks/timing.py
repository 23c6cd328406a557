"""Timing and memory: interleaved repetitions after a warm-up, and the rise of resident memory during each run."""
import time


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


def measure(runs, repeats, warmup=1):
    """Time each of `runs` ({name: function}) `repeats` times, interleaved (the order rotates each repetition),
    after `warmup` calls of each. Returns {name: {"seconds": [...], "peak_extra_rss_mb": MB}}."""
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    timed = {name: {"seconds": [], "peak_extra_rss_mb": 0.0} for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            peak_rss_reset()
            resident = status_mb("VmRSS")
            start = time.perf_counter()
            runs[name]()
            timed[name]["seconds"].append(time.perf_counter() - start)
            rise = status_mb("VmHWM") - resident
            timed[name]["peak_extra_rss_mb"] = max(timed[name]["peak_extra_rss_mb"], rise)
    return timed

