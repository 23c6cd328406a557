"""A training step's framework overhead: its time outside PyTorch's operators. One epoch of each contender runs
under torch.profiler; what the outermost ATen operators and autograd's backward functions took (their whole time,
dispatch included) is the work itself, and the rest of the wall time is what the framework's Python adds: module
calls, the training loop, the optimizer's bookkeeping. The profiler slows every operator a little, alike for all."""
import time

from benchmarks import devices

TARGET = 1.2  # the probe's overhead may be at most this multiple of the tuned loop's


def overhead_ms(run, steps):
    """(wall time, time inside operators, the difference) of one call of `run`, in ms per step."""
    from torch.profiler import ProfilerActivity, profile
    devices.synchronize()
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        run()
        devices.synchronize()
        wall = time.perf_counter() - start
    inside = sum(event.cpu_time_total for event in profiler.events() if _outermost(event)) / 1e6
    return tuple(1000 * value / steps for value in (wall, inside, wall - inside))


def _is_operator(event):
    return event.name.startswith("aten::") or event.name.startswith("autograd::engine::evaluate_function")


def _outermost(event):
    """An operator that no other operator called (the events inside one are part of its time)."""
    if not _is_operator(event):
        return False
    parent = event.cpu_parent
    while parent is not None:
        if _is_operator(parent):
            return False
        parent = parent.cpu_parent
    return True


def overhead_section_parts(runs, steps, baseline, repeats=3):
    """The overhead of each of `runs` ({name: one epoch}): its data ({name: ms per step}) and notes lines, each
    against `baseline`'s, with the target. Each figure is the median of `repeats` profiled epochs, interleaved."""
    samples = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            samples[name].append(overhead_ms(run, steps))
    # The profiled epoch of median overhead, so that its three figures belong together.
    measured = {name: sorted(values, key=lambda v: v[2])[len(values) // 2] for name, values in samples.items()}
    data = {name: {"wall_ms": wall, "inside_operators_ms": inside, "overhead_ms": extra}
            for name, (wall, inside, extra) in measured.items()}
    reference = data.get(baseline, {}).get("overhead_ms")
    notes = []
    for name, row in data.items():
        versus = f", {row['overhead_ms'] / reference:.2f}x the tuned loop's" if reference and name != baseline else ""
        notes.append(f"overhead of {name}: {row['overhead_ms']:.3f} ms per step outside PyTorch's operators (of "
                     f"{row['wall_ms']:.3f} ms under torch.profiler, the median of {repeats} epochs){versus}")
    if reference and "deepglass" in data:
        ratio = data["deepglass"]["overhead_ms"] / reference
        notes.append(f"target: deepglass's overhead at most {TARGET}x the tuned loop's "
                     f"({'met' if ratio <= TARGET else 'missed'}: {ratio:.2f}x)")
    return data, notes
