"""Import time: `python -c "import deepglass"` against `python -c "import torch"`, each in fresh processes."""
import statistics
import subprocess
import sys
import time

from benchmarks.report import Section


def import_seconds(module):
    """Wall time of a fresh interpreter that imports `module` (interpreter start-up included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def run(runs=7, module="deepglass", reference="torch", target=1.3):
    """The import section: median seconds of each, alternating the two so that both see the same machine."""
    times = {module: [], reference: []}
    for _ in range(runs):
        for name in times:
            times[name].append(import_seconds(name))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians[module] / medians[reference]
    rows = [[f"python -c \"import {name}\"", f"{medians[name]:.2f}", f"{medians[name] / medians[reference]:.2f}x"]
            for name in times]
    return Section("import", f"Import time (median of {runs} fresh processes)",
                   ["command", "seconds", f"vs import {reference}"], rows,
                   {"median_seconds": medians, "seconds": times, "ratio": ratio, "target": target},
                   [f"target: at most {target}x ({'met' if ratio <= target else 'missed'})"])
