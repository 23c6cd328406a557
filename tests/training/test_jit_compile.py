"""compile(jit_compile=True): fit, evaluate and predict through torch.compile give the eager results."""
import shutil
import warnings

import numpy as np
import pytest
import torch

import deepglass as keras
from deepglass.layers import layer as layer_module

RNG = np.random.default_rng(0)
X = RNG.standard_normal((100, 6)).astype("float32")  # batches of 32, then a last one of 4
Y = (X[:, :3].sum(1) > 0).astype("int64")


IMAGES = RNG.standard_normal((64, 8, 8, 3)).astype("float32")
IMAGE_LABELS = (IMAGES[..., 0].mean((1, 2)) > 0).astype("int64")


def mlp():
    # No dropout: compiled code draws its random numbers from another generator than eager torch.
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.BatchNormalization(), keras.layers.Dense(2, activation="softmax")])


def residual_cnn():
    """A ResNet block: "same" convolutions (one strided, padded unevenly as Keras pads), batch normalisation, a
    shortcut, pooling."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    y = keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, strides=2, padding="same")(x))
    x = keras.layers.Activation("relu")(keras.layers.Add()([y, keras.layers.Conv2D(8, 1, strides=2)(x)]))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.MaxPooling2D()(x))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def trained(jit_compile, build=mlp, x=X, y=Y, optimizer="adam"):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
    return model, history.history


def needs_compiler():
    if not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("torch.compile needs a C++ compiler to compile for the CPU")


def eager_and_compiled_runs(**arguments):
    needs_compiler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's own, while it compiles
        warnings.simplefilter("ignore", FutureWarning)
        return trained("auto", **arguments), trained(True, **arguments)


@pytest.fixture(scope="module")
def eager_and_compiled():
    return eager_and_compiled_runs()


def test_compiled_training_matches_eager(eager_and_compiled):
    (eager, eager_history), (compiled, compiled_history) = eager_and_compiled
    assert not compiled._jit_forward.eager  # it was compiled, not the fallback
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(compiled_history[name], eager_history[name], rtol=1e-5)
    for mine, theirs in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(compiled.predict(X, verbose=0), eager.predict(X, verbose=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(compiled.evaluate(X, Y, verbose=0), eager.evaluate(X, Y, verbose=0), rtol=1e-5)


def test_a_compiled_cnn_trains_as_the_eager_one():
    (eager, eager_history), (compiled, compiled_history) = eager_and_compiled_runs(
        build=residual_cnn, x=IMAGES, y=IMAGE_LABELS, optimizer="sgd")  # Adam would turn the rounding
    # differences of the gradient of a bias before batch normalisation (zero but for rounding) into whole steps
    assert not compiled._jit_forward.eager
    np.testing.assert_allclose(compiled_history["loss"], eager_history["loss"], rtol=1e-4)
    for mine, theirs in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-5)


def test_a_compiled_cnn_keeps_its_images_channels_first_between_layers():
    """What torch.compile records: one change of layout at the input, none between the image layers (in Keras's
    layout each layer would permute its input and its output, and the compiled step took twice the eager one)."""
    model = residual_cnn()
    layer_module._compiling[0] = True  # as CompiledForward sets it around the compiled call
    try:
        explanation = torch._dynamo.explain(model)(torch.randn(4, 8, 8, 3), training=True)
    finally:
        layer_module._compiling[0] = False
    assert explanation.graph_break_count == 0
    targets = [node.target for graph in explanation.graphs for node in graph.graph.nodes]
    assert sum(target in ("permute", "movedim", torch.permute, torch.movedim) for target in targets) == 1
    assert sum(target is torch.conv2d for target in targets) == 3  # the graph is the whole model


def masked_average():
    return keras.Sequential([keras.Input((5,), dtype="int64"), keras.layers.Embedding(20, 4, mask_zero=True),
                             keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])


@pytest.mark.parametrize("build, x", [(residual_cnn, torch.randn(4, 8, 8, 3)),
                                      (masked_average, torch.tensor([[1, 2, 0, 0, 0], [3, 4, 5, 6, 0]]))])
def test_torch_compile_of_a_model_records_it_whole_and_gives_its_outputs(build, x):
    """A model handed to torch.compile by the user (not through jit_compile): one graph with no break, masks included.
    Layers look for a tensor's mask with getattr; its `__dict__`, which they read before, stops torch.compile."""
    model = build()
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(x, training=True)
    assert (explanation.graph_count, explanation.graph_break_count) == (1, 0)
    compiled = torch.compile(model, backend="aot_eager")  # dynamo and autograd's tracing, no code generation
    torch.testing.assert_close(compiled(x, training=True), model(x, training=True))
    compiled(x, training=True).sum().backward()
    assert all(weight.grad is not None for weight in model.trainable_weights)


def test_the_choice_is_saved_with_the_model(eager_and_compiled, tmp_path):
    _, (compiled, _) = eager_and_compiled
    assert compiled.get_compile_config()["jit_compile"] is True
    compiled.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras")._jit_compile


def test_a_model_that_makes_masks_runs_eagerly_after_a_warning():
    ids = RNG.integers(1, 20, (16, 5))
    model = keras.Sequential([keras.Input((5,), dtype="int64"), keras.layers.Embedding(20, 4, mask_zero=True),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("sgd", "mse", jit_compile=True)
    with pytest.warns(UserWarning, match='layer "embedding" of model .* makes masks.*runs eagerly'):
        model.fit(ids, np.zeros(16), epochs=1, verbose=0)
    assert model._jit_forward.eager


def test_a_model_torch_cannot_compile_runs_eagerly_after_a_warning(monkeypatch):
    def failing_compile(model, **options):
        def call(*args, **kwargs):
            raise RuntimeError("no compiler for this device")
        return call
    monkeypatch.setattr(torch, "compile", failing_compile)
    model, history = None, None
    with pytest.warns(UserWarning, match=r"could not compile .*RuntimeError: no compiler for this device.*eagerly"):
        model, history = trained(True)
    assert model._jit_forward.eager
    _, eager_history = trained(False)
    np.testing.assert_allclose(history["loss"], eager_history["loss"], rtol=1e-6)
