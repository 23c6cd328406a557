"""Core layers against the conformance test, Keras and hand-computed values."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from tests.layer_conformance import run_layer_test


@pytest.mark.parametrize("kwargs, shape, out, params", [
    ({"units": 4}, (3, 5), (3, 4), 24),
    ({"units": 3, "activation": "relu", "use_bias": False}, (2, 7), (2, 3), 21),
    ({"units": 2, "activation": "softmax"}, (2, 4, 6), (2, 4, 2), 14),  # any rank: applies on the last axis
])
def test_dense(kwargs, shape, out, params):
    run_layer_test(layers.Dense, kwargs, shape, expected_output_shape=out, expected_num_params=params)


def test_dense_computes_x_kernel_plus_bias_in_keras_layout():
    layer = layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")
    x = torch.tensor([[1.0, 2.0, 3.0]])
    layer(x)
    kernel = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype="float32")
    layer.set_weights([kernel, np.array([0.5, -0.5], dtype="float32")])
    np.testing.assert_allclose(layer(x).detach().cpu().numpy(), x.numpy() @ kernel + [0.5, -0.5])
    assert layer.kernel.shape == (2, 3)  # torch's (out, in) in state_dict
    assert layer.get_weights()[0].shape == (3, 2)  # Keras's (in, out)


@pytest.mark.parametrize("cls, kwargs, shape, out", [
    (layers.Activation, {"activation": "tanh"}, (2, 3), (2, 3)),
    (layers.Identity, {}, (2, 3), (2, 3)),
    (layers.Dropout, {"rate": 0.5}, (2, 3), (2, 3)),
    (layers.Flatten, {}, (2, 3, 4, 5), (2, 60)),
    (layers.Flatten, {"data_format": "channels_first"}, (2, 3, 4, 5), (2, 60)),
    (layers.Reshape, {"target_shape": (4, -1)}, (2, 12), (2, 4, 3)),
    (layers.Permute, {"dims": (2, 1)}, (2, 3, 5), (2, 5, 3)),
])
def test_weightless_layers(cls, kwargs, shape, out):
    run_layer_test(cls, kwargs, shape, expected_output_shape=out, expected_num_params=0)


def test_dropout_is_inactive_at_inference_and_scales_in_training():
    layer = layers.Dropout(0.5)
    x = torch.ones(1000, 100)
    assert torch.equal(layer(x), x)
    y = layer(x, training=True)
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}
    assert abs((y == 0).float().mean().item() - 0.5) < 0.02


def test_dropout_noise_shape_and_seed():
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 8), seed=3)
    y = layer(torch.ones(4, 5, 8), training=True)
    assert torch.equal(y, y[:, :1, :].expand_as(y))  # the same mask at every step
    again = layers.Dropout(0.5, noise_shape=(None, 1, 8), seed=3)(torch.ones(4, 5, 8), training=True)
    assert torch.equal(y, again)


def test_lambda_layer_runs_and_refuses_to_load_code_in_safe_mode():
    layer = layers.Lambda(lambda x: x * 2 + 1)
    np.testing.assert_allclose(layer(torch.ones(2)).numpy(), [3.0, 3.0])
    assert layer(deepglass.Input((3, 4))).shape == (None, 3, 4)
    with pytest.raises(ValueError, match="enable_unsafe_deserialization"):
        layers.Lambda.from_config(layer.get_config())


def test_lambda_loads_when_unsafe_deserialization_is_enabled(monkeypatch):
    monkeypatch.setattr(deepglass.config, "_safe_mode", [True])
    deepglass.config.enable_unsafe_deserialization()
    scale = 3.0
    clone = layers.Lambda.from_config(layers.Lambda(lambda x: x * scale).get_config())
    np.testing.assert_allclose(clone(torch.ones(2)).numpy(), [3.0, 3.0])


def test_torch_module_wrapper_exposes_weights_and_trains():
    wrapped = layers.TorchModuleWrapper(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)))
    assert wrapped(deepglass.Input((4,))).shape == (None, 3)
    assert len(wrapped.trainable_weights) == 4
    assert len(wrapped.non_trainable_weights) == 2  # running mean and variance
    wrapped.trainable = False
    assert wrapped.trainable_weights == [] and len(wrapped.non_trainable_weights) == 6
    assert not any(p.requires_grad for p in wrapped.module.parameters())


def test_automatic_names_are_unique_and_reset_by_clear_session():
    assert [layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    deepglass.clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.Dense(1, name="head").name == "head"


def test_trainable_flag_freezes_weights():
    layer = layers.Dense(3)
    layer(torch.ones(1, 2))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert not layer.kernel.requires_grad
    layer.trainable = True
    assert len(layer.trainable_weights) == 2 and layer.kernel.requires_grad


def test_add_weight_non_trainable_is_a_buffer_and_listed_after_trainable():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.add_weight((), "ones", trainable=False, name="count")
            self.add_weight((input_shape[-1],), "ones", name="scale")

        def call(self, x):
            return x * self.scale

    layer = Scale()
    layer(torch.ones(2, 3))
    assert [tuple(w.shape) for w in layer.get_weights()] == [(3,), ()]
    assert "count" in dict(layer.named_buffers())
    assert layer.count_params() == 4


def test_set_weights_checks_every_shape_before_changing_anything():
    layer = layers.Dense(2)
    layer(torch.ones(1, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"expects weight 1 \(bias\) of shape \(2,\); got shape \(3,\)"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="expects 2 weights"):
        layer.set_weights([np.zeros((3, 2))])
    for old, new in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_invalid_arguments_name_the_argument_and_value():
    with pytest.raises(ValueError, match="`units`.*units=0"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="`rate`"):
        layers.Dropout(1.5)
    with pytest.raises(TypeError, match="unexpected keyword"):
        layers.Dense(3, unknown_argument=1)
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((5,))(deepglass.Input((12,)))


def test_legacy_keras1_dense_arguments_warn_once_and_work():
    with pytest.warns(DeprecationWarning, match="init"):
        layer = layers.Dense(output_dim=4, input_dim=3, init="ones")
    assert layer.units == 4 and layer._batch_input_shape == (None, 3)
    layer(torch.ones(1, 3))
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((3, 4)))


def test_activity_regularizer_adds_a_loss_per_call():
    layer = layers.Dense(2, kernel_initializer="ones", activity_regularizer=deepglass.regularizers.L2(0.5))
    y = layer(torch.ones(4, 3))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(layer.losses[0].item(), 0.5 * (y ** 2).sum().item() / 4, rtol=1e-6)  # per sample
    layer(torch.ones(4, 3))
    assert len(layer.losses) == 1  # replaced, not accumulated


def test_weight_regularizer_and_constraint():
    layer = layers.Dense(2, kernel_initializer="ones", kernel_regularizer=deepglass.regularizers.L1(0.1),
                         kernel_constraint=deepglass.constraints.MaxNorm(1.0))
    layer(torch.ones(1, 4))
    np.testing.assert_allclose(layer.losses[0].item(), 0.1 * 8, rtol=1e-6)
    layer.apply_constraints()
    norms = np.linalg.norm(layer.get_weights()[0], axis=0)  # Keras's axis 0 of the (in, out) kernel
    np.testing.assert_allclose(norms, [1.0, 1.0], rtol=1e-5)


def test_a_frozen_weight_is_not_constrained():
    layer = layers.Dense(2, kernel_initializer="ones", kernel_constraint=deepglass.constraints.MaxNorm(1.0))
    layer(torch.ones(1, 4))
    layer.trainable = False
    layer.apply_constraints()
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((4, 2)))  # norms of 2: projected if it trained


def test_layer_is_a_torch_module_with_an_informative_repr():
    layer = layers.Dense(5, activation="relu", name="hidden")
    assert isinstance(layer, torch.nn.Module)
    assert repr(layer) == "Dense(name='hidden', units=5, activation='relu')"
    assert not layer.training  # inference mode outside fit, as Keras layers behave


@pytest.mark.parametrize("make, inputs", [
    (lambda: layers.Dense(3, activation="softmax"), torch.randn(4, 5)),
    (lambda: layers.Conv2D(3, 2, activation="softmax"), torch.randn(2, 4, 4, 1)),
    (lambda: layers.SeparableConv2D(3, 2, activation="softmax"), torch.randn(2, 4, 4, 2)),
    (lambda: layers.Activation("softmax"), torch.randn(4, 3)),
])
def test_setting_activation_takes_effect_as_in_keras(make, inputs):
    # Grad-CAM and saliency recipes set `model.layers[-1].activation = activations.linear` to read logits.
    layer = make()
    probabilities = layer(inputs)
    layer.activation = deepglass.activations.linear
    logits = layer(inputs)
    torch.testing.assert_close(torch.softmax(logits, -1), probabilities)
    assert layer.get_config()["activation"] == "linear"
    layer.activation = "relu"  # a name, as the constructor takes
    assert layer.activation is deepglass.activations.relu
    assert layer(inputs).min() >= 0


@pytest.mark.parametrize("make, inputs", [
    (lambda: layers.Dense(3, activation="relu"), torch.randn(4, 5)),
    (lambda: layers.Conv2D(3, 2, activation="tanh"), torch.randn(2, 4, 4, 1)),
    (lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"), torch.randn(2, 3, 3, 2)),
])
def test_activation_in_place_on_the_layers_own_output_keeps_values_and_gradients(make, inputs):
    # The activation runs in place on the product or convolution the layer has just made; written out of place,
    # values and gradients are the same, and the caller's inputs are untouched.
    layer = make()
    inputs = inputs.requires_grad_()
    given = inputs.detach().clone()
    outputs = layer(inputs)
    outputs.square().sum().backward()
    ours = [inputs.grad.clone()] + [w.grad.clone() for w in layer.trainable_weights]
    for tensor in [inputs] + layer.trainable_weights:
        tensor.grad = None
    name = layer.get_config()["activation"]
    layer.activation = "linear"
    expected = {"relu": torch.relu, "tanh": torch.tanh}[name](layer(inputs))
    expected.square().sum().backward()
    torch.testing.assert_close(outputs, expected)
    for got, want in zip(ours, [inputs.grad] + [w.grad for w in layer.trainable_weights]):
        torch.testing.assert_close(got, want)
    assert torch.equal(inputs.detach(), given)


def test_activation_layer_leaves_its_input_alone():
    x = torch.tensor([-1.0, 2.0])
    assert torch.equal(layers.Activation("relu")(x), torch.tensor([0.0, 2.0]))
    assert torch.equal(x, torch.tensor([-1.0, 2.0]))
