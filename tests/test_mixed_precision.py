"""Mixed precision: dtype policies against Keras's (the oracle), layers' weight, output and loss dtypes under
torch.autocast on the CPU, config round trips, and LossScaleOptimizer against Keras's on finite and non-finite
gradients."""
import json
import os
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import dtype_policies, layers, mixed_precision, optimizers
from deepglass.mixed_precision import policy as policy_module

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

NAMES = ["float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"]
# Half precision on this CPU may warn that it is emulated (tested below, in test_mixed_bfloat16_fit_on_cpu...).
pytestmark = pytest.mark.filterwarnings("ignore:The dtype policy computes in")


@pytest.fixture(autouse=True)
def float32_afterwards():
    yield
    mixed_precision.set_global_policy("float32")
    keras.mixed_precision.set_global_policy("float32")


def small_model(final_float32=False):
    stack = [deepglass.Input((6,)), layers.Dense(8, activation="relu"), layers.BatchNormalization(), layers.Dense(3)]
    stack.append(layers.Activation("softmax", dtype="float32" if final_float32 else None))
    return deepglass.Sequential(stack)


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, n)


# ------------------------------------------------------------------------------------------------------ policies
@pytest.mark.parametrize("name", NAMES)
def test_policy_matches_keras(name):
    ours, theirs = mixed_precision.DTypePolicy(name), keras.mixed_precision.DTypePolicy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype)
    assert repr(ours) == repr(theirs)
    assert dtype_policies.serialize(ours) == keras.dtype_policies.serialize(theirs)
    assert dtype_policies.deserialize(keras.dtype_policies.serialize(theirs)) == ours
    assert ours == dtype_policies.get(name) and ours != mixed_precision.DTypePolicy("float64")


def test_global_policy_and_aliases():
    assert mixed_precision.global_policy() == mixed_precision.DTypePolicy("float32")
    mixed_precision.set_global_policy("mixed_float16")
    assert mixed_precision.dtype_policy().name == deepglass.config.dtype_policy().name == "mixed_float16"
    deepglass.config.set_dtype_policy(deepglass.DTypePolicy("mixed_bfloat16"))
    assert mixed_precision.global_policy().name == "mixed_bfloat16"
    mixed_precision.set_dtype_policy("float32")
    assert mixed_precision.Policy is mixed_precision.DTypePolicy
    with pytest.raises(ValueError, match="Expected the string name of a policy"):
        mixed_precision.set_global_policy(3)
    with pytest.raises(ValueError, match="mixed_float16"):
        mixed_precision.DTypePolicy("mixed_float61")


def test_layers_under_a_mixed_policy_keep_float32_weights():
    mixed_precision.set_global_policy("mixed_float16")
    dense, explicit = layers.Dense(4), layers.Dense(4, dtype="float32")
    assert (dense.dtype, dense.variable_dtype, dense.compute_dtype) == ("float32", "float32", "float16")
    assert explicit.dtype_policy.name == "float32"
    mixed_precision.set_global_policy("float32")
    own = layers.Dense(4, dtype=mixed_precision.DTypePolicy("mixed_bfloat16"))
    assert own.compute_dtype == "bfloat16" and layers.Dense(4).compute_dtype == "float32"
    out = own(torch.ones(2, 3))
    assert out.dtype == torch.bfloat16 and own.kernel.dtype == torch.float32
    own.dtype_policy = "float16"  # Keras's setter; the weights keep the dtype they were made in
    assert own.compute_dtype == "float16" and own.kernel.dtype == torch.float32


@pytest.mark.parametrize("name,half", [("mixed_bfloat16", torch.bfloat16), ("mixed_float16", torch.float16)])
def test_mixed_model_computes_in_half_with_float32_statistics(name, half):
    mixed_precision.set_global_policy(name)
    model = small_model()
    x = torch.tensor(data()[0])
    model.train(True)
    hidden = model.layers[0](x)
    normalized = model.layers[1](hidden, training=True)
    assert hidden.dtype == half and normalized.dtype == half  # half in, half out, as Keras's BatchNormalization
    bn = model.layers[1]
    assert bn.moving_mean.dtype == torch.float32 and bn.moving_variance.dtype == torch.float32
    # The moving mean moved by (1 - momentum) * batch mean, computed in float32 from the half inputs.
    expected = (1 - bn.momentum) * hidden.detach().float().mean(0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    assert all(w.dtype == torch.float32 for w in model.weights)
    assert model(x).dtype == half
    norm = layers.LayerNormalization()  # statistics in float32 from the half inputs, the result rounded once
    expected = torch.nn.functional.layer_norm(hidden.detach().float(), (8,), eps=norm.epsilon).to(half)
    torch.testing.assert_close(norm(hidden.detach()), expected, rtol=0, atol=0)


def test_final_float32_activation_and_float32_loss():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = small_model(final_float32=True)
    x, y = data()
    assert model(x).dtype == torch.float32 and model.layers[-1].compute_dtype == "float32"
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(x, y)
    assert model._step_loss.dtype == torch.float32
    # evaluate's loss is the float32 cross-entropy of predict's float32 probabilities.
    probabilities = model.predict(x, verbose=0).astype("float64")
    expected = -np.log(probabilities[np.arange(len(y)), y]).mean()
    assert model.evaluate(x, y, verbose=0)[0] == pytest.approx(expected, rel=1e-5)


def test_loss_of_half_outputs_uses_float32_logits():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = small_model()
    x, y = data()
    model.compile("sgd", "sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert model.predict(x, verbose=0).dtype == np.float32  # bfloat16 outputs come back as float32 arrays
    model.train(False)
    with torch.no_grad():
        logits = model.layers[2](model.layers[1](model.layers[0](torch.tensor(x)))).float().cpu().numpy()
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    assert loss == pytest.approx(-log_probabilities[np.arange(len(y)), y].mean(), rel=1e-5)


def test_float32_layer_after_a_mixed_one_casts_its_inputs():
    middle = layers.Dense(5, dtype="mixed_bfloat16")
    model = deepglass.Sequential([deepglass.Input((6,)), layers.Dense(5), middle, layers.Dense(2)])
    out = model(data()[0])
    assert out.dtype == torch.float32 and middle.compute_dtype == "bfloat16"
    x = torch.tensor(data()[0])
    ours = model.layers[2](middle(model.layers[0](x)).float())
    torch.testing.assert_close(out, ours)


def test_default_policy_adds_no_autocast(monkeypatch):
    entered = []
    original = torch.autocast.__enter__
    monkeypatch.setattr(torch.autocast, "__enter__", lambda self: entered.append(self) or original(self))
    model = small_model()
    x, y = data()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.predict(x, verbose=0)
    assert not entered
    assert all("forward" not in m.__dict__ for m in model.modules())  # the plain nn.Module call path
    assert isinstance(model.optimizer, optimizers.Adam)
    mixed_precision.set_global_policy("mixed_bfloat16")
    small_model()(x)
    assert entered  # the check above can see an autocast


# ------------------------------------------------------------------------------------------------- configs
def test_layer_config_holds_the_policy_as_keras_writes_it():
    ours = layers.Dense(3, dtype="mixed_float16").get_config()["dtype"]
    assert ours == keras.layers.Dense(3, dtype="mixed_float16").get_config()["dtype"]
    rebuilt = layers.Dense.from_config(json.loads(json.dumps(layers.Dense(3, dtype="mixed_bfloat16").get_config())))
    assert rebuilt.dtype_policy == mixed_precision.DTypePolicy("mixed_bfloat16")
    assert layers.Dense(3).get_config()["dtype"] == "float32"


@pytest.mark.filterwarnings("ignore:Skipping variable loading")  # Keras reloading its own unbuilt optimizer
def test_keras_written_mixed_model_loads(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3),
                               keras.layers.Activation("softmax", dtype="float32")])
    keras.mixed_precision.set_global_policy("float32")
    theirs.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    path = str(tmp_path / "mixed.keras")
    theirs.save(path)
    ours = deepglass.saving.load_model(path)
    assert [layer.dtype_policy.name for layer in ours.layers] == ["mixed_float16", "mixed_float16", "float32"]
    # Keras's file holds the optimizer given to compile; the loaded model's own policy is the global one (float32),
    # so compile wraps nothing, in Keras as here.
    assert type(keras.saving.load_model(path).optimizer).__name__ == type(ours.optimizer).__name__ == "Adam"
    x = data()[0]
    out = ours(x)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.detach().cpu().numpy(), theirs(x).detach().cpu().numpy(), atol=2e-3)


def test_mixed_model_saves_and_loads(tmp_path):
    mixed_precision.set_global_policy("mixed_float16")
    model = small_model(final_float32=True)
    model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    mixed_precision.set_global_policy("float32")
    assert isinstance(model.optimizer, optimizers.LossScaleOptimizer)
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.optimizer.dynamic_scale.fill_(1024.0)  # as after a few skipped steps
    path = str(tmp_path / "ours.keras")
    model.save(path)
    loaded = deepglass.saving.load_model(path)
    assert [layer.dtype_policy for layer in loaded.layers] == [layer.dtype_policy for layer in model.layers]
    loaded.optimizer.build(loaded.trainable_weights)  # the saved state is restored when the optimizer is built
    assert float(loaded.optimizer.dynamic_scale) == 1024.0 and loaded.optimizer.iterations == 2
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ----------------------------------------------------------------------------------------- loss scaling
INF, NAN = float("inf"), float("nan")
# Gradients (already multiplied by the loss scale, as the backward pass of a scaled loss gives them).
SEQUENCE = [[1.0, 2.0], [INF, 1.0], [3.0, -1.0], [0.5, 0.5], [NAN, 0.0], [2.0, 1.0], [1.0, 1.0], [-1.0, 4.0],
            [1.0, -2.0]]


@pytest.mark.parametrize("make", [
    lambda m: m.optimizers.SGD(0.1, momentum=0.9),  # torch's fused kernel skips the update itself
    lambda m: m.optimizers.Adam(0.1),
    lambda m: m.optimizers.RMSprop(0.1),  # no fused kernel: the update is undone on the device
], ids=["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("first_finite", [True, False], ids=["finite-first", "inf-first"])
def test_loss_scaling_matches_keras(make, first_finite):
    sequence = SEQUENCE if first_finite else [[INF, 1.0]] + SEQUENCE
    ours = optimizers.LossScaleOptimizer(make(deepglass), initial_scale=8.0, dynamic_growth_steps=3)
    theirs = keras.optimizers.LossScaleOptimizer(make(keras), initial_scale=8.0, dynamic_growth_steps=3)
    weight = torch.nn.Parameter(torch.tensor([0.5, -0.5]))
    variable = keras.Variable(np.array([0.5, -0.5], dtype="float32"))
    ours.build([weight])
    for gradient in sequence:
        weight.grad = torch.tensor(gradient)
        ours.step()
        theirs.apply_gradients([(torch.tensor(gradient), variable)])
        assert float(ours.dynamic_scale) == float(theirs.dynamic_scale)
        assert int(ours.step_counter) == int(theirs.step_counter)
        # torch's Adam and Keras's round differently in float32 (7e-7 a step here, without any skipping)
        np.testing.assert_allclose(weight.detach().cpu().numpy(), np.asarray(variable.numpy()), rtol=0, atol=1e-5)
    assert ours.get_config().keys() == theirs.get_config().keys()


def test_scale_loss_and_fit_with_mixed_float16():
    mixed_precision.set_global_policy("mixed_float16")
    model = small_model(final_float32=True)
    model.compile(optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    mixed_precision.set_global_policy("float32")
    reference = small_model(final_float32=True)
    reference.set_weights(model.get_weights())
    reference.compile(optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    x, y = data()
    initial = model.get_weights()
    model.train_on_batch(x, y)
    reference.train_on_batch(x, y)
    assert float(model.optimizer.dynamic_scale) == 2.0 ** 15
    assert model.optimizer.scale_loss(torch.tensor(2.0)) == 2.0 ** 16
    # The same step as in float32 (a loss scale not undone would shrink it 32768 times), to float16's precision.
    for ours, theirs, start in zip(model.get_weights(), reference.get_weights(), initial):
        moved = theirs - start
        np.testing.assert_allclose(ours - start, moved, rtol=0, atol=0.03 * np.abs(moved).max() + 1e-7)
    assert np.abs(reference.get_weights()[0] - initial[0]).max() > 1e-3
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_gradient_accumulation_with_loss_scaling():
    scale = 4.0
    inner = optimizers.SGD(0.5, gradient_accumulation_steps=2)
    lso = optimizers.LossScaleOptimizer(inner, initial_scale=scale, dynamic_growth_steps=100)
    weight = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    lso.build([weight])
    expected = np.array([1.0, 1.0])
    for a, b in [([1.0, 2.0], [3.0, 0.0]), ([2.0, 2.0], [0.0, 2.0])]:  # two windows of two steps
        for gradient in (a, b):
            weight.grad = torch.tensor(gradient) * scale
            lso.step()
        expected = expected - 0.5 * (np.array(a) + np.array(b)) / 2
        np.testing.assert_allclose(weight.detach().cpu().numpy(), expected, rtol=1e-6)
    # A window with an infinite gradient is dropped whole: no update, the scale halves, the next window is clean.
    for gradient in ([INF, 0.0], [1.0, 1.0]):
        weight.grad = torch.tensor(gradient) * scale
        lso.step()
    np.testing.assert_allclose(weight.detach().cpu().numpy(), expected, rtol=1e-6)
    assert float(lso.dynamic_scale) == scale / 2 and lso.iterations == 3
    for gradient in ([2.0, 0.0], [0.0, 2.0]):
        weight.grad = torch.tensor(gradient) * scale / 2
        lso.step()
    np.testing.assert_allclose(weight.detach().cpu().numpy(), expected - 0.5 * np.array([1.0, 1.0]), rtol=1e-6)


def test_loss_scale_optimizer_arguments_and_state():
    with pytest.raises(ValueError, match="dynamic=False"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), dynamic=False)
    with pytest.raises(ValueError, match="set `clipnorm` on the `inner_optimizer`"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0)
    lso = optimizers.LossScaleOptimizer(optimizers.Adam(0.01, loss_scale_factor=8.0))
    assert lso.inner_optimizer.loss_scale_factor is None and lso.learning_rate == pytest.approx(0.01)
    lso.learning_rate = 0.02
    assert lso.inner_optimizer.learning_rate == pytest.approx(0.02)
    weight = torch.nn.Parameter(torch.ones(3))
    lso.build([weight])
    weight.grad = torch.full((3,), INF)
    lso.step()
    copy = optimizers.deserialize(optimizers.serialize(lso))
    copy.load_state_dict(lso.state_dict())
    copy.build([torch.nn.Parameter(torch.ones(3))])
    assert float(copy.dynamic_scale) == 2.0 ** 14 and copy.get_config() == lso.get_config()


# ------------------------------------------------------------------------------------------- bfloat16 on a CPU
def test_mixed_bfloat16_fit_on_cpu_and_warning(monkeypatch):
    monkeypatch.setitem(deepglass.config._settings, "device", torch.device("cpu"))  # also beside a GPU
    monkeypatch.setattr(policy_module, "_warned_cpu", set())
    monkeypatch.setattr(policy_module, "_cpu_flags", lambda: {"fpu", "avx2", "avx512f"})
    with pytest.warns(UserWarning, match="no bfloat16 instructions") as record:
        mixed_precision.set_global_policy("mixed_bfloat16")
    assert "1.9x" in str(record[0].message) and "set_global_policy('float32')" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mixed_precision.set_global_policy("mixed_bfloat16")  # once only
        monkeypatch.setattr(policy_module, "_warned_cpu", set())
        monkeypatch.setattr(policy_module, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
        mixed_precision.set_global_policy("bfloat16")  # native bfloat16: no warning
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = small_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    assert not isinstance(model.optimizer, optimizers.LossScaleOptimizer)  # bfloat16 needs no loss scaling
    x, y = data()
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and all(w.dtype == torch.float32 for w in model.weights)
