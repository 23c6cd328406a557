"""The workloads: an architecture written once as layer specs, built for each framework, plus data and settings."""
import dataclasses

import torch
from torch import nn

from benchmarks import data


@dataclasses.dataclass
class Workload:
    name: str
    description: str
    layers: list  # ("dense", units, activation) | ("conv", rank, filters, kernel, padding, activation)
    #               | ("maxpool", rank, size) | ("dropout", rate) | ("flatten",) | ("gap", rank)
    x: object
    y: object
    batch_size: int
    loss: str  # "sparse_categorical_crossentropy" or "mse"
    optimizer: str = "adam"
    source: str = ""

    @property
    def classes(self):
        return self.layers[-1][1]


def course_cnn():
    return [("conv", 2, 32, 3, "same", "relu"), ("conv", 2, 32, 3, "valid", "relu"), ("maxpool", 2, 2),
            ("dropout", 0.25), ("conv", 2, 64, 3, "same", "relu"), ("conv", 2, 64, 3, "valid", "relu"),
            ("maxpool", 2, 2), ("dropout", 0.25), ("flatten",), ("dense", 512, "relu"), ("dropout", 0.5),
            ("dense", 10, "softmax")]


def all_workloads(quick=False):
    scale = 4 if quick else 1
    images, labels, source = data.fashion_mnist(6400 // scale)
    spectra, spectra_labels = data.spectra(1280 // scale)
    table, targets = data.tabular(6400 // scale)
    return [
        Workload("W1", "MLP 784-512-512-10, batch 128, Adam", [("flatten",), ("dense", 512, "relu"),
                 ("dense", 512, "relu"), ("dense", 10, "softmax")], images, labels, 128,
                 "sparse_categorical_crossentropy", source=source),
        Workload("W2", "course CNN (2x Conv32, pool, 2x Conv64, pool, Dense512), batch 128, Adam", course_cnn(),
                 images, labels, 128, "sparse_categorical_crossentropy", source=source),
        Workload("W3", "1-D CNN on 1000-point spectra (3x Conv1D+pool, GAP, Dense), batch 64, Adam",
                 [("conv", 1, 16, 7, "same", "relu"), ("maxpool", 1, 2), ("conv", 1, 32, 7, "same", "relu"),
                  ("maxpool", 1, 2), ("conv", 1, 64, 7, "same", "relu"), ("maxpool", 1, 2), ("gap", 1),
                  ("dense", 5, "softmax")], spectra, spectra_labels, 64, "sparse_categorical_crossentropy",
                 source="synthetic spectra"),
        Workload("W5", "overhead probe: MLP 32-64-64-1, batch 32, Adam, MSE",
                 [("dense", 64, "relu"), ("dense", 64, "relu"), ("dense", 1, None)], table, targets, 32, "mse",
                 source="synthetic regression"),
    ]


def keras_model(lib, workload):
    """The workload's model in a Keras-API library (deepglass or Keras itself)."""
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
    return lib.Sequential(layers)


def torch_model(workload):
    """The workload's model in plain PyTorch, channels-first, ending in logits (as PyTorch code is written)."""
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
    model = nn.Sequential(*modules)
    with torch.no_grad():
        model(channels_first(torch.from_numpy(workload.x[:2])))
    return model


def channels_first(x):
    """(N, ..., C) -> (N, C, ...) for convolution inputs; vectors stay as they are."""
    return x.movedim(-1, 1) if x.dim() > 2 else x
