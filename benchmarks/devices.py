"""The device a benchmark run measures on, CPU or CUDA, chosen once for every contender of every part.

deepglass gets it through `deepglass.config.set_device`, Keras 3 through `KERAS_TORCH_DEVICE` (read when keras is
first imported), the PyTorch loops and Lightning through `current()`. On CUDA, `synchronize()` makes the clock count
the kernels a run queued, and torch's allocator gives each run's peak GPU memory.
"""
import contextlib
import gc
import os

import torch
import torch.nn.functional as F

CHOICES = ("auto", "cpu", "cuda")
_state = {"device": torch.device("cpu")}


def resolve(choice):
    """"auto" (CUDA when torch has it, else the CPU), "cpu" or "cuda" as "cpu" or "cuda"; a ValueError naming the
    problem when CUDA is asked for and torch cannot use it."""
    if choice not in CHOICES:
        raise ValueError(f"Expected a device among {CHOICES}; got {choice!r}.")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise ValueError(f"CUDA is not available to torch {torch.__version__} ({build}, "
                         "torch.cuda.is_available() is False); use --device cpu, or install a CUDA build of torch on "
                         "a machine with an NVIDIA GPU.")
    return choice


def current():
    """The `torch.device` the contenders run on."""
    return _state["device"]


def is_cuda():
    return current().type == "cuda"


def describe():
    """The device in words for the results: "cpu", or "cuda (<GPU name>)"."""
    return f"cuda ({torch.cuda.get_device_name(current())})" if is_cuda() else "cpu"


def record():
    """The device as results.json stores it."""
    if not is_cuda():
        return {"type": "cpu"}
    return {"type": "cuda", "name": torch.cuda.get_device_name(current()), "cuda": torch.version.cuda}


@contextlib.contextmanager
def selected(name):
    """Within the block every contender runs on `name` ("cpu" or "cuda"); deepglass's device (back to automatic),
    KERAS_TORCH_DEVICE and `current()` are restored afterwards."""
    import deepglass
    before = _state["device"], os.environ.get("KERAS_TORCH_DEVICE")
    _state["device"] = torch.device(name)
    deepglass.config.set_device(name)
    os.environ["KERAS_TORCH_DEVICE"] = name
    try:
        warm_up()
        yield current()
    finally:
        _state["device"] = before[0]
        deepglass.config.set_device(None)
        if before[1] is None:
            os.environ.pop("KERAS_TORCH_DEVICE", None)
        else:
            os.environ["KERAS_TORCH_DEVICE"] = before[1]


def warm_up():
    """Create the CUDA context and the cuBLAS and cuDNN handles before any clock starts, so that the first contender
    timed (W7 has no warm-up epoch) does not pay those one-time costs for all of them."""
    if not is_cuda():
        return
    x = torch.ones(2, 3, 8, 8, device=current(), requires_grad=True)
    weight = torch.ones(4, 3, 3, 3, device=current(), requires_grad=True)
    F.linear(F.conv2d(x, weight).flatten(1), torch.ones(2, 144, device=current())).sum().backward()
    synchronize()


def synchronize():
    """Wait for the kernels queued on the GPU (nothing to wait for on the CPU)."""
    if is_cuda():
        torch.cuda.synchronize(current())


def gpu_allocated_mb():
    """The MB that torch's allocator holds for tensors now, after a garbage collection (None on the CPU)."""
    if not is_cuda():
        return None
    gc.collect()  # what earlier contenders dropped is not counted against the next
    return torch.cuda.memory_allocated(current()) / 2 ** 20


def gpu_peak_reset():
    """Restart torch's count of peak GPU memory; the bytes allocated now (None on the CPU)."""
    if not is_cuda():
        return None
    torch.cuda.reset_peak_memory_stats(current())
    return torch.cuda.memory_allocated(current())


def gpu_peak_mb(allocated_at_reset):
    """(peak allocated since the reset, its rise over what was allocated at the reset), in MB; None on the CPU."""
    if allocated_at_reset is None:
        return None
    peak = torch.cuda.max_memory_allocated(current())
    return peak / 2 ** 20, (peak - allocated_at_reset) / 2 ** 20
