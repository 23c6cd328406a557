"""Embedding and Masking against the conformance test, the Keras oracle and NumPy lookups."""
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.layers.embedding import Embedding
from tests.layer_conformance import keras_or_none, run_layer_test

IDS = np.array([[4, 0, 9, 1], [0, 0, 3, 7]])


@pytest.mark.parametrize("kwargs", [{"input_dim": 10, "output_dim": 4},
                                    {"input_dim": 10, "output_dim": 3, "mask_zero": True}])
def test_embedding_conformance_and_keras(kwargs):
    run_layer_test(layers.Embedding, kwargs, (3, 5), expected_output_shape=(3, 5, kwargs["output_dim"]),
                   expected_num_params=10 * kwargs["output_dim"], input_dtype="int64")


def test_embedding_looks_up_rows_and_masks_padding_like_keras():
    layer = layers.Embedding(10, 3, mask_zero=True)
    out = layer(torch.from_numpy(IDS))
    table = layer.get_weights()[0]
    np.testing.assert_allclose(out.detach().cpu().numpy(), table[IDS])
    assert torch.equal(out._keras_mask, torch.from_numpy(IDS != 0))
    # float ids (arrays read from text files) and int32 ids give the same rows
    np.testing.assert_allclose(layer(torch.tensor(IDS, dtype=torch.float32)).detach().cpu().numpy(), table[IDS])
    np.testing.assert_allclose(layer(torch.tensor(IDS, dtype=torch.int32)).detach().cpu().numpy(), table[IDS])
    keras = keras_or_none()
    if keras is not None:
        theirs = keras.layers.Embedding(10, 3, mask_zero=True)
        theirs.build((None, 4))
        theirs.set_weights([table])
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(theirs.compute_mask(IDS)), IDS != 0)


def test_embedding_without_mask_zero_makes_no_mask_and_keeps_the_fast_path():
    layer = layers.Embedding(10, 3)
    out = layer(torch.from_numpy(IDS))
    assert "_keras_mask" not in out.__dict__
    assert layer.compute_mask(torch.from_numpy(IDS)) is None
    assert layer._plain_call  # a built layer's call is nn.Module.__call__ and nothing else
    masked = layers.Embedding(10, 3, mask_zero=True)
    masked(torch.from_numpy(IDS))
    assert torch.equal(masked(torch.from_numpy(IDS))._keras_mask, torch.from_numpy(IDS != 0))  # built: still masks


def test_embedding_weights_argument_legacy_spellings_and_refused_options():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    layer = layers.Embedding(4, 3, weights=[table])
    np.testing.assert_array_equal(layer(torch.tensor([[2]])).detach().cpu().numpy()[0, 0], table[2])
    with pytest.warns(DeprecationWarning, match="input_length"):
        layers.Embedding(4, 3, input_length=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert layers.Embedding(4, 3, input_length=7).get_config()["input_dim"] == 4  # warned once only
    with pytest.warns(DeprecationWarning, match="embeddings_initializer"):
        assert isinstance(layers.Embedding(4, 3, init="zeros").embeddings_initializer, deepglass.initializers.Zeros)
    with pytest.raises(ValueError, match="LoRA"):
        layers.Embedding(4, 3, lora_rank=2)
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 3)


def test_out_of_range_ids_name_the_largest_id_and_input_dim():
    layer = layers.Embedding(10, 4)
    with pytest.raises(ValueError, match=r"token id 12, but input_dim=10.*input_dim=13"):
        layer(torch.tensor([[1, 12, 3]]))
    with pytest.raises(ValueError, match="negative token id -1"):
        layer(torch.tensor([[1, -1]]))


def test_fit_checks_ids_once_before_training_not_per_step(monkeypatch):
    model = deepglass.Sequential([deepglass.Input((4,), dtype="int64"), layers.Embedding(10, 4),
                                  layers.GlobalAveragePooling1D(), layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="token id 11, but input_dim=10"):
        model.fit(np.array([[1, 2, 3, 11]] * 8), np.zeros(8), verbose=0)
    checks = []
    original = Embedding._check_ids
    monkeypatch.setattr(Embedding, "_check_ids", lambda self, ids: checks.append(1) or original(self, ids))
    model.fit(np.random.default_rng(0).integers(0, 10, (64, 4)), np.zeros(64), batch_size=8, epochs=2, verbose=0)
    assert len(checks) == 1  # the checked first batch; the 16 training steps read nothing back to the host


def test_masking_conformance_and_keras():
    run_layer_test(layers.Masking, {"mask_value": 0.0}, (3, 5, 2), expected_output_shape=(3, 5, 2),
                   expected_num_params=0)


def test_masking_zeroes_masked_steps_and_pooling_skips_them():
    x = np.random.default_rng(1).standard_normal((2, 5, 3)).astype("float32")
    x[0, 1] = -1.0
    x[1, 3:] = -1.0
    x[1, 0, 0] = -1.0  # one feature equal to the mask value does not mask the step
    masking = layers.Masking(mask_value=-1.0)
    out = masking(torch.from_numpy(x))
    keep = (x != -1.0).any(-1)
    np.testing.assert_array_equal(out._keras_mask.numpy(), keep)
    np.testing.assert_array_equal(out.numpy(), np.where(keep[..., None], x, 0.0))
    np.testing.assert_array_equal(masking.compute_mask(torch.from_numpy(x)).numpy(), keep)
    pooled = layers.GlobalAveragePooling1D()(out)
    np.testing.assert_allclose(pooled.numpy(), np.stack([x[i][keep[i]].mean(0) for i in range(2)]), rtol=1e-6)
    keras = keras_or_none()
    if keras is not None:
        theirs = keras.layers.Masking(mask_value=-1.0)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(theirs.compute_mask(x)), keep)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), out.numpy())


def test_embedding_and_masking_configs_round_trip_through_serialize():
    for layer in (layers.Embedding(7, 2, mask_zero=True, embeddings_regularizer="l2"), layers.Masking(-1.0)):
        clone = layers.deserialize(layers.serialize(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
