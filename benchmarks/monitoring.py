"""I1: what `deepglass.insight.Monitor` costs a training run: W2 fit epochs with and without it, interleaved in one
process, at its default sampling period and at every step (the worst case). Target: below 10% at the default."""
import math
import statistics

from benchmarks.feeding import _deepglass_model
from benchmarks.report import Section
from benchmarks.timing import measure, repetitions

PERIODS = (50, 1)  # Monitor's default every_n_steps, and every step


def monitor_overhead(workload, repeats, min_seconds=0.0):
    import deepglass
    size = workload.batch_size
    steps = math.ceil(len(workload.x) / size)
    model = _deepglass_model(workload)

    def epoch(callbacks):
        return lambda: model.fit(workload.x, workload.y, batch_size=size, epochs=1, verbose=0, callbacks=callbacks)

    runs = {"fit": epoch([])}
    runs.update({f"fit with Monitor(every_n_steps={n})": epoch([deepglass.insight.Monitor(every_n_steps=n)])
                 for n in PERIODS})
    timed = measure(runs, repeats, min_seconds=min_seconds)
    ms = {name: 1000 * statistics.median(timed[name]["seconds"]) / steps for name in runs}
    rows = [[name, f"{ms[name]:.2f}", "" if name == "fit" else f"{ms[name] / ms['fit'] - 1:+.1%}"] for name in runs]
    default = ms[f"fit with Monitor(every_n_steps={PERIODS[0]})"] / ms["fit"] - 1
    met = "met" if default < 0.10 else "missed"
    return Section("I1", f"I1: Monitor's overhead, {workload.name} model, batch {size}",
                   ["run", "ms/step", "overhead"], rows,
                   {"ms_per_step": ms, "overhead_at_default": default, "steps": steps, "repeats": repetitions(timed),
                    "seconds": {name: timed[name]["seconds"] for name in runs}},
                   [f"target: below 10% at the default every_n_steps={PERIODS[0]} ({met})",
                    f"data: {workload.source}, {len(workload.x)} samples"])
