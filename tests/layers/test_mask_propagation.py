"""Masks travel with tensors (`_keras_mask`) through layers, as in Keras 3: passed to `call(mask=)`, passed on by
layers that support masking, combined by merge layers, used by losses, and dropped (with a warning) elsewhere."""
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers


class ZeroMask(layers.Layer):
    """Masks the time steps whose first feature is zero (a stand-in for Embedding(mask_zero=True))."""

    def call(self, inputs):
        return inputs * 1.0

    def compute_mask(self, inputs, previous_mask):
        return inputs[..., 0] != 0


class SeenMask(layers.Layer):
    """Records the mask its call receives."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        self.seen = mask
        return inputs


def padded_batch():
    x = torch.arange(1, 25, dtype=torch.float32).reshape(2, 4, 3)
    x[0, 3] = 0
    x[1, 2:] = 0
    return x, torch.tensor([[True, True, True, False], [True, True, False, False]])


def test_mask_reaches_call_and_passes_through_dense():
    x, expected = padded_batch()
    dense, seen = layers.Dense(5), SeenMask()
    out = seen(dense(ZeroMask()(x)))
    assert torch.equal(seen.seen, expected)
    assert torch.equal(out._keras_mask, expected)


def test_built_layers_keep_masks_on_the_fast_path():
    x, expected = padded_batch()
    maker, dense = ZeroMask(), layers.Dense(5)
    dense(maker(x))  # builds both
    out = dense(maker(x))
    assert torch.equal(out._keras_mask, expected)
    assert "_keras_mask" not in dense(x).__dict__  # an unmasked input gives an unmasked output


def test_sequential_and_functional_models_propagate_masks():
    x, expected = padded_batch()
    sequential = deepglass.Sequential([deepglass.Input((4, 3)), ZeroMask(), layers.Dense(2), SeenMask()])
    sequential(x)
    assert torch.equal(sequential.layers[-1].seen, expected)

    inputs = deepglass.Input((4, 3))
    seen = SeenMask()
    model = deepglass.Model(inputs, seen(layers.Activation("relu")(ZeroMask()(inputs))))
    model(x)
    assert torch.equal(seen.seen, expected)


def test_merge_layers_combine_masks_like_keras():
    x, mask = padded_batch()
    other = x.clone()
    other[0, 3] = 5  # unmasked in the second input
    a, b = ZeroMask()(x), ZeroMask()(other)
    assert torch.equal(layers.Add()([a, b])._keras_mask, mask | (other[..., 0] != 0))
    # Concatenate on the feature axis: an unmasked input counts as all True, then OR over the last axis.
    assert torch.equal(layers.Concatenate()([a, x])._keras_mask, torch.ones_like(mask))
    assert torch.equal(layers.Concatenate(axis=1)([a, b])._keras_mask, torch.cat([mask, other[..., 0] != 0], 1))
    assert "_keras_mask" not in layers.Dot(axes=2)([a, b]).__dict__


def test_global_average_pooling_1d_averages_unmasked_steps_only():
    x, mask = padded_batch()
    pooled = layers.GlobalAveragePooling1D()(ZeroMask()(x))
    reference = np.stack([x[i, mask[i]].numpy().mean(0) for i in range(2)])
    np.testing.assert_allclose(pooled.numpy(), reference, rtol=1e-6)
    assert "_keras_mask" not in pooled.__dict__


def test_layer_without_masking_warns_once_and_drops_the_mask():
    x, _ = padded_batch()
    flatten = layers.Flatten()
    with pytest.warns(UserWarning, match="does not support masking"):
        out = flatten(ZeroMask()(x))
    assert "_keras_mask" not in out.__dict__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flatten(ZeroMask()(x))


def test_explicit_mask_argument_wins():
    x, _ = padded_batch()
    seen = SeenMask()
    given = torch.zeros(2, 4, dtype=torch.bool)
    seen(ZeroMask()(x), mask=given)
    assert seen.seen is given


def test_loss_ignores_masked_steps():
    x, mask = padded_batch()
    y_true = torch.ones(2, 4, 3)
    y_pred = ZeroMask()(x)
    loss = deepglass.losses.MeanSquaredError()(y_true, y_pred)
    per_step = ((x - 1) ** 2).mean(-1)
    np.testing.assert_allclose(loss.item(), per_step[mask].mean().item(), rtol=1e-6)
