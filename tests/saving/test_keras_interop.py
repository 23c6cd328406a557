"""Files go both ways between deepglass and Keras 3 (the oracle): `.keras`, `.weights.h5` and legacy `.h5`, for
Sequential and functional models of layers both have, with the same predictions; compile settings come along."""
import numpy as np
import pytest

import deepglass

keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Keras's notes on unbuilt metrics and optimizers


def cnn(lib):
    return lib.Sequential([lib.Input((8, 8, 2)), lib.layers.Conv2D(4, 3, padding="same", activation="relu"),
                           lib.layers.MaxPooling2D(), lib.layers.Conv2D(3, 2), lib.layers.AveragePooling2D(2),
                           lib.layers.Flatten(), lib.layers.Dropout(0.25), lib.layers.Dense(5, activation="softmax")])


def two_branch(lib):
    image = lib.Input((8, 8, 2), name="image")
    features = lib.Input((3,), name="features")
    x = lib.layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    x = lib.layers.MaxPooling2D(name="pool")(x)
    x = lib.layers.Flatten(name="flat")(x)
    x = lib.layers.Dense(6, activation="tanh", name="mix")(x)
    y = lib.layers.Dense(6, name="side")(features)
    z = lib.layers.Dropout(0.5, name="drop")(lib.layers.Add(name="add")([x, y]))
    return lib.Model([image, features], [lib.layers.Dense(2, name="out_a")(z), lib.layers.Dense(1, name="out_b")(z)])


def data(model):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]


def predictions(model, x):
    result = model.predict(x if len(x) > 1 else x[0], verbose=0)
    return [np.asarray(r) for r in (result if isinstance(result, list) else [result])]


def assert_close(a, b):
    for mine, theirs in zip(a, b, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def randomize(model, seed=3):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(np.shape(w)).astype("float32") * 0.5 for w in model.get_weights()])
    return model


@pytest.mark.parametrize("make", [cnn, two_branch])
def test_deepglass_keras_file_loads_in_keras(make, tmp_path):
    model = randomize(make(deepglass))
    metrics = ["mae"] if len(model.outputs) == 1 else [["mae"], ["mae"]]
    model.compile(optimizer=deepglass.optimizers.Adam(learning_rate=0.004), loss="mse", metrics=metrics)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = data(model)
    assert_close(predictions(model, x), predictions(loaded, x))
    assert type(loaded.optimizer).__name__ == "Adam"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.004)


@pytest.mark.parametrize("make", [cnn, two_branch])
def test_keras_file_loads_in_deepglass(make, tmp_path):
    source = randomize(make(keras))
    metrics = ["mean_absolute_error"] if len(source.outputs) == 1 else [["mean_absolute_error"]] * 2
    source.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mean_squared_error",
                   metrics=metrics)
    source.save(tmp_path / "k.keras")
    model = deepglass.saving.load_model(tmp_path / "k.keras")
    x = data(model)
    assert_close(predictions(model, x), predictions(source, x))
    assert model.compiled and type(model.optimizer).__name__ == "SGD"
    assert (model.optimizer.learning_rate, model.optimizer.momentum) == pytest.approx((0.05, 0.9))


@pytest.mark.parametrize("make", [cnn, two_branch])
def test_weights_h5_goes_both_ways(make, tmp_path):
    ours, theirs = randomize(make(deepglass), seed=1), make(keras)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    x = data(ours)
    assert_close(predictions(ours, x), predictions(theirs, x))
    randomize(theirs, seed=2).save_weights(tmp_path / "theirs.weights.h5")
    ours.load_weights(tmp_path / "theirs.weights.h5")
    assert_close(predictions(ours, x), predictions(theirs, x))


@pytest.mark.parametrize("make", [cnn, two_branch])
def test_legacy_h5_goes_both_ways(make, tmp_path):
    ours = randomize(make(deepglass), seed=4)
    ours.compile(optimizer="rmsprop", loss="mse")
    ours.save(tmp_path / "ours.h5")
    theirs = keras.saving.load_model(tmp_path / "ours.h5")
    x = data(ours)
    assert_close(predictions(ours, x), predictions(theirs, x))
    assert type(theirs.optimizer).__name__ == "RMSprop"
    randomize(theirs, seed=5).save(tmp_path / "theirs.h5")
    back = deepglass.models.load_model(tmp_path / "theirs.h5")
    assert_close(predictions(back, x), predictions(theirs, x))
    assert back.compiled and type(back.optimizer).__name__ == "RMSprop"


def test_legacy_weights_only_h5(tmp_path):
    ours, twin = randomize(cnn(deepglass)), cnn(deepglass)
    ours.save_weights(tmp_path / "w.h5")
    twin.load_weights(tmp_path / "w.h5")
    x = data(ours)
    assert_close(predictions(ours, x), predictions(twin, x))
    with pytest.raises(deepglass.saving.SavedFileError, match="weights only"):
        deepglass.models.load_model(tmp_path / "w.h5")


def test_load_weights_from_a_keras_archive(tmp_path):
    ours, twin = randomize(two_branch(deepglass)), two_branch(deepglass)
    ours.save(tmp_path / "m.keras")
    twin.load_weights(tmp_path / "m.keras")
    x = data(ours)
    assert_close(predictions(ours, x), predictions(twin, x))


def test_keras_2_style_config_loads():
    """A Keras 2 functional config: class "Model", layer entries without module, calls as nested lists."""
    config = {"class_name": "Model", "config": {
        "name": "model", "layers": [
            {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False,
                        "name": "input_1"}},
            {"class_name": "Dense", "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]],
             "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 3, "activation": "relu",
                        "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform",
                                                                 "config": {"seed": None}},
                        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
                        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
                        "bias_constraint": None}}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}}
    model = deepglass.saving.deserialize_keras_object(config)
    assert model.input_shape == [(None, 4)]
    kernel, bias = np.arange(12, dtype="float32").reshape(4, 3) / 10 - 0.5, np.array([0.1, -0.2, 0.3], "float32")
    model.set_weights([kernel, bias])
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    result = model.predict(x, verbose=0)
    result = result[0] if isinstance(result, list) else result  # outputs=[tensor]: Keras unpacks the list
    np.testing.assert_allclose(result, np.maximum(x @ kernel + bias, 0), rtol=1e-6, atol=1e-6)


def zoo(lib):
    """One model through many of the layers both libraries have (normalization, separable and transposed
    convolutions, padding, resampling, merging, activations), so that one round trip covers them all."""
    L = lib.layers
    image, steps = lib.Input((8, 8, 2), name="image"), lib.Input((8, 4), name="steps")
    x = L.BatchNormalization(name="bn")(L.Conv2D(4, 3, padding="same", name="c2")(image))
    x = L.SeparableConv2D(4, 3, padding="same", name="sep")(L.ReLU(name="relu")(x))
    x = L.Conv2DTranspose(4, 2, strides=2, name="tconv")(L.DepthwiseConv2D(3, name="dw")(x))
    x = L.Cropping2D(1, name="crop")(L.ZeroPadding2D(1, name="pad")(x))
    x = L.AveragePooling2D(2, name="avg")(L.MaxPooling2D(2, name="max")(L.UpSampling2D(name="up")(x)))
    x = L.GlobalAveragePooling2D(name="gap")(x)
    y = L.LayerNormalization(name="ln")(L.Conv1D(4, 3, padding="same", name="c1")(steps))
    y = L.GroupNormalization(groups=2, name="gn")(L.PReLU(name="prelu")(y))
    y = L.Flatten(name="flat")(L.Permute((2, 1), name="perm")(y))
    z = L.Concatenate(name="cat")([L.Dense(6, name="dx")(x), L.Dense(6, name="dy")(y)])
    z = L.LeakyReLU(name="leaky")(L.Multiply(name="mul")([z, L.ELU(name="elu")(z)]))
    z = L.Reshape((4, 6), name="reshape")(L.Concatenate(name="twice")([z, z]))
    return lib.Model([image, steps], L.Softmax(name="softmax")(L.GlobalMaxPooling1D(name="gmp")(z)))


def test_a_model_of_many_layers_goes_both_ways(tmp_path):
    ours = randomize(zoo(deepglass), seed=6)
    ours.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    x = data(ours)
    assert_close(predictions(ours, x), predictions(theirs, x))
    randomize(theirs, seed=7).save(tmp_path / "theirs.keras")
    back = deepglass.saving.load_model(tmp_path / "theirs.keras")
    assert_close(predictions(back, x), predictions(theirs, x))
