"""A training step's framework overhead: its time above the time of the operators the workload needs.

The operators' time is measured on the tuned loop, the least any framework can run: a few of its epochs run under
torch.profiler, and the whole time of their outermost ATen operators and of autograd's backward functions
(dispatch included) is the work itself. Each contender's overhead is then its median time per step, measured
without the profiler, less that work: module calls, the loop, the optimizer's bookkeeping, and any operators it adds.
The profiler slows each operator a little, which makes the work look larger and every overhead smaller; the ratio
to the tuned loop's overhead is, if anything, overstated.

On a GPU the work is the time of the kernels on the device (torch.profiler's CUDA activity): the least a step can
take there, whoever launches it. The time above it is the host's: launching kernels one by one, Python, the loop.
"""
import contextlib
import os
import statistics
import sys

from benchmarks import devices

TARGET = 1.2  # the probe's overhead may be at most this multiple of the tuned loop's


def operator_ms(run, steps, repeats=5):
    """The median over `repeats` profiled calls of `run` of the time inside operators, in ms per step."""
    return statistics.median(_inside_operators_seconds(run) for _ in range(repeats)) * 1000 / steps


def how_measured():
    """How `operator_ms` measures on this run's device, for the notes."""
    return "as their kernels' time on the GPU, under torch.profiler" if devices.is_cuda() else \
        "inside them, under torch.profiler"


def _inside_operators_seconds(run):
    from torch.profiler import ProfilerActivity, profile
    on_gpu = devices.is_cuda()
    profiler = profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else []))
    devices.synchronize()
    with _native_stderr_silenced():
        profiler.start()
    try:
        run()
        devices.synchronize()
    finally:
        with _native_stderr_silenced():
            profiler.stop()
    if on_gpu:
        return device_seconds(profiler.events())
    return sum(event.cpu_time_total for event in profiler.events() if _outermost(event)) / 1e6


@contextlib.contextmanager
def _native_stderr_silenced():
    """Keep out of the report the lines torch's profiler library writes straight to the process's standard error
    (file descriptor 2) as it starts and stops."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def device_seconds(events):
    """The time of the kernels and copies among a profile's `events`. Each also counts in the self time of the
    operator that launched it, and a user annotation's device range spans kernels: neither is summed again."""
    from torch.autograd import DeviceType
    return sum(event.device_time_total for event in events
               if event.device_type == DeviceType.CUDA and not getattr(event, "is_user_annotation", False)) / 1e6


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


def overheads(ms_per_step, work_ms, baseline):
    """Each contender's overhead ({name: ms per step}: its time less `work_ms`) and the notes that report them
    against `baseline`'s, with the target."""
    data = {name: ms - work_ms for name, ms in ms_per_step.items()}
    reference = data.get(baseline)
    notes = [f"overhead: the time per step above the {work_ms:.3f} ms that the workload's operators take (measured "
             f"{how_measured()}, on the tuned loop)"]
    comparable = reference is not None and reference > 0  # a ratio to nothing, or to less, says nothing
    for name, extra in data.items():
        versus = f", {extra / reference:.2f}x the tuned loop's" if comparable and name != baseline else ""
        notes.append(f"overhead of {name}: {extra:.3f} ms per step{versus}")
    if reference is not None and not comparable:
        notes.append("target: not judged, since the tuned loop's step took no longer than its operators")
    elif comparable and "deepglass" in data:
        ratio = data["deepglass"] / reference
        notes.append(f"target: deepglass's overhead at most {TARGET}x the tuned loop's "
                     f"({'met' if ratio <= TARGET else 'missed'}: {ratio:.2f}x)")
    return data, notes
