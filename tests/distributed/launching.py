"""Starting test processes the way torchrun does: one process per rank, with torchrun's variables."""
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(**variables):
    """The processes train on CPUs with gloo, also on a machine with GPUs (which may hold fewer than the ranks)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **variables}


def launch(scenario, out_dir, world=2, overrides=None, timeout=300):
    """Run `worker.py scenario out_dir` as ranks 0..world-1 of one run; returns [(exit code, stderr)] per rank.

    `overrides`: {rank: {variable: value}} to give one rank a different environment. A run in which a process
    aborted in C++ with no Python error (see `torchrun`) is launched once more."""
    outcomes = _launch_once(scenario, out_dir, world, overrides, timeout)
    if any(_CXX_ABORT in error for _, error in outcomes):
        outcomes = _launch_once(scenario, out_dir, world, overrides, timeout)
    return outcomes


_CXX_ABORT = "terminate called without an active exception"


def _launch_once(scenario, out_dir, world, overrides, timeout):
    port = str(free_port())
    processes = []
    for rank in range(world):
        variables = dict(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                         MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        variables.update((overrides or {}).get(rank, {}))
        processes.append(subprocess.Popen([sys.executable, str(WORKER), scenario, str(out_dir)], cwd=ROOT,
                                          env=_environment(**variables), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True))
    try:
        errors = [process.communicate(timeout=timeout)[1] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return [(process.returncode, error) for process, error in zip(processes, errors)]


def torchrun(arguments, timeout=300):
    """`python -m torch.distributed.run --standalone <arguments>`; returns the completed process.

    A worker killed by SIGABRT with "terminate called without an active exception" (a C++ thread of gloo aborting,
    seen once in six runs on an overloaded 2-core machine, with no Python error) gets one new launch; a
    second crash, or any other failure, is returned as it is."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", *map(str, arguments)]
    for attempt in range(2):
        completed = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True, text=True,
                                   timeout=timeout)
        if completed.returncode == 0 or _CXX_ABORT not in completed.stderr:
            break
    return completed
