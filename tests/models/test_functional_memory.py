"""A functional model lets go of each intermediate value once no later layer reads it, as torch code holding its
activations in local variables does: the values autograd needs stay alive through autograd, and no others."""
import weakref

import pytest
import torch
from torch.overrides import TorchFunctionMode

import deepglass
from deepglass import layers


class Made(TorchFunctionMode):
    """Weak references to every tensor that a torch function returns while the mode is on."""

    def __init__(self):
        super().__init__()
        self.tensors = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for value in result if isinstance(result, (tuple, list)) else (result,):
            if isinstance(value, torch.Tensor):
                self.tensors.append(weakref.ref(value))
        return result

    def alive(self, rank):
        return sum(1 for ref in self.tensors if ref() is not None and ref().dim() == rank)


class Probe(layers.Layer):
    """Counts, when called, the tensors of its input's rank that the model's call made and that are still alive."""

    def __init__(self, made, **kwargs):
        super().__init__(**kwargs)
        self.made, self.alive = made, None

    def call(self, x):
        self.alive = self.made.alive(x.dim())
        return x


def image_net(made):
    inputs = deepglass.Input((8, 8, 3))
    x = layers.Activation("relu")(layers.BatchNormalization()(layers.Conv2D(4, 3, padding="same")(inputs)))
    y = layers.BatchNormalization()(layers.Conv2D(4, 3, padding="same")(x))
    x = layers.Activation("relu")(layers.Add()([x, y]))
    probe = Probe(made)
    outputs = layers.Dense(2)(layers.GlobalAveragePooling2D()(probe(x)))
    return deepglass.Model(inputs, outputs), probe, (2, 8, 8, 3)


def dense_net(made):
    inputs = deepglass.Input((6,))
    x = layers.Dense(5, activation="relu")(layers.Dense(5)(inputs))
    x = layers.Add()([x, layers.Dense(5)(x)])
    probe = Probe(made)
    return deepglass.Model(inputs, layers.Dense(2)(probe(x))), probe, (2, 6)


@pytest.mark.parametrize("build", [image_net, dense_net], ids=["channels-first run", "layer by layer"])
def test_only_the_value_being_read_is_alive_when_the_last_layers_run(build):
    made = Made()
    model, probe, shape = build(made)
    x = torch.randn(shape)
    model(x)  # a first call, outside the count, builds the model
    with torch.no_grad(), made:  # no autograd graph, which would keep what the backward pass needs
        model(x)
    # the probe's input, and on the channels-first run the channels-first value it is a view of
    assert probe.alive <= (2 if len(shape) == 4 else 1)
