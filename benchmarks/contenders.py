"""The contenders: each prepares a workload and returns a function that trains one epoch over its data."""
import contextlib
import importlib.util
import logging
import os
import warnings
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks import devices
from benchmarks.workloads import Unavailable, keras_model, torch_inputs, torch_model


def torch_loss(workload):
    return F.cross_entropy if workload.loss == "sparse_categorical_crossentropy" else F.mse_loss


def keras_optimizer(lib, workload):
    """The workload's optimizer in a Keras-API library, from its Keras name and arguments."""
    name, arguments = workload.optimizer
    return {"adam": lib.optimizers.Adam, "sgd": lib.optimizers.SGD}[name](**arguments)


def torch_optimizer(workload, parameters, **options):
    """The same optimizer in torch.optim (Keras's default learning rates); `options` such as fused=True."""
    name, arguments = workload.optimizer
    if name == "adam":
        return torch.optim.Adam(parameters, lr=arguments.get("learning_rate", 1e-3), **options)
    return torch.optim.SGD(parameters, lr=arguments.get("learning_rate", 1e-2),
                           momentum=arguments.get("momentum", 0.0), **options)


def deepglass_defaults(workload, **compile_options):
    import deepglass
    model = keras_model(deepglass, workload)
    model.compile(optimizer=keras_optimizer(deepglass, workload), loss=workload.loss, **compile_options)
    return lambda: model.fit(workload.x, workload.y, batch_size=workload.batch_size, epochs=1, verbose=0)


def deepglass_jit(workload):
    """deepglass with `compile(..., jit_compile=True)`: torch.compile; its first (warm-up) epoch compiles."""
    return deepglass_defaults(workload, jit_compile=True)


def deepglass_eager(workload):
    """deepglass with `compile(..., run_eagerly=True)` (GPU only): every step op by op, where the default replays
    its forward and backward pass from a CUDA graph."""
    return deepglass_defaults(workload, run_eagerly=True)


def deepglass_mixed(workload):
    """deepglass under `mixed_float16` (GPU only): float16 computation under torch.autocast, float32 weights, loss
    scaling. The policy is set while the model is built and put back after, so the other contenders stay float32."""
    import deepglass
    previous = deepglass.mixed_precision.global_policy()
    deepglass.mixed_precision.set_global_policy("mixed_float16")
    try:
        return deepglass_defaults(workload)
    finally:
        deepglass.mixed_precision.set_global_policy(previous)


def torch_tutorial(workload):
    """A loop as the PyTorch tutorials write it: a shuffling DataLoader on the host, the model on the device and
    each batch moved there, a plain optimizer, model.train()."""
    device = devices.current()
    model = torch_model(workload).to(device)
    optimizer = torch_optimizer(workload, model.parameters())
    loader = torch.utils.data.DataLoader(tensor_dataset(workload), batch_size=workload.batch_size, shuffle=True)
    loss_fn = torch_loss(workload)

    def epoch():
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
    return epoch


def torch_tuned(workload):
    """The fastest plain loop we can write: data on the device, indexed batches (the shuffled order made there too),
    a fused optimizer, channels-last, gradients set to None."""
    return tuned_loop(workload)[1]


def tuned_loop(workload):
    """The tuned loop's model (channels-last for images) on the run's device, and its epoch function."""
    device = devices.current()
    model = torch_model(workload).to(device)
    x = torch_inputs(workload, torch.from_numpy(workload.x).to(device))
    if x.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(workload.y).to(device)
    optimizer = torch_optimizer(workload, model.parameters(), fused=True)
    loss_fn = torch_loss(workload)
    size = workload.batch_size

    def epoch():
        model.train()
        order = torch.randperm(len(x), device=device)
        for start in range(0, len(x), size):
            index = order[start:start + size]
            loss = loss_fn(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model, epoch


def import_keras():
    """Keras 3 on its PyTorch backend, on the run's device; it reads KERAS_TORCH_DEVICE (set by
    `devices.selected`) when first imported, so one imported earlier on another device cannot take part."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    if keras.backend.backend() == "torch":
        from keras.src.backend.torch.core import get_device
        if torch.device(get_device()).type != devices.current().type:
            raise Unavailable(f"keras was imported on {get_device()} before this run chose {devices.current()}; "
                              "run the benchmarks in a fresh process")
    return keras


def keras3(workload):
    keras = import_keras()
    model = keras_model(keras, workload)
    model.compile(optimizer=keras_optimizer(keras, workload), loss=workload.loss)
    return lambda: model.fit(workload.x, workload.y, batch_size=workload.batch_size, epochs=1, verbose=0)


def lightning(workload):
    """PyTorch Lightning with its extras off (no progress bar, logger, checkpoints or summary): a fresh Trainer
    runs each epoch on the tutorial loop's model, data loader and optimizer, on the run's device (Lightning moves
    the model there at the start of each fit and back to the CPU at its end, and each batch as it comes)."""
    import lightning as L
    quiet_lightning()
    network = torch_model(workload)
    loss_fn = torch_loss(workload)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.network = network

        def training_step(self, batch, index):
            x, y = batch
            return loss_fn(self.network(x), y)

        def configure_optimizers(self):
            return torch_optimizer(workload, self.parameters())

    module = Module()
    loader = torch.utils.data.DataLoader(tensor_dataset(workload), batch_size=workload.batch_size, shuffle=True)
    accelerator = "gpu" if devices.is_cuda() else "cpu"

    def epoch():
        trainer = L.Trainer(max_epochs=1, accelerator=accelerator, devices=1, enable_progress_bar=False, logger=False,
                            enable_checkpointing=False, enable_model_summary=False)
        with keeping_cuda_caches():
            trainer.fit(module, loader)
    return epoch


@contextlib.contextmanager
def keeping_cuda_caches():
    """Lightning empties torch's CUDA cache and frees cuBLAS's workspaces as each Trainer starts and ends. The suite
    makes a Trainer per epoch, so the contender after Lightning in each repetition would grow the cache and the
    workspaces again inside its own timed run (64 MB of cuBLAS workspaces on an H200, and the time to allocate it
    all). Here that clearing is off, which can only make Lightning faster."""
    from lightning.fabric.accelerators import cuda as fabric_cuda
    from lightning.pytorch.accelerators import cuda as trainer_cuda
    keep = lambda: None  # noqa: E731
    with mock.patch.object(fabric_cuda, "_clear_cuda_memory", keep), \
            mock.patch.object(trainer_cuda, "_clear_cuda_memory", keep):
        yield


def quiet_lightning():
    """Silence Lightning's per-fit banners and its advice to add loader workers (the loader is the same as the
    tutorial loop's on purpose)."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # torch deprecates an API Lightning still calls


def tensor_dataset(workload):
    return torch.utils.data.TensorDataset(torch_inputs(workload, torch.from_numpy(workload.x)),
                                          torch.from_numpy(workload.y))


CONTENDERS = {"deepglass": deepglass_defaults, "deepglass (run_eagerly)": deepglass_eager,
              "deepglass (jit_compile)": deepglass_jit, "deepglass (mixed_float16)": deepglass_mixed,
              "torch (tutorial)": torch_tutorial, "torch (tuned)": torch_tuned, "keras 3": keras3,
              "lightning": lightning}
BASELINE = "torch (tutorial)"
TUNED = "torch (tuned)"  # the ceiling: the fastest loop written by hand
# Contenders measured on a GPU alone, and why.
GPU_ONLY = {"deepglass (run_eagerly)": "on a CPU it is the default, which never uses CUDA graphs",
            "deepglass (mixed_float16)": "a CPU computes float16 more slowly than float32"}
PACKAGES = {"keras 3": "keras", "lightning": "lightning"}  # the optional contenders (`pip install -e ".[bench]"`)


def available():
    """The contenders whose packages are installed, and a note for each that is missing."""
    ready, notes = [], []
    for name in CONTENDERS:
        package = PACKAGES.get(name)
        if name in GPU_ONLY and not devices.is_cuda():
            notes.append(f"{name}: GPU only ({GPU_ONLY[name]}); left out")
        elif package and importlib.util.find_spec(package) is None:
            notes.append(f"{name}: not installed (pip install {package}, or pip install -e \".[bench]\"); left out")
        else:
            ready.append(name)
    return ready, notes


def steps_per_epoch(workload):
    return int(np.ceil(len(workload.x) / workload.batch_size))
