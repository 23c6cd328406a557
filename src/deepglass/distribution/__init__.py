"""Training on several processes (one per GPU, or several CPU processes), launched with `torchrun`.

- `DataParallel(devices=None)`: every process holds the whole model and trains on its share of each global batch;
  gradients are averaged by `torch.nn.parallel.DistributedDataParallel` (NCCL on GPUs, gloo on CPUs).
- `FullyShardedDataParallel()`: the same, with each process holding only its share of the weights, their
  gradients and the optimizer's state while it trains (PyTorch's FSDP, `fully_shard`).
- `set_distribution(...)` / `distribution()`: the current distribution. Under `torchrun` with more than one
  process, `fit`, `evaluate` and `predict` use `DataParallel()` by themselves.
- `initialize(...)`: join the processes yourself (Keras's arguments, or torchrun's variables).
- `list_devices()`, `get_device_count()`, `DeviceMesh`, `process_id()`, `num_processes()`, `is_chief()`.

See docs/scaling.md for the commands, what is sharded and how `batch_size` is read.
"""
from deepglass.distribution.distribution_lib import (DataParallel, DeviceMesh, distribution, get_device_count,
                                                     initialize, list_devices, set_distribution)
from deepglass.distribution.fsdp import FullyShardedDataParallel
from deepglass.distribution.process_group import is_chief, num_processes, process_id

__all__ = ["DataParallel", "DeviceMesh", "FullyShardedDataParallel", "distribution", "get_device_count", "initialize",
           "is_chief", "list_devices", "num_processes", "process_id", "set_distribution"]
