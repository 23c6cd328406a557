"""Eager calls bring NumPy arrays and tensors to the device of the weights, as Keras does (a model trained on a GPU
is then called with CPU data). The `meta` device stands in for a GPU on machines without one."""
import numpy as np
import torch

import deepglass
from deepglass import layers


def model_on(device):
    model = deepglass.Sequential([deepglass.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    return model.to(device)


def test_arrays_and_tensors_go_to_the_weights_device():
    model = model_on("meta")
    for inputs in (np.ones((5, 3), "float32"), torch.ones(5, 3)):
        out = model(inputs)
        assert out.device.type == "meta" and out.shape == (5, 2)


def test_a_layer_follows_its_weights_from_device_to_device():
    dense = layers.Dense(2)
    dense(torch.ones(1, 3))
    assert dense._weights_device == torch.device("cpu")
    dense.to("meta")
    assert dense._weights_device == torch.device("meta") and dense(torch.ones(1, 3)).device.type == "meta"
    dense.to_empty(device="cpu")  # meta weights hold no values to copy back
    assert dense._weights_device == torch.device("cpu") and dense(np.ones((1, 3))).device.type == "cpu"


def test_masks_travel_with_their_tensors():
    model = deepglass.Sequential([deepglass.Input((4,), dtype="int64"), layers.Embedding(10, 3, mask_zero=True),
                                  layers.GlobalAveragePooling1D()])
    model.to("meta")
    ids = torch.tensor([[1, 2, 0, 0]])
    assert model(ids).device.type == "meta"


def test_a_sequential_without_input_built_by_fit_trains_on_the_chosen_device():
    # fit builds such a model from shapes (its layers make their weights on the CPU); they must then go to the
    # training device, not pull every batch back to the CPU.
    model = deepglass.Sequential([layers.Dense(4, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    deepglass.config.set_device("meta")
    try:
        outputs = model._checked_forward(torch.zeros(2, 5, device="meta"))
    finally:
        deepglass.config.set_device(None)
    assert outputs.device.type == "meta"
    assert {p.device.type for p in model.parameters()} == {"meta"}
