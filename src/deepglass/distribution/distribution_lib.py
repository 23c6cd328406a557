"""Keras's distribution API on `torch.distributed`: `DataParallel`, `set_distribution`, `distribution`, ...

A data-parallel run is several processes, one per device, started by a launcher (`torchrun`); each holds the whole
model, trains on its share of every batch, and averages gradients with the others through
`DistributedDataParallel`. Under `torchrun` with more than one process, `fit` uses `DataParallel()` by itself.
"""
import contextlib

import torch

from deepglass import config, naming
from deepglass.distribution import process_group
from deepglass.distribution.launcher import LaunchEnvironment

_BACKENDS = {"nccl": "nccl", "gloo": "gloo"}
_current = {"distribution": None, "automatic": False}


def list_devices(device_type=None):
    """The devices of this machine, named as Keras names them: `["gpu:0", "gpu:1", ...]` or `["cpu:0"]`.

    Arguments:
        device_type: `"gpu"` or `"cpu"`; by default GPUs when there are any, else the CPU.

    Example:
    >>> deepglass.distribution.list_devices()
    ['cpu:0']
    """
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    kind = naming.lookup("device type", device_type, {"gpu": "gpu", "cpu": "cpu"}) if device_type else \
        ("gpu" if gpus else "cpu")
    return [f"gpu:{index}" for index in range(gpus)] if kind == "gpu" else ["cpu:0"]


def get_device_count(device_type=None):
    """The number of devices `list_devices(device_type)` returns."""
    return len(list_devices(device_type))


def initialize(job_addresses=None, num_processes=None, process_id=None, backend=None):
    """Join the processes of a multi-process run (torchrun's variables, or Keras's arguments).

    `fit` calls it by itself under `torchrun`; call it yourself to launch processes another way, or to talk to the
    other processes before training. A run of one process does nothing.

    Arguments:
        job_addresses: `"host:port"` of process 0 (a comma-separated list is accepted; only its first entry is
            used), or the `KERAS_DISTRIBUTION_JOB_ADDRESSES` variable; by default torchrun's `MASTER_ADDR` and
            `MASTER_PORT`.
        num_processes: the number of processes (`KERAS_DISTRIBUTION_NUM_PROCESSES`, or torchrun's `WORLD_SIZE`).
        process_id: this process's number from 0 (`KERAS_DISTRIBUTION_PROCESS_ID`, or torchrun's `RANK`).
        backend: `"nccl"` (GPUs) or `"gloo"` (CPUs); by default NCCL when this process trains on a GPU.

    Example:
    >>> deepglass.distribution.initialize(job_addresses="10.0.0.1:29500", num_processes=2, process_id=0)
    """
    environment = LaunchEnvironment.from_arguments(job_addresses, num_processes, process_id)
    device = _default_device(environment)
    _connect(environment, _backend(backend, device), device)


def _connect(environment, backend, device):
    if environment.world_size == 1:
        return
    process_group.check_backend(environment, backend, device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        config.set_device(device)  # layers and data of this process go to its own GPU
    process_group.connect(environment, backend, device)


def _environment():
    """The run this process joined (with `initialize` or `fit`), else the one its launcher describes."""
    return process_group.environment() or LaunchEnvironment.from_environ()


def _default_device(environment):
    device = config.device()
    return torch.device("cuda", environment.local_rank) if device.type == "cuda" else device


def _backend(backend, device):
    if backend is None:
        return "nccl" if device.type == "cuda" else "gloo"
    return naming.lookup("distributed backend", backend, _BACKENDS)


def _parse_device(device):
    """A torch.device from Keras's names (`"gpu:1"`, `"cpu:0"`), torch's (`"cuda:1"`, `"cpu"`) or a torch.device."""
    if isinstance(device, torch.device):
        return device
    kind, _, index = str(device).lower().partition(":")
    if kind in ("gpu", "cuda") and index.isdigit():
        return torch.device("cuda", int(index))
    if kind == "cpu" and (index == "" or index.isdigit()):
        return torch.device("cpu")
    raise ValueError(f"Expected a device such as 'gpu:0', 'cuda:0' or 'cpu'. Received: device={device!r}")


class DeviceMesh:
    """The devices of a distribution laid out along named axes (data-parallel training uses one axis, "batch").

    Arguments:
        shape: the number of devices along each axis, e.g. `(2,)`.
        axis_names: one name per axis, e.g. `["batch"]`.
        devices: the devices (`list_devices()` by default); `prod(shape)` of them.

    Example:
    >>> mesh = DeviceMesh(shape=(2,), axis_names=["batch"], devices=["gpu:0", "gpu:1"])
    """

    def __init__(self, shape, axis_names, devices=None):
        shape, axis_names = tuple(int(s) for s in shape or ()), list(axis_names or ())
        if not shape or len(shape) != len(axis_names):
            raise ValueError("shape and axis_names must be non-empty and of the same length. Received: "
                             f"shape={shape}, axis_names={axis_names}")
        devices = list(list_devices() if devices is None else devices)
        count = 1
        for size in shape:
            count *= size
        if count != len(devices):
            raise ValueError(f"Shape does not match the number of devices. Received: shape={shape}; "
                             f"{len(devices)} devices {devices}")
        self.shape, self.axis_names, self.devices = shape, axis_names, devices

    def get_config(self):
        return {"shape": list(self.shape), "axis_names": list(self.axis_names), "devices": [str(d) for d in
                                                                                            self.devices]}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class DataParallel:
    """Data-parallel training over processes started by `torchrun`: every process holds the whole model, trains on
    its share of each batch, and the gradients are averaged (`torch.nn.parallel.DistributedDataParallel`).

    `batch_size` is the global batch, as in Keras: with N processes, each takes every N-th sample of each batch, so
    N processes with `batch_size=B` take the same optimizer steps as one process with `batch_size=B`. Metrics are
    summed over the processes before they are read, so every process reports the global values; only rank 0
    prints progress and writes files.

    Arguments:
        device_mesh: a one-axis `DeviceMesh` of this machine's devices (instead of `devices`).
        devices: this machine's devices, one per process launched on it (local rank `i` trains on `devices[i]`),
            e.g. `list_devices("gpu")`; by default `cuda:<local rank>` when there are GPUs, else the CPU.
        auto_shard_dataset: split the data between the processes (default). False when each process is already
            given its own part: each then trains on all of its batches.
        backend: `"nccl"` or `"gloo"`; by default NCCL for GPUs and gloo for CPUs.

    Example:
    >>> deepglass.distribution.set_distribution(deepglass.distribution.DataParallel())
    >>> model.fit(x, y, batch_size=256)   # torchrun --nproc-per-node 4 train.py: 64 samples per process
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True, backend=None):
        if device_mesh is not None and devices is not None:
            raise ValueError("Pass either device_mesh or devices to DataParallel, not both.")
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh) or len(device_mesh.shape) != 1:
                raise ValueError("DataParallel expects a one-axis DeviceMesh (the batch axis). Received: "
                                 f"device_mesh={device_mesh!r}")
            devices = device_mesh.devices
        self.environment = _environment()
        rank, local_size = self.environment.rank, self.environment.local_world_size
        if devices is not None and len(devices) != local_size:
            raise ValueError(f"Rank {rank}: DataParallel(devices={list(map(str, devices))}) lists {len(devices)} "
                             f"devices, but {local_size} process(es) run on this machine; train on one device per "
                             f"process: launch with torchrun --nproc-per-node {len(devices)}, or list "
                             f"{local_size} device(s).")
        self.devices = None if devices is None else [str(d) for d in devices]
        self.device = _parse_device(devices[self.environment.local_rank]) if devices is not None \
            else _default_device(self.environment)
        self.backend = _backend(backend, self.device)
        if self.environment.world_size > 1:
            process_group.check_backend(self.environment, self.backend, self.device)  # before any training
        self.auto_shard_dataset = bool(auto_shard_dataset)
        self.batch_dim_name = device_mesh.axis_names[0] if device_mesh is not None else "batch"
        names = self.devices or [str(self.device)] * local_size
        self.device_mesh = device_mesh or DeviceMesh((local_size,), [self.batch_dim_name], names)

    @property
    def num_processes(self):
        """The number of processes in the run."""
        return self.environment.world_size

    @property
    def process_id(self):
        """This process's rank in the run."""
        return self.environment.rank

    num_model_replicas = num_processes
    data_shard_id = process_id

    def parallel_run(self, model):
        """The `ParallelRun` of one fit, evaluate or predict call on `model` (see `training_run`)."""
        from deepglass.distribution.training_run import ParallelRun  # that module imports this one
        return ParallelRun(self, model)

    def connect(self):
        """Join the process group (done by `fit`, `evaluate` and `predict`; once per process)."""
        _connect(self.environment, self.backend, self.device)

    @contextlib.contextmanager
    def scope(self):
        """Make this the current distribution inside a `with` block."""
        previous = _current["distribution"]
        set_distribution(self)
        try:
            yield self
        finally:
            set_distribution(previous)

    def get_config(self):
        return {"devices": self.devices, "auto_shard_dataset": self.auto_shard_dataset, "backend": self.backend}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (f"<{type(self).__name__} processes={self.num_processes}, rank={self.process_id}, "
                f"device={self.device}, backend={self.backend}>")


def distribution():
    """The current distribution: the one set with `set_distribution`, else `DataParallel()` when the process was
    launched by torchrun with more than one process, else None."""
    if _current["distribution"] is None and not _current["automatic"]:
        _current["automatic"] = True  # decided once: a later set_distribution(None) turns it off
        if _environment().world_size > 1:
            _current["distribution"] = DataParallel()
    return _current["distribution"]


@naming.on_clear_session
def _forget_distribution():
    """As in a fresh process: none chosen yet (`distribution()` decides again)."""
    _current.update(distribution=None, automatic=False)


def set_distribution(value):
    """Make `value` (a `DataParallel` or `FullyShardedDataParallel`, or None for single-process training) the current
    distribution."""
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"Expected a deepglass.distribution.DataParallel or None. Received: value={value!r} of type "
                        f"{type(value).__name__}")
    _current["distribution"], _current["automatic"] = value, True
