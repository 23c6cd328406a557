"""Model configs in Keras 3's format: functional graphs (several inputs and outputs, shared layers, nested models)
and Sequential rebuild from their configs, agree with the configs Keras writes for the same models, and configs
written by Keras load."""
import json

import numpy as np
import pytest
import torch

import deepglass

keras = pytest.importorskip("keras")


def graph(lib):
    """The same multi-input, multi-output model with a layer shared at two depths and a nested Sequential, built with
    `lib` (deepglass or keras)."""
    a = lib.Input((8,), name="a")
    b = lib.Input((8,), name="b")
    shared = lib.layers.Dense(8, name="shared")
    h = shared(a)
    g = lib.layers.Dense(8, name="pre")(b)
    s = lib.layers.Add(name="add")([h, shared(g)])
    inner = lib.Sequential([lib.Input((8,)), lib.layers.Dense(3, name="inner_dense")], name="inner")
    out1 = inner(s)
    out2 = lib.layers.Dense(2, activation="softmax", name="head")(shared(s))
    return lib.Model([a, b], [out1, out2], name="net")


def nested_functional(lib):
    i = lib.Input((4,), name="ii")
    inner = lib.Model(i, lib.layers.Dense(3, name="di")(i), name="innerf")
    x = lib.Input((4,), name="x")
    y = inner(x)
    return lib.Model(x, {"z": lib.layers.Dense(2, name="after")(y), "y": y}, name="outer")


def inputs(model, batch=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]


def outputs(model, x):
    with torch.no_grad():
        result = model([torch.from_numpy(v) for v in x] if len(x) > 1 else torch.from_numpy(x[0]))
    return [t.numpy() for t in deepglass.utils.tree.flatten(result)]


def structure(config):
    """A config reduced to what describes the graph: layer names, classes and calls, inputs and outputs."""
    layers = [(entry["name"], entry["class_name"], json.dumps(entry["inbound_nodes"], sort_keys=True))
              for entry in config["layers"]]
    return layers, config["input_layers"], config["output_layers"]


@pytest.mark.parametrize("make", [graph, nested_functional])
def test_functional_config_round_trip_gives_the_same_graph(make):
    model = make(deepglass)
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = deepglass.Model.from_config(config)
    assert type(rebuilt).__name__ == "Functional"
    assert structure(rebuilt.get_config()) == structure(config)
    rebuilt.set_weights(model.get_weights())
    x = inputs(model)
    for mine, theirs in zip(outputs(model, x), outputs(rebuilt, x), strict=True):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("make", [graph, nested_functional])
def test_functional_config_matches_keras(make):
    ours, theirs = make(deepglass).get_config(), make(keras).get_config()
    assert set(ours) == set(theirs) == {"name", "trainable", "layers", "input_layers", "output_layers"}
    assert structure(ours) == structure(json.loads(json.dumps(theirs)))
    for mine, keras_entry in zip(ours["layers"], theirs["layers"]):
        assert set(mine) == set(keras_entry) - {"compile_config"}  # Keras adds {} for uncompiled nested models


@pytest.mark.parametrize("make", [graph, nested_functional])
def test_keras_functional_config_loads(make):
    source = make(keras)
    config = json.loads(json.dumps(source.get_config()))
    model = deepglass.Model.from_config(config)
    assert [layer.name for layer in deepglass.saving.functional_config.model_layers(model)] == \
        [layer.name for layer in source.layers]
    model.set_weights([np.asarray(w) for w in source.get_weights()])
    x = inputs(model)
    expected = source.predict(x if len(x) > 1 else x[0], verbose=0)
    expected = [expected[k] for k in config["output_layers"]] if isinstance(expected, dict) else expected
    for mine, theirs in zip(outputs(model, x), expected, strict=True):
        np.testing.assert_allclose(mine, np.asarray(theirs), atol=1e-6)


def test_keras_layer_order_on_a_graph_with_shared_layers_at_several_depths():
    def make(lib):
        x = lib.Input((4,), name="x")
        a, b = lib.layers.Dense(4, name="a"), lib.layers.Dense(4, name="b")
        y = a(b(a(b(x))))
        z = lib.layers.Concatenate(name="cat")([y, b(x)])
        return lib.Model(x, [z, a(x)])
    ours = deepglass.saving.functional_config.model_layers(make(deepglass))
    assert [layer.name for layer in ours] == [layer.name for layer in make(keras).layers]
    model = make(deepglass)
    rebuilt = deepglass.Model.from_config(json.loads(json.dumps(model.get_config())))
    rebuilt.set_weights(model.get_weights())
    x = inputs(model)
    for mine, theirs in zip(outputs(model, x), outputs(rebuilt, x), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def sequential(lib):
    return lib.Sequential([lib.Input((6,)), lib.layers.Dense(4, activation="relu"), lib.layers.Dropout(0.1),
                           lib.layers.Dense(2)], name="seq")


def test_sequential_config_has_keras_format():
    ours, theirs = sequential(deepglass).get_config(), json.loads(json.dumps(sequential(keras).get_config()))
    assert set(ours) == set(theirs)
    assert ours["dtype"] == {key: value for key, value in theirs["dtype"].items() if key != "shared_object_id"}
    assert ours["build_input_shape"] == theirs["build_input_shape"]
    for mine, keras_entry in zip(ours["layers"], theirs["layers"], strict=True):
        assert set(mine) == set(keras_entry)
        assert (mine["module"], mine["class_name"], mine.get("build_config")) == \
            (keras_entry["module"], keras_entry["class_name"], keras_entry.get("build_config"))


def test_sequential_configs_go_both_ways():
    config = json.loads(json.dumps(sequential(keras).get_config()))
    model = deepglass.Sequential.from_config(config)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense"]
    back = keras.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    assert [type(layer).__name__ for layer in back.layers] == ["Dense", "Dropout", "Dense"]
    assert back.input_shape == (None, 6)


def test_sequential_without_input_is_built_from_build_input_shape():
    model = deepglass.Sequential([deepglass.layers.Dense(3)])
    model.build((None, 5))
    rebuilt = deepglass.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    assert rebuilt.built and rebuilt.layers[0].kernel.shape == model.layers[0].kernel.shape


def test_to_json_and_model_from_json():
    model = graph(deepglass)
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"])
    twin = deepglass.models.model_from_json(model.to_json())
    assert twin.compiled and type(twin.optimizer).__name__ == "Adam"
    assert structure(twin.get_config()) == structure(model.get_config())


def test_clone_model_has_the_architecture_and_new_weights():
    for model in (graph(deepglass), sequential(deepglass)):
        clone = deepglass.models.clone_model(model)
        assert structure_of(clone) == structure_of(model)
        assert all(a is not b for a, b in zip(clone.weights, model.weights))
        assert not all(np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights()))
        clone.set_weights(model.get_weights())
        x = inputs(model)
        for mine, theirs in zip(outputs(model, x), outputs(clone, x), strict=True):
            np.testing.assert_array_equal(mine, theirs)


def structure_of(model):
    return [(type(layer).__name__, [w.shape for w in layer.get_weights()]) for layer in model.layers]


def test_clone_model_with_clone_function_and_input_tensors():
    model = sequential(deepglass)
    shared = deepglass.models.clone_model(model, clone_function=lambda layer: layer)
    assert all(a is b for a, b in zip(shared.layers, model.layers))
    functional = graph(deepglass)
    new_inputs = [deepglass.Input((8,), name="p"), deepglass.Input((8,), name="q")]
    clone = deepglass.models.clone_model(functional, input_tensors=new_inputs)
    assert clone.inputs == new_inputs


def test_clone_model_refuses_subclassed_models():
    class Net(deepglass.Model):
        def __init__(self):
            super().__init__()
            self.dense = deepglass.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ValueError, match="subclassed"):
        deepglass.models.clone_model(Net())
