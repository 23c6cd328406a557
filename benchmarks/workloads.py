"""The workloads: an architecture written once as layer specs, built for each framework, plus data and settings."""
import dataclasses

import numpy as np
import torch
from torch import nn

from benchmarks import data
from benchmarks.resnet import keras_resnet8, torch_resnet8

SIZES = ("full", "quick", "smoke")  # all the data; a quarter of it; two batches of each workload (a smoke test)


class Unavailable(Exception):
    """A contender cannot build a workload (a layer its version lacks); the run notes it and goes on."""


@dataclasses.dataclass
class Workload:
    name: str
    description: str
    layers: list  # ("dense", units, activation) | ("conv", rank, filters, kernel, padding, activation)
    #               | ("maxpool", rank, size) | ("dropout", rate) | ("flatten",) | ("gap", rank) | ("lstm", units)
    #               | ("resnet8", classes): the whole network (benchmarks.resnet)
    x: object
    y: object
    batch_size: int
    loss: str  # "sparse_categorical_crossentropy" or "mse"
    optimizer: tuple = ("adam", {})  # a Keras optimizer name and its arguments, the same for every contender
    source: str = ""
    contenders: tuple = None  # the contenders that run it (None: all)
    kind: str = "train"  # "train": epochs of fit; "inference": passes of predict and evaluate
    overhead_probe: bool = False  # also measure each contender's time outside PyTorch's operators (benchmarks.overhead)

    @property
    def classes(self):
        return self.layers[-1][1]

    @property
    def sequential_input(self):
        """True when x is (batch, time, features): PyTorch takes it as it is, without moving the channels."""
        return any(spec[0] == "lstm" for spec in self.layers)


def course_cnn():
    return [("conv", 2, 32, 3, "same", "relu"), ("conv", 2, 32, 3, "valid", "relu"), ("maxpool", 2, 2),
            ("dropout", 0.25), ("conv", 2, 64, 3, "same", "relu"), ("conv", 2, 64, 3, "valid", "relu"),
            ("maxpool", 2, 2), ("dropout", 0.25), ("flatten",), ("dense", 512, "relu"), ("dropout", 0.5),
            ("dense", 10, "softmax")]


W2_DESCRIPTION = "course CNN (2x Conv32, pool, 2x Conv64, pool, Dense512)"


def all_workloads(size="full"):
    """Every workload with its data; `size` is one of SIZES."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}; got {size!r}.")

    def count(full, batch):  # samples for a workload of `full` samples at batch size `batch`
        return {"full": full, "quick": max(full // 4, batch), "smoke": 2 * batch}[size]

    def batch(full):  # smaller batches keep the smoke run to a few seconds
        return max(8, full // 16) if size == "smoke" else full

    b128, b64, b32, b1024 = batch(128), batch(64), batch(32), batch(1024)
    images, labels, source = data.fashion_mnist(max(count(6400, b128), count(4096, b1024)))
    spectra, spectra_labels = data.spectra(count(1280, b64))
    table, targets = data.tabular(count(6400, b32))
    pictures, picture_labels = data.cifar_like(count(2560, b128))
    time_steps = 10 if size == "smoke" else 100
    series, series_targets = data.sequences(count(1280, b64), time_steps)
    small = count(6400, b128)
    cnn = count(3200, b128)  # W2, and F1, F2 and I1, which train its model: 25 steps of about 0.1 s an epoch
    launches = count(800, batch(4))  # L1: 8x8 crops of the W4 pictures
    return [
        Workload("W1", f"MLP 784-512-512-10, batch {b128}, Adam", [("flatten",), ("dense", 512, "relu"),
                 ("dense", 512, "relu"), ("dense", 10, "softmax")], images[:small], labels[:small], b128,
                 "sparse_categorical_crossentropy", source=source),
        Workload("W2", f"{W2_DESCRIPTION}, batch {b128}, Adam", course_cnn(), images[:cnn], labels[:cnn], b128,
                 "sparse_categorical_crossentropy", source=source),
        Workload("W3", f"1-D CNN on 1000-point spectra (3x Conv1D+pool, GAP, Dense), batch {b64}, Adam",
                 [("conv", 1, 16, 7, "same", "relu"), ("maxpool", 1, 2), ("conv", 1, 32, 7, "same", "relu"),
                  ("maxpool", 1, 2), ("conv", 1, 64, 7, "same", "relu"), ("maxpool", 1, 2), ("gap", 1),
                  ("dense", 5, "softmax")], spectra, spectra_labels, b64, "sparse_categorical_crossentropy",
                 source="synthetic spectra"),
        Workload("W4", f"ResNet-8 with BatchNormalization on 32x32x3 (16/32/64 filters), batch {b128}, "
                 "SGD(momentum=0.9)", [("resnet8", 10)], pictures, picture_labels, b128,
                 "sparse_categorical_crossentropy", ("sgd", {"learning_rate": 0.01, "momentum": 0.9}),
                 source="random CIFAR-shaped"),
        Workload("W5", f"overhead probe: MLP 32-64-64-1, batch {b32}, Adam, MSE",
                 [("dense", 64, "relu"), ("dense", 64, "relu"), ("dense", 1, None)], table, targets, b32, "mse",
                 source="synthetic regression", overhead_probe=True),
        Workload("W6", f"predict and evaluate of the W2 {W2_DESCRIPTION}, batch {b1024}", course_cnn(),
                 images[:count(4096, b1024)], labels[:count(4096, b1024)], b1024,
                 "sparse_categorical_crossentropy", source=source, kind="inference"),
        Workload("L1", f"ResNet-8 (W4's network) on 8x8x3 images, batch {batch(4)}, SGD(momentum=0.9): a step made "
                 "almost only of operator launches, as a small model's step is on a GPU",
                 [("resnet8", 10)], np.ascontiguousarray(pictures[:launches, :8, :8]), picture_labels[:launches],
                 batch(4), "sparse_categorical_crossentropy", ("sgd", {"learning_rate": 0.01, "momentum": 0.9}),
                 source="random CIFAR-shaped, cropped", contenders=("deepglass", "torch (tutorial)", "torch (tuned)")),
        Workload("W8", f"LSTM(128) on sequences of {time_steps} steps x 32 features, Dense(1), batch {b64}, "
                 "Adam, MSE",
                 [("lstm", 128), ("dense", 1, None)], series, series_targets, b64, "mse",
                 source="synthetic sequences",
                 contenders=("deepglass", "torch (tutorial)", "torch (tuned)", "keras 3")),
    ]


def keras_model(lib, workload):
    """The workload's model in a Keras-API library (deepglass or Keras itself)."""
    if workload.layers[0][0] == "resnet8":
        return keras_resnet8(lib, workload.x.shape[1:], workload.classes)
    layers = [lib.Input(workload.x.shape[1:])]
    for spec in workload.layers:
        kind = spec[0]
        if kind == "dense":
            layers.append(lib.layers.Dense(spec[1], activation=spec[2]))
        elif kind == "conv":
            conv = {1: lib.layers.Conv1D, 2: lib.layers.Conv2D}[spec[1]]
            layers.append(conv(spec[2], spec[3], padding=spec[4], activation=spec[5]))
        elif kind == "maxpool":
            layers.append({1: lib.layers.MaxPooling1D, 2: lib.layers.MaxPooling2D}[spec[1]](spec[2]))
        elif kind == "dropout":
            layers.append(lib.layers.Dropout(spec[1]))
        elif kind == "flatten":
            layers.append(lib.layers.Flatten())
        elif kind == "gap":
            layers.append({1: lib.layers.GlobalAveragePooling1D, 2: lib.layers.GlobalAveragePooling2D}[spec[1]]())
        elif kind == "lstm":
            layers.append(_layer(lib, "LSTM")(spec[1]))
    return lib.Sequential(layers)


def _layer(lib, name):
    """A layer class looked up when it is used, so a library without it skips the workload instead of failing."""
    layer = getattr(lib.layers, name, None)
    if layer is None:
        raise Unavailable(f"{lib.__name__}.layers.{name} does not exist in this version")
    return layer


class LastStep(nn.Module):
    """An LSTM returning its output at the last time step, as Keras's LSTM does by default."""

    def __init__(self, features, units):
        super().__init__()
        self.lstm = nn.LSTM(features, units, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0][:, -1]


def torch_model(workload):
    """The workload's model in plain PyTorch, channels-first, ending in logits (as PyTorch code is written)."""
    if workload.layers[0][0] == "resnet8":
        return torch_resnet8(workload.x.shape[-1], workload.classes)
    modules = []
    activations = {"relu": nn.ReLU, "softmax": None, None: None}
    for spec in workload.layers:
        kind = spec[0]
        if kind == "dense":
            modules.append(nn.LazyLinear(spec[1]))
            if activations[spec[2]]:
                modules.append(activations[spec[2]]())
        elif kind == "conv":
            conv = {1: nn.LazyConv1d, 2: nn.LazyConv2d}[spec[1]]
            modules.append(conv(spec[2], spec[3], padding="same" if spec[4] == "same" else 0))
            modules.append(activations[spec[5]]())
        elif kind == "maxpool":
            modules.append({1: nn.MaxPool1d, 2: nn.MaxPool2d}[spec[1]](spec[2]))
        elif kind == "dropout":
            modules.append(nn.Dropout(spec[1]))
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "gap":
            modules.append({1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}[spec[1]](1))
            modules.append(nn.Flatten())
        elif kind == "lstm":
            modules.append(LastStep(workload.x.shape[-1], spec[1]))
    model = nn.Sequential(*modules)
    with torch.no_grad():
        model(torch_inputs(workload, torch.from_numpy(workload.x[:2])))
    return model


def torch_inputs(workload, x):
    """x as the workload's PyTorch model takes it: channels first for images and spectra, as it is for sequences."""
    return x if workload.sequential_input else channels_first(x)


def channels_first(x):
    """(N, ..., C) -> (N, C, ...) for convolution inputs; vectors stay as they are."""
    return x.movedim(-1, 1) if x.dim() > 2 else x
