"""The process group of a multi-process run, and the few collective operations deepglass performs on it.

Processes meet at a `torch.distributed.TCPStore` (torchrun's, or one rank 0 starts), check there that they agree on
the number of processes, and then form the default process group: NCCL for GPUs, gloo for CPUs. Runs on NCCL also
get a gloo group, for the small host-side exchanges (data orders, agreement on batch counts, saved random states)
that need no GPU.
"""
import atexit
import datetime

import torch
import torch.distributed as dist

_JOIN_TIMEOUT = datetime.timedelta(seconds=300)
_state = {"cpu_group": None, "store": None, "environment": None}


def connected():
    """Whether this process belongs to a process group."""
    return dist.is_available() and dist.is_initialized()


def process_id():
    """This process's rank in the run (0 without a process group)."""
    return dist.get_rank() if connected() else 0


def num_processes():
    """The number of processes in the run (1 without a process group)."""
    return dist.get_world_size() if connected() else 1


def is_chief():
    """Whether this process is rank 0, the one that prints progress and writes files (True in a run of one)."""
    return not connected() or dist.get_rank() == 0


def environment():
    """The `LaunchEnvironment` this process joined its process group with (None before it joined)."""
    return _state["environment"] if connected() else None


def connect(environment, backend, device):
    """Join the run's process group as `environment` describes it (once per process; later calls check only)."""
    if connected():
        if dist.get_world_size() != environment.world_size:
            raise ValueError(f"Rank {dist.get_rank()} already belongs to a process group of {dist.get_world_size()} "
                             f"processes, but the launcher announces WORLD_SIZE={environment.world_size}; start "
                             "every process with the same number.")
        return
    if not dist.is_available():
        raise RuntimeError(f"Rank {environment.rank}: this build of PyTorch has no torch.distributed; install a "
                           "build with distributed support to train on several processes.")
    check_backend(environment, backend, device)
    store = _meeting_point(environment)
    dist.init_process_group(backend, store=dist.PrefixStore("default_pg", store), rank=environment.rank,
                            world_size=environment.world_size)
    _state["store"], _state["environment"] = store, environment
    # Host-side exchanges go through gloo: on NCCL they would need a GPU copy and a synchronisation.
    _state["cpu_group"] = None if backend == "gloo" else dist.new_group(backend="gloo")
    atexit.register(_disconnect)


def check_backend(environment, backend, device):
    """Refuse NCCL without GPUs, and a GPU that this machine does not have, naming the rank."""
    if backend == "nccl" and not (torch.cuda.is_available() and dist.is_nccl_available()):
        raise RuntimeError(f"Rank {environment.rank}: the NCCL backend needs CUDA GPUs, but PyTorch finds none on "
                           "this machine (torch.cuda.is_available() is False); use backend='gloo' to train on CPUs, "
                           "or run on a machine with GPUs.")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device.index is None or device.index >= count:
            raise RuntimeError(f"Rank {environment.rank} (local rank {environment.local_rank}) was given device "
                               f"{device}, but this machine has {count} CUDA GPU(s); launch at most {count} "
                               f"processes per machine (torchrun --nproc-per-node {max(count, 1)}) or train on "
                               "CPUs with devices=None.")


def _meeting_point(environment):
    """The store where the processes meet, after checking that they all announce the same number of processes."""
    store = dist.TCPStore(environment.master_addr, environment.master_port, None,
                          environment.rank == 0 and not environment.agent_store, _JOIN_TIMEOUT,
                          wait_for_workers=False, multi_tenant=True)
    # torchrun's store outlives a restart: each attempt keeps its keys apart.
    store = dist.PrefixStore(f"deepglass/attempt_{environment.restart_count}", store)
    rank, size = environment.rank, environment.world_size
    store.set(f"world_size/{rank}", str(size))
    if rank != 0:
        chief = int(store.get("world_size/0"))
        if chief != size:
            raise ValueError(_mismatch(rank, size, chief))
        return store
    for other in range(1, size):
        try:
            store.wait([f"world_size/{other}"], _JOIN_TIMEOUT)
        except RuntimeError:
            raise RuntimeError(f"Rank 0: rank {other} did not join within {_JOIN_TIMEOUT.seconds} s, though "
                               f"WORLD_SIZE={size} announces it; start all {size} processes (torchrun "
                               f"--nproc-per-node {size} does) or lower WORLD_SIZE.") from None
        theirs = int(store.get(f"world_size/{other}"))
        if theirs != size:
            raise ValueError(_mismatch(other, theirs, size))
    return store


_EXIT_TIMEOUT = datetime.timedelta(seconds=60)


def _mismatch(rank, size, chief):
    return (f"Rank {rank} was launched with WORLD_SIZE={size}, but rank 0 with WORLD_SIZE={chief}; start every "
            "process of the run with the same WORLD_SIZE (torchrun does this for you).")


def _disconnect():
    """Leave the process group at exit. The processes first wait for each other (up to a minute, so a crashed one
    cannot hang the rest): rank 0 hosts the store, and tearing it down while another process still talks to it
    aborts that process in C++ ("terminate called without an active exception")."""
    if connected():
        try:
            dist.monitored_barrier(group=_state["cpu_group"], timeout=_EXIT_TIMEOUT)
        except RuntimeError:
            pass  # another process is gone already: nothing to wait for
        dist.destroy_process_group()
    _state["store"] = None


def _group(tensor):
    return _state["cpu_group"] if tensor.device.type == "cpu" else None


def broadcast(tensor):
    """`tensor` made equal to rank 0's on every rank (in place; returned)."""
    dist.broadcast(tensor, 0, group=_group(tensor))
    return tensor


def all_reduce(tensor):
    """The sum of `tensor` over the ranks, in place (returned)."""
    dist.all_reduce(tensor, group=_group(tensor))
    return tensor


def all_gather(tensor):
    """Every rank's `tensor` (all of the same shape), in rank order."""
    gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor, group=_group(tensor))
    return gathered


def all_gather_objects(value):
    """Every rank's `value` (tensors, numbers, strings, lists, dicts), in rank order, sent through gloo."""
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value, group=_state["cpu_group"])
    return gathered
