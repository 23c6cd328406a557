"""fit, evaluate and predict check a model's forward pass once per kind of input, and again after the model changes."""
import gc
import weakref

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.training.last_check import LastCheck


def counted(model, monkeypatch):
    """The sizes of the batches `model`'s checked forward passes run on, as they happen."""
    checks = []
    real = type(model)._checked_forward
    monkeypatch.setattr(type(model), "_checked_forward", lambda self, x: checks.append(len(x)) or real(self, x))
    return checks


def test_predict_checks_each_kind_of_input_once(monkeypatch):
    model = deepglass.Sequential([layers.Input((None, 3)), layers.GlobalAveragePooling1D(), layers.Dense(2)])
    checks = counted(model, monkeypatch)
    x = np.ones((10, 4, 3), "float32")
    first = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), first)
    assert checks == [2]
    model.predict(np.ones((10, 6, 3), "float32"), verbose=0)  # another length: another kind
    model.predict(np.ones((1, 6, 3), "float32"), verbose=0)  # one sample: checked on one
    model.predict(np.ones((10, 6, 3), "float64"), verbose=0)  # another dtype
    assert checks == [2, 2, 1, 2]


def test_a_changed_model_is_checked_again(monkeypatch):
    model = deepglass.Sequential([layers.Input((5,)), layers.Dense(4)])
    checks = counted(model, monkeypatch)
    x = np.ones((8, 5), "float32")
    model.predict(x, verbose=0)
    model.add(layers.Dense(3))
    assert model.predict(x, verbose=0).shape == (8, 3)
    model.pop()
    model.add(layers.Dense(4))
    assert model.predict(x, verbose=0).shape == (8, 4)
    assert checks == [2, 2, 2]


def test_a_wrong_input_after_a_right_one_still_gets_the_clear_error(monkeypatch):
    model = deepglass.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.ones((8, 5), "float32"), np.zeros(8, "int64")
    model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"expects input of shape \(None, 5\), got shape \(8, 6\)"):
        model.fit(np.ones((8, 6), "float32"), y, verbose=0)
    with pytest.raises(ValueError, match="labels from 0 to 7"):  # the labels are checked at every call
        model.evaluate(x, np.arange(8), verbose=0)



class DropoutInside(deepglass.Model):
    """A subclassed model whose call takes no `training` argument: its Dropout follows the module's mode."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(64)
        self.dropout = layers.Dropout(0.5)

    def call(self, x):
        return self.dropout(self.dense(x))


def test_predict_runs_in_inference_mode_when_its_check_is_skipped():
    model = DropoutInside()
    x = np.ones((8, 5), "float32")
    first = model.predict(x, verbose=0)
    model.train()  # left in training mode, as by an interrupted fit
    np.testing.assert_array_equal(model.predict(x, verbose=0), first)


def test_token_ids_are_checked_at_every_call(monkeypatch):
    # On a GPU an id out of range would otherwise reach the kernel, whose device-side assert ends the CUDA context.
    model = deepglass.Sequential([layers.Input((4,), dtype="int64"), layers.Embedding(10, 3), layers.Flatten()])
    checks = counted(model, monkeypatch)
    model.predict(np.zeros((6, 4), "int64"), verbose=0)
    model.predict(np.zeros((6, 4), "int64"), verbose=0)
    assert checks == [2, 2]
    bad = np.zeros((6, 4), "int64")
    bad[0, 1] = 12
    with pytest.raises(ValueError, match="received token id 12, but input_dim=10"):
        model.predict(bad, verbose=0)


def test_a_model_cast_to_half_precision_is_checked_again():
    model = deepglass.Sequential([layers.Input((5,)), layers.Dense(3)])
    check, x_few = LastCheck(), torch.ones(2, 5)
    check.remember(model, x_few, "outputs")
    assert check.outputs(model, x_few) == "outputs"
    model.half()
    assert check.outputs(model, x_few) is None


def test_a_removed_layer_is_not_kept_alive():
    model = deepglass.Sequential([layers.Input((5,)), layers.Dense(4), layers.Dense(3)])
    model.predict(np.ones((2, 5), "float32"), verbose=0)
    removed = weakref.ref(model.layers[-1])
    model.pop()
    gc.collect()
    assert removed() is None
