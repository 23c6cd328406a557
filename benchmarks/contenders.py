"""The contenders: each prepares a workload and returns a function that trains one epoch over its data."""
import importlib.util
import os

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.workloads import channels_first, keras_model, torch_model


def _torch_loss(workload):
    return F.cross_entropy if workload.loss == "sparse_categorical_crossentropy" else F.mse_loss


def deepglass_defaults(workload):
    import deepglass
    model = keras_model(deepglass, workload)
    model.compile(optimizer=workload.optimizer, loss=workload.loss)
    return lambda: model.fit(workload.x, workload.y, batch_size=workload.batch_size, epochs=1, verbose=0)


def torch_tutorial(workload):
    """A loop as the PyTorch tutorials write it: a shuffling DataLoader, default Adam, model.train()."""
    model = torch_model(workload)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    dataset = torch.utils.data.TensorDataset(channels_first(torch.from_numpy(workload.x)),
                                             torch.from_numpy(workload.y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=workload.batch_size, shuffle=True)
    loss_fn = _torch_loss(workload)

    def epoch():
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
    return epoch


def torch_tuned(workload):
    """The fastest plain loop we can write: data on the device, indexed batches, fused Adam, channels-last."""
    model = torch_model(workload)
    x = channels_first(torch.from_numpy(workload.x))
    if x.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(workload.y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = _torch_loss(workload)
    size = workload.batch_size

    def epoch():
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), size):
            index = order[start:start + size]
            loss = loss_fn(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epoch


def keras3(workload):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    model = keras_model(keras, workload)
    model.compile(optimizer=workload.optimizer, loss=workload.loss)
    return lambda: model.fit(workload.x, workload.y, batch_size=workload.batch_size, epochs=1, verbose=0)


def lightning(workload):
    import lightning as L

    network = torch_model(workload)
    loss_fn = _torch_loss(workload)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.network = network

        def training_step(self, batch, index):
            x, y = batch
            return loss_fn(self.network(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    module = Module()
    dataset = torch.utils.data.TensorDataset(channels_first(torch.from_numpy(workload.x)),
                                             torch.from_numpy(workload.y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=workload.batch_size, shuffle=True)

    def epoch():
        trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, enable_progress_bar=False, logger=False,
                            enable_checkpointing=False, enable_model_summary=False)
        trainer.fit(module, loader)
    return epoch


CONTENDERS = {"deepglass": deepglass_defaults, "torch (tutorial)": torch_tutorial, "torch (tuned)": torch_tuned,
              "keras 3": keras3, "lightning": lightning}
BASELINE = "torch (tutorial)"


def available():
    """The contenders whose packages are installed, and a note for each that is missing."""
    missing = {"keras 3": "keras", "lightning": "lightning"}
    ready, notes = [], []
    for name in CONTENDERS:
        package = missing.get(name)
        if package and importlib.util.find_spec(package) is None:
            notes.append(f"{name}: not installed (pip install {package}); left out")
        else:
            ready.append(name)
    return ready, notes


def steps_per_epoch(workload):
    return int(np.ceil(len(workload.x) / workload.batch_size))
