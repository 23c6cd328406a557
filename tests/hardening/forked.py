"""Run a function in a forked copy of the test process, for the cases that must not touch the test process itself:
a kill, a memory or file-size limit, a peak-memory measurement, a process without root's permissions.

A fork shares everything already imported, so a case costs milliseconds where a fresh interpreter costs seconds.
The child sets torch to one thread first (OpenMP's thread pool does not survive a fork; torch's DataLoader workers
do the same), trains on the CPU (the cases run only where there is no GPU: see `_skip_where_cuda_is_available`),
and always ends with `os._exit`, so nothing of pytest runs twice.
"""
import dataclasses
import os
import pickle
import resource
import select
import signal
import time
import traceback

GiB = 1 << 30
MiB = 1 << 20
NOBODY = 65534
_STALLED, _RESULT = b"S", b"R"
_ready_fd = None  # the child's end of the pipe, for `stall`


@dataclasses.dataclass
class Outcome:
    """How the forked call ended: its value or the exception it raised, its peak memory growth, or the signal
    that ended the child (SIGKILL after `stall`, SIGXFSZ at a file-size limit with `die_at_limit`)."""

    value: object = None
    error_type: str = None
    error: str = None
    peak_growth: int = None  # bytes: the child's VmHWM during the call minus its VmRSS before it
    signal: int = None
    stalled: bool = False
    trace: str = None  # where the exception was raised, for the failure message

    def __str__(self):
        if self.signal is not None:
            return f"ended by signal {signal.Signals(self.signal).name} (stalled={self.stalled})"
        if self.error_type:
            return f"raised {self.error_type}: {self.error}\n{self.trace or ''}"
        return f"returned {self.value!r:.200}"


def run(fn, *args, timeout=60, **limits):
    """Call `fn(*args)` in a forked child and return its `Outcome`.

    Arguments (`limits`):
        memory_limit: address space the child may add (RLIMIT_AS), so that a regression cannot hurt the machine.
        file_size_limit: RLIMIT_FSIZE in bytes: a write past it fails with EFBIG (a full disk), or, with
            `die_at_limit`, ends the process on the spot (SIGXFSZ: killed in the middle of a write).
        as_nobody: drop root's privileges first (root ignores file permissions); no effect for other users.
        timeout: seconds before the child is killed and the call reported as hanging.
    If `fn` calls `stall()`, the parent kills the child with SIGKILL at that moment.
    """
    return start(fn, *args, **limits).wait(timeout)


def start(fn, *args, memory_limit=2 * GiB, file_size_limit=None, die_at_limit=False, as_nobody=False):
    """`run` without waiting: several children can run at once; `wait` on each."""
    _skip_where_cuda_is_available()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(write_fd, fn, args, memory_limit, file_size_limit, die_at_limit, as_nobody)
    os.close(write_fd)
    return Child(pid, read_fd)


class Child:
    """A forked call in progress."""

    def __init__(self, pid, fd):
        self.pid, self.fd = pid, fd

    def wait(self, timeout=60):
        try:
            data = _read(self.fd, self.pid, timeout)
        finally:
            os.close(self.fd)
            _, status = os.waitpid(self.pid, 0)
        if data.startswith(_RESULT):
            return pickle.loads(data[1:])
        return Outcome(signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, stalled=data == _STALLED)


def stall():
    """In a child started by `run`: tell the parent this is the moment, and wait for its SIGKILL."""
    os.write(_ready_fd, _STALLED)
    time.sleep(120)


def _read(fd, pid, timeout):
    deadline, chunks = time.monotonic() + timeout, []
    while True:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            raise TimeoutError(f"the forked call did not finish within {timeout} s")
        chunk = os.read(fd, 1 << 16)
        if chunk == _STALLED and not chunks:
            os.kill(pid, signal.SIGKILL)
            return _STALLED
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _skip_where_cuda_is_available():
    """A forked child cannot use CUDA once its parent has started it, and `torch.cuda.is_available()` starts the
    driver (cuInit) even where torch's own CUDA state is not initialised: collecting a module with a GPU-only mark
    does it. The child then fails wherever torch asks the device, as its optimizers do at every step, on the CPU
    too. These cases are about the host, and run where there is no GPU."""
    import torch
    if torch.cuda.is_available():
        import pytest
        pytest.skip("a forked child cannot use CUDA once its parent started it, and torch's optimizers ask it")


def _child(fd, fn, args, memory_limit, file_size_limit, die_at_limit, as_nobody):
    global _ready_fd
    _ready_fd = fd
    try:
        import torch
        torch.set_num_threads(1)
        if memory_limit is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (status_bytes("VmSize") + memory_limit, hard))
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL if die_at_limit else signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, resource.RLIM_INFINITY))
        if as_nobody and os.geteuid() == 0:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        baseline = reset_peak()
        try:
            outcome = Outcome(value=fn(*args))
        except BaseException as error:  # the child reports everything, KeyboardInterrupt included
            outcome = Outcome(error_type=type(error).__name__, error=str(error), trace=traceback.format_exc(limit=-8))
        outcome.peak_growth = status_bytes("VmHWM") - baseline
        data = _RESULT + pickle.dumps(outcome)
        while data:
            data = data[os.write(fd, data):]
    finally:
        os._exit(0)


def status_bytes(field):
    """A memory figure of this process from /proc/self/status (`VmRSS`, `VmHWM`, `VmSize`), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak():
    """Start measuring peak memory from now (Linux resets VmHWM on writing 5 to clear_refs); returns VmRSS. Where
    the reset is not allowed, a fresh fork's VmHWM already starts at its VmRSS."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
    return status_bytes("VmRSS")


def as_nobody_possible():
    """Whether a forked child can give up root's privileges (or runs without them already)."""
    if os.geteuid() != 0:
        return True
    return run(os.setuid, NOBODY, memory_limit=None).error_type is None
