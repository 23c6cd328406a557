"""compile(jit_compile=True): fit, evaluate and predict through torch.compile give the eager results."""
import shutil
import warnings

import numpy as np
import pytest
import torch

import deepglass as keras

RNG = np.random.default_rng(0)
X = RNG.standard_normal((100, 6)).astype("float32")  # batches of 32, then a last one of 4
Y = (X[:, :3].sum(1) > 0).astype("int64")


def trained(jit_compile):
    keras.utils.set_random_seed(0)
    # No dropout: compiled code draws its random numbers from another generator than eager torch.
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit_compile)
    history = model.fit(X, Y, batch_size=32, epochs=2, verbose=0, shuffle=False)
    return model, history.history


@pytest.fixture(scope="module")
def eager_and_compiled():
    if not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("torch.compile needs a C++ compiler to compile for the CPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's own, while it compiles
        warnings.simplefilter("ignore", FutureWarning)
        return trained("auto"), trained(True)


def test_compiled_training_matches_eager(eager_and_compiled):
    (eager, eager_history), (compiled, compiled_history) = eager_and_compiled
    assert not compiled._jit_forward.eager  # it was compiled, not the fallback
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(compiled_history[name], eager_history[name], rtol=1e-5)
    for mine, theirs in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(compiled.predict(X, verbose=0), eager.predict(X, verbose=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(compiled.evaluate(X, Y, verbose=0), eager.evaluate(X, Y, verbose=0), rtol=1e-5)


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
