"""Sequential, functional and subclassed models: structure, weights and outputs, checked against Keras."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from tests.layer_conformance import keras_or_none

keras = keras_or_none()
needs_keras = pytest.mark.skipif(keras is None, reason="the Keras oracle is not installed")


def mlp(lib):
    return lib.Sequential([lib.Input((784,)), lib.layers.Dense(512, activation="relu", name="hidden"),
                           lib.layers.Dropout(0.2, name="drop"), lib.layers.Dense(10, activation="softmax",
                                                                                   name="out")])


def two_branch(lib):
    inputs = lib.Input((8,), name="features")
    a = lib.layers.Dense(4, activation="relu", name="a")(inputs)
    b = lib.layers.Dense(3, name="b")(inputs)
    head = lib.layers.Dense(2, name="head")(a)
    return lib.Model(inputs, [head, b], name="branchy")


def nested(lib):
    block = lib.Sequential([lib.Input((6,)), lib.layers.Dense(5, name="inner")], name="block")
    inputs = lib.Input((6,), name="x")
    return lib.Model(inputs, lib.layers.Dense(2, name="outer")(block(inputs)), name="nested")


@needs_keras
@pytest.mark.parametrize("build", [mlp, two_branch, nested])
def test_same_structure_weights_and_outputs_as_keras(build):
    mine, theirs = build(deepglass), build(keras)
    assert [layer.name for layer in mine.layers] == [layer.name for layer in theirs.layers]
    assert mine.count_params() == theirs.count_params()
    assert [w.shape for w in mine.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    theirs.set_weights(mine.get_weights())
    x = np.random.default_rng(1).standard_normal((5,) + tuple(mine.inputs[0].shape[1:])).astype("float32")
    ours = mine.predict(x, verbose=0)
    expected = theirs.predict(x, verbose=0)
    for a, b in zip(ours if isinstance(ours, list) else [ours], expected if isinstance(expected, list) else [expected]):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_sequential_add_pop_and_legacy_input_shape():
    model = deepglass.Sequential()
    model.add(layers.Dense(8, input_shape=(4,)))
    model.add(layers.Dense(2))
    assert model.output_shape == (None, 2) and model.built
    popped = model.pop()
    assert popped.units == 2 and model.output_shape == (None, 8)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense"]


def test_deferred_sequential_builds_on_first_call():
    model = deepglass.Sequential([layers.Dense(3), layers.Dense(1)])
    assert not model.built
    model(torch.ones(2, 5))
    assert model.built and model.input_shape == (None, 5) and model.count_params() == 5 * 3 + 3 + 4


def test_sequential_wraps_plain_torch_modules():
    model = deepglass.Sequential([deepglass.Input((4,)), torch.nn.Linear(4, 2)])
    assert isinstance(model.layers[0], layers.TorchModuleWrapper)
    assert model.output_shape == (None, 2) and model.count_params() == 10


def test_train_and_eval_switch_every_module_as_torch_does():
    class Switching(torch.nn.Linear):  # a torch module that does something of its own when switched
        def train(self, mode=True):
            self.switched_to = mode
            return super().train(mode)
    inner = Switching(4, 4)
    model = deepglass.Sequential([deepglass.Input((4,)), inner, layers.Dropout(0.5), layers.Dense(2)])
    assert model.eval() is model and inner.switched_to is False
    assert not any(module.training for module in model.modules())
    assert model.train() is model and inner.switched_to is True
    assert all(module.training for module in model.modules())
    with pytest.raises(ValueError, match="expected to be boolean; got 'yes'"):
        model.train("yes")


def test_shared_layer_is_called_twice_with_one_set_of_weights():
    shared = layers.Dense(3, name="shared")
    left, right = deepglass.Input((4,)), deepglass.Input((4,))
    model = deepglass.Model([left, right], [shared(left), shared(right)])
    assert model.count_params() == 15
    a, b = torch.ones(2, 4), torch.zeros(2, 4)
    out_a, out_b = model([a, b])
    assert torch.allclose(out_a, shared(a)) and torch.allclose(out_b, shared(b))


def test_dict_inputs_are_matched_by_name_in_any_key_order():
    first, second = deepglass.Input((2,), name="first"), deepglass.Input((3,), name="second")
    joined = layers.Lambda(lambda xs: torch.cat(xs, dim=-1))([first, second])
    model = deepglass.Model({"first": first, "second": second}, joined)
    a, b = torch.arange(8.0).view(4, 2), -torch.arange(12.0).view(4, 3)
    for given in ({"first": a, "second": b}, {"second": b, "first": a}):
        assert torch.equal(model(given), torch.cat([a, b], dim=-1))
        np.testing.assert_array_equal(model.predict({k: v.numpy() for k, v in given.items()}, verbose=0),
                                      torch.cat([a, b], dim=-1).numpy())
    with pytest.raises(ValueError, match=r"inputs named \['first', 'second'\]; the dict given lacks \['second'\]"):
        model({"first": a})


def test_graph_disconnected_error_names_the_missing_input():
    a, b = deepglass.Input((2,), name="a"), deepglass.Input((2,), name="b")
    out = layers.Lambda(lambda xs: xs[0] + xs[1])([a, b])
    with pytest.raises(ValueError, match="Graph disconnected.*'b'"):
        deepglass.Model(a, out)


def test_duplicate_layer_names_are_refused():
    inputs = deepglass.Input((2,))
    x = layers.Dense(2, name="same")(inputs)
    with pytest.raises(ValueError, match="unique"):
        deepglass.Model(inputs, layers.Dense(2, name="same")(x))


def test_subclassed_model_trains_and_lists_its_layers():
    class TwoLayer(deepglass.Model):
        def __init__(self):
            super().__init__(name="two_layer")
            self.hidden = layers.Dense(8, activation="relu")
            self.drop = layers.Dropout(0.5)
            self.out = layers.Dense(1)

        def call(self, inputs, training=False):
            return self.out(self.drop(self.hidden(inputs), training=training))

    model = TwoLayer()
    model.build((None, 3))
    assert [layer.name for layer in model.layers] == ["dense", "dropout", "dense_1"]
    assert model.count_params() == 3 * 8 + 8 + 9
    x = np.random.default_rng(0).standard_normal((64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model.compile(optimizer="sgd", loss="mse")
    before = model.evaluate(x, y, verbose=0)  # without dropout's noise, which can hide three epochs of progress
    model.fit(x, y, epochs=3, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.9 * before


def stack_in_a_list(lib):
    """A subclassed model whose layers sit in a list and a dict, as Keras code often keeps them."""
    class Stack(lib.Model):
        def __init__(self):
            super().__init__(name="stack")
            self.blocks = [lib.layers.Dense(8, activation="relu"), lib.layers.Dense(8, activation="relu")]
            self.heads = {"mean": lib.layers.Dense(2), "scale": lib.layers.Dense(2)}

        def call(self, inputs):
            for block in self.blocks:
                inputs = block(inputs)
            return self.heads["mean"](inputs) + self.heads["scale"](inputs)
    model = Stack()
    model(np.zeros((1, 5), dtype="float32"))
    return model


@needs_keras
def test_layers_held_in_lists_and_dicts_are_tracked_as_keras_tracks_them():
    mine, theirs = stack_in_a_list(deepglass), stack_in_a_list(keras)
    assert mine.count_params() == theirs.count_params() == 5 * 8 + 8 + 8 * 8 + 8 + 2 * (8 * 2 + 2)
    assert [w.shape for w in mine.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert len(mine.layers) == len(theirs.layers) == 4
    theirs.set_weights(mine.get_weights())
    x = np.random.default_rng(2).standard_normal((6, 5)).astype("float32")
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


def test_layers_held_in_a_list_train_freeze_and_save(tmp_path):
    model = stack_in_a_list(deepglass)
    assert isinstance(model.blocks, torch.nn.ModuleList) and isinstance(model.heads, torch.nn.ModuleDict)
    model.compile(optimizer="adam", loss="mse")
    first = model.blocks[0].get_weights()[0]  # fit moves the weights to the training device
    x = np.random.default_rng(3).standard_normal((32, 5)).astype("float32")
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    assert not np.array_equal(first, model.blocks[0].get_weights()[0])
    model.trainable = False
    assert not model.blocks[1].trainable and not model.heads["scale"].kernel.requires_grad
    model.trainable = True
    model.save_weights(tmp_path / "stack.weights.h5")
    copy = stack_in_a_list(deepglass)
    copy.load_weights(tmp_path / "stack.weights.h5")
    np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


def test_lists_that_are_not_all_layers_stay_lists():
    layer = layers.Dense(2)
    layer.sizes, layer.mixed, layer.empty = [1, 2], [layers.Dense(2), "relu"], []
    assert layer.sizes == [1, 2] and type(layer.mixed) is list and layer.empty == []
    assert list(layer._modules) == []


def test_model_weights_properties_and_get_layer():
    model = mlp(deepglass)
    assert model.get_layer("hidden") is model.layers[0] and model.get_layer(index=-1).name == "out"
    with pytest.raises(ValueError, match="no layer named 'missing'"):
        model.get_layer("missing")
    assert len(model.weights) == 4 and len(model.trainable_weights) == 4
    model.get_layer("hidden").trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    assert set(model.state_dict()) == {"hidden.kernel", "hidden.bias", "out.kernel", "out.bias"}


def test_functional_model_as_torch_module_in_a_plain_loop():
    model = two_branch(deepglass)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(16, 8)
    model.train()
    first = None
    for _ in range(20):
        head, _ = model(x)
        loss = (head - 1).square().mean()
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first


def test_explicit_training_argument_in_the_graph_overrides_inference_mode():
    inputs = deepglass.Input((1000,))
    model = deepglass.Model(inputs, layers.Dropout(0.5)(inputs, training=True))  # Monte-Carlo dropout
    out = model.predict(np.ones((1, 1000), dtype="float32"), verbose=0)
    assert 0.3 < (out == 0).mean() < 0.7


def test_one_output_in_a_list_is_a_single_output_model():
    inputs = deepglass.Input((3,))
    model = deepglass.Model(inputs, [layers.Dense(2)(inputs)])
    assert model.output_shape == (None, 2)
    model.compile(optimizer="sgd", loss=["mse"])
    x = np.ones((4, 3), "float32")
    assert model.predict(x, verbose=0).shape == (4, 2)
    model.fit(x, np.zeros((4, 2), "float32"), verbose=0)
