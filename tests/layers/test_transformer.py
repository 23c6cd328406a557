"""PositionalEmbedding, TokenAndPositionEmbedding, TransformerEncoder and TransformerDecoder: closed forms, the
blocks recomputed from Keras's own layers with the same weights, masking, and a small model that learns."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from tests.layer_conformance import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 5, 8)).astype("float32")
ENCODED = RNG.standard_normal((2, 6, 4)).astype("float32")
PADDING = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
ENCODER_PADDING = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)


def sinusoid(length, dim, wavelength=10000.0):
    """Vaswani et al.'s encoding, written out entry by entry."""
    table = np.zeros((length, dim))
    for p in range(length):
        for i in range(dim):
            angle = p / wavelength ** (2 * (i // 2) / dim)
            table[p, i] = np.sin(angle) if i % 2 == 0 else np.cos(angle)
    return table


# ------------------------------------------------------------------------------------------- position embeddings
def test_learned_positional_embedding_adds_a_trained_table():
    layer = run_layer_test(layers.PositionalEmbedding, {"sequence_length": 7}, (2, 5, 8),
                           expected_output_shape=(2, 5, 8), expected_num_params=56)
    out = layer(torch.from_numpy(X))
    np.testing.assert_allclose(out.detach().cpu().numpy(), X + layer.get_weights()[0][:5], rtol=1e-6)


@pytest.mark.parametrize("dim", [8, 5])
def test_sinusoidal_positional_embedding_is_the_closed_form_and_keeps_masks(dim):
    layer = run_layer_test(layers.PositionalEmbedding, {"sequence_length": 6, "mode": "sinusoidal"}, (2, 4, dim),
                           expected_num_params=0)
    x = torch.zeros(2, 4, dim)
    x._keras_mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    out = layer(x)
    np.testing.assert_allclose(out.numpy()[0], sinusoid(4, dim), atol=1e-6)
    assert torch.equal(out._keras_mask, x._keras_mask)
    assert layer.get_weights() == [] and "embeddings" not in layer.state_dict()


def test_token_and_position_embedding_sums_both_tables_and_masks_padding():
    layer = run_layer_test(layers.TokenAndPositionEmbedding, {"vocabulary_size": 10, "sequence_length": 6,
                                                              "embedding_dim": 4, "mask_zero": True},
                           (2, 5), expected_output_shape=(2, 5, 4), expected_num_params=64, input_dtype="int64")
    ids = np.array([[3, 1, 0, 0, 0], [9, 8, 7, 6, 5]])
    tokens, positions = layer.get_weights()
    out = layer(torch.from_numpy(ids))
    np.testing.assert_allclose(out.detach().cpu().numpy(), tokens[ids] + positions[:5], rtol=1e-6)
    assert torch.equal(out._keras_mask, torch.from_numpy(ids != 0))
    sinusoidal = layers.TokenAndPositionEmbedding(10, 6, 4, mode="sinusoidal")
    out = sinusoidal(torch.from_numpy(ids))
    np.testing.assert_allclose(out.detach().cpu().numpy(), sinusoidal.get_weights()[0][ids] + sinusoid(5, 4), atol=1e-6)


def test_position_embedding_bad_input():
    with pytest.raises(ValueError, match="length 9, longer than its sequence_length=6"):
        layers.PositionalEmbedding(6)(torch.zeros(1, 9, 4))
    with pytest.raises(ValueError, match="Did you mean 'learned'"):
        layers.PositionalEmbedding(6, mode="learn")
    with pytest.raises(ValueError, match="token id 10, but input_dim=10"):
        layers.TokenAndPositionEmbedding(10, 6, 4)(torch.tensor([[1, 10]]))


# ---------------------------------------------------------------------------------------- encoder and decoder
def keras_blocks(keras, weights, dim, heads, inter, cross):
    """Keras's own layers holding the given weights, in KerasHub's order."""
    def mha(query_dim, value_dim):
        layer = keras.layers.MultiHeadAttention(heads, dim // heads)
        layer.build((None, 5, query_dim), (None, 6, value_dim))
        return layer

    def norm():
        layer = keras.layers.LayerNormalization(epsilon=1e-5)
        layer.build((None, 5, dim))
        return layer

    def dense(units, inputs, activation=None):
        layer = keras.layers.Dense(units, activation=activation)
        layer.build((None, 5, inputs))
        return layer

    if cross:  # decoder: self-attention, its norm, cross-attention, its norm, feed-forward, its norm
        parts = [mha(dim, dim), norm(), mha(dim, ENCODED.shape[-1]), norm(), dense(inter, dim, "relu"),
                 dense(dim, inter), norm()]
    else:  # encoder: self-attention, its norm, feed-forward norm, feed-forward
        parts = [mha(dim, dim), norm(), norm(), dense(inter, dim, "relu"), dense(dim, inter)]
    flat = list(weights)
    for part in parts:
        count = len(part.get_weights())
        part.set_weights(flat[:count])
        flat = flat[count:]
    return parts


@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_equals_keras_layers_composed_by_hand(normalize_first):
    keras = pytest.importorskip("keras")
    encoder = layers.TransformerEncoder(16, 2, normalize_first=normalize_first)
    out, scores = encoder(torch.from_numpy(X), padding_mask=torch.from_numpy(PADDING), return_attention_scores=True)
    attention, norm1, norm2, dense1, dense2 = keras_blocks(keras, encoder.get_weights(), 8, 2, 16, cross=False)
    mask, x = PADDING[:, None, :], keras.ops.convert_to_tensor(X)
    if normalize_first:
        h = norm1(x)
        a, their_scores = attention(h, h, attention_mask=mask, return_attention_scores=True)
        x1 = x + a
        expected = x1 + dense2(dense1(norm2(x1)))
    else:
        a, their_scores = attention(x, x, attention_mask=mask, return_attention_scores=True)
        x1 = norm1(x + a)
        expected = norm2(x1 + dense2(dense1(x1)))
    np.testing.assert_allclose(out.detach().cpu().numpy(), keras.ops.convert_to_numpy(expected), atol=1e-5)
    np.testing.assert_allclose(scores.detach().cpu().numpy(), keras.ops.convert_to_numpy(their_scores), atol=1e-6)
    assert encoder.count_params() == 288 + 2 * 16 + (8 * 16 + 16) + (16 * 8 + 8)  # attention, norms, feed-forward


def test_decoder_equals_keras_layers_composed_by_hand():
    keras = pytest.importorskip("keras")
    decoder = layers.TransformerDecoder(16, 2)
    out = decoder(torch.from_numpy(X), torch.from_numpy(ENCODED), decoder_padding_mask=torch.from_numpy(PADDING),
                  encoder_padding_mask=torch.from_numpy(ENCODER_PADDING))
    attention, norm1, cross, norm2, dense1, dense2, norm3 = keras_blocks(keras, decoder.get_weights(), 8, 2, 16,
                                                                         cross=True)
    x = keras.ops.convert_to_tensor(X)
    x1 = norm1(x + attention(x, x, attention_mask=PADDING[:, None, :], use_causal_mask=True))
    x2 = norm2(x1 + cross(x1, ENCODED, attention_mask=ENCODER_PADDING[:, None, :]))
    expected = norm3(x2 + dense2(dense1(x2)))
    np.testing.assert_allclose(out.detach().cpu().numpy(), keras.ops.convert_to_numpy(expected), atol=1e-5)


def test_encoder_ignores_padding_and_decoder_does_not_look_ahead():
    embed = layers.Embedding(20, 8, mask_zero=True)
    encoder = layers.TransformerEncoder(16, 2)
    ids = torch.tensor([[5, 6, 7, 0, 0]])
    padded = encoder(embed(ids))
    alone = encoder(embed(ids[:, :3]))  # the same sentence without padding
    torch.testing.assert_close(padded[:, :3], alone, atol=1e-5, rtol=1e-5)
    assert torch.equal(padded._keras_mask, ids != 0)

    decoder = layers.TransformerDecoder(16, 2)
    x = torch.from_numpy(X)
    changed = x.clone()
    changed[:, 3:] += 1.0  # later positions change: earlier outputs must not
    torch.testing.assert_close(decoder(x)[:, :3], decoder(changed)[:, :3])
    assert not torch.allclose(decoder(x, use_causal_mask=False)[:, :3], decoder(changed, use_causal_mask=False)[:, :3])


def test_decoder_calls_must_match_its_first_call_and_masks_are_checked():
    decoder = layers.TransformerDecoder(16, 2)
    decoder(torch.from_numpy(X))
    with pytest.raises(ValueError, match="built without cross-attention"):
        decoder(torch.from_numpy(X), torch.from_numpy(ENCODED))
    cross = layers.TransformerDecoder(16, 2)
    cross(torch.from_numpy(X), torch.from_numpy(ENCODED))
    with pytest.raises(ValueError, match="built with cross-attention"):
        cross(torch.from_numpy(X))
    with pytest.raises(ValueError, match=r"padding_mask` of shape \(2, 5\)"):
        layers.TransformerEncoder(16, 2)(torch.from_numpy(X), padding_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="use at most 8 heads"):
        layers.TransformerEncoder(16, 16)(torch.from_numpy(X))


def test_blocks_conformance_configs_and_saved_models(tmp_path):
    run_layer_test(layers.TransformerEncoder, {"intermediate_dim": 16, "num_heads": 2, "normalize_first": True},
                   (2, 5, 8), expected_output_shape=(2, 5, 8))
    run_layer_test(layers.TransformerDecoder, {"intermediate_dim": 16, "num_heads": 2, "activation": "gelu"},
                   (2, 5, 8), expected_output_shape=(2, 5, 8))
    decoder_in, encoder_in = deepglass.Input((5,), dtype="int64"), deepglass.Input((6, 4))
    x = layers.TokenAndPositionEmbedding(20, 5, 8, mask_zero=True)(decoder_in)
    x = layers.TransformerDecoder(16, 2, dropout=0.1)(x, encoder_in)
    model = deepglass.Model([decoder_in, encoder_in], layers.GlobalAveragePooling1D()(x))
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    expected = model.predict([ids, ENCODED], verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = deepglass.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict([ids, ENCODED], verbose=0), expected, atol=1e-6)


def test_a_small_transformer_learns_which_token_comes_first():
    """Label 1 when token 1 comes before token 2 in a padded sequence: a question of order, which position
    embeddings and attention answer and a bag of tokens cannot."""
    rng = np.random.default_rng(0)
    n, length = 512, 8
    ids = rng.integers(3, 10, (n, length))
    lengths = rng.integers(4, length + 1, n)
    first, second = rng.integers(0, lengths), rng.integers(0, lengths - 1)
    second = second + (second >= first)  # a different position
    ids[np.arange(n), first], ids[np.arange(n), second] = 1, 2
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    labels = (first < second).astype("int64")
    deepglass.config.set_random_seed(1)
    inputs = deepglass.Input((length,), dtype="int64")
    x = layers.TokenAndPositionEmbedding(10, length, 16, mask_zero=True)(inputs)
    x = layers.TransformerEncoder(32, 2)(x)
    outputs = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling1D()(x))
    model = deepglass.Model(inputs, outputs)
    model.compile(deepglass.optimizers.Adam(5e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(ids[:448], labels[:448], epochs=10, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert model.evaluate(ids[448:], labels[448:], verbose=0)[1] > 0.85
