"""Attention, AdditiveAttention, MultiHeadAttention and GroupQueryAttention against the Keras oracle (same weights,
same inputs), and the fused (scaled_dot_product_attention) path against the explicit softmax path."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 5, 6)).astype("float32")
V = RNG.standard_normal((2, 7, 6)).astype("float32")
K = RNG.standard_normal((2, 7, 6)).astype("float32")
Q_MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
V_MASK = np.array([[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]], bool)
ATTENTION_MASK = RNG.random((2, 5, 7)) > 0.3
ATTENTION_MASK[..., 0] = True  # every query may attend somewhere


def numpy_of(x):
    return x.detach().cpu().numpy() if torch.is_tensor(x) else keras.ops.convert_to_numpy(x)


def same_weights(mine, theirs, mine_inputs, their_inputs, **kwargs):
    """Build both layers on the inputs, then give Keras's layer our weights."""
    mine(*mine_inputs, **kwargs)
    theirs(*their_inputs, **kwargs)
    assert [w.shape for w in mine.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    theirs.set_weights(mine.get_weights())


def with_mask(array, mask):
    tensor = torch.from_numpy(array).clone()
    tensor._keras_mask = torch.from_numpy(mask)
    return tensor


# ------------------------------------------------------------------------------------------------ Attention layers
@pytest.mark.parametrize("cls, kwargs", [
    ("Attention", {}), ("Attention", {"use_scale": True}), ("Attention", {"score_mode": "concat"}),
    ("Attention", {"score_mode": "concat", "use_scale": True}), ("AdditiveAttention", {}),
    ("AdditiveAttention", {"use_scale": False}),
])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_layers_equal_keras(cls, kwargs, causal):
    mine, theirs = getattr(layers, cls)(**kwargs), getattr(keras.layers, cls)(**kwargs)
    inputs = [torch.from_numpy(Q), torch.from_numpy(V), torch.from_numpy(K)]
    same_weights(mine, theirs, [inputs], [[Q, V, K]])
    if mine.get_weights():  # not the initial ones, so that a missing scale shows
        theirs.set_weights([w * 0.5 + 0.3 for w in mine.get_weights()])
        mine.set_weights(theirs.get_weights())
    masks = [torch.from_numpy(Q_MASK), torch.from_numpy(V_MASK)]
    out, scores = mine(inputs, mask=masks, use_causal_mask=causal, return_attention_scores=True)
    their_out, their_scores = theirs([Q, V, K], mask=[Q_MASK, V_MASK], use_causal_mask=causal,
                                     return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(out), numpy_of(their_out), atol=1e-5)
    np.testing.assert_allclose(numpy_of(scores), numpy_of(their_scores), atol=1e-6)
    assert torch.equal(out, mine(inputs, mask=masks, use_causal_mask=causal))


def test_attention_reads_the_inputs_keras_masks_and_passes_the_query_mask_on():
    layer = layers.Attention()
    explicit = layer([torch.from_numpy(Q), torch.from_numpy(V)], mask=[torch.from_numpy(Q_MASK),
                                                                       torch.from_numpy(V_MASK)])
    out = layer([with_mask(Q, Q_MASK), with_mask(V, V_MASK)])
    assert torch.equal(out, explicit)
    assert torch.equal(out._keras_mask, torch.from_numpy(Q_MASK))
    assert "_keras_mask" not in layer([torch.from_numpy(Q), torch.from_numpy(V)]).__dict__


def test_attention_dropout_only_in_training_and_seeded():
    inputs = [torch.from_numpy(Q), torch.from_numpy(V)]
    layer = layers.Attention(dropout=0.5, seed=3)
    assert torch.equal(layer(inputs), layers.Attention()(inputs))
    _, weights = layer(inputs, training=True, return_attention_scores=True)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 5))  # scores are returned before dropout
    assert not torch.equal(layer(inputs, training=True), layer(inputs))
    assert torch.equal(layers.Attention(dropout=0.5, seed=3)(inputs, training=True),
                       layers.Attention(dropout=0.5, seed=3)(inputs, training=True))


def test_attention_layers_in_a_model_and_their_configs():
    query, value = deepglass.Input((5, 6)), deepglass.Input((7, 6))
    out, scores = layers.Attention()([query, value], return_attention_scores=True)
    assert out.shape == (None, 5, 6) and scores.shape == (None, 5, 7)
    model = deepglass.Model([query, value], layers.AdditiveAttention()([out, value]))
    np.testing.assert_allclose(model.predict([Q, V], verbose=0),
                               numpy_of(model([torch.from_numpy(Q), torch.from_numpy(V)])), atol=1e-6)
    for layer in (layers.Attention(use_scale=True, score_mode="concat", dropout=0.1, seed=1),
                  layers.AdditiveAttention(use_scale=False)):
        clone = layers.deserialize(layers.serialize(layer))
        assert clone.get_config() == layer.get_config()
    assert "score_mode" not in layers.AdditiveAttention().get_config()


def test_attention_bad_inputs():
    with pytest.raises(ValueError, match=r"list \[query, value\]"):
        layers.Attention()(torch.from_numpy(Q))
    with pytest.raises(ValueError, match="value_mask` of shape \\(2, 7\\)"):
        layers.Attention()([torch.from_numpy(Q), torch.from_numpy(V)], mask=[None, torch.ones(2, 6, dtype=bool)])
    with pytest.raises(ValueError, match="Did you mean 'concat'"):
        layers.Attention(score_mode="concatenate")


# ----------------------------------------------------------------------------------------------- MultiHeadAttention
MHA_CASES = [
    ({"num_heads": 2, "key_dim": 3}, False),
    ({"num_heads": 3, "key_dim": 2, "value_dim": 4, "use_bias": False}, True),
    ({"num_heads": 2, "key_dim": 3, "output_shape": (2, 5)}, True),
    ({"num_heads": 1, "key_dim": 4, "output_shape": 3}, False),
]
CALLS = [{}, {"use_causal_mask": True}, {"value_mask": V_MASK}, {"attention_mask": ATTENTION_MASK},
         {"attention_mask": ATTENTION_MASK, "use_causal_mask": True, "value_mask": V_MASK}]


def torch_kwargs(kwargs):
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("kwargs, with_key", MHA_CASES)
def test_multi_head_attention_equals_keras(kwargs, with_key):
    mine, theirs = layers.MultiHeadAttention(**kwargs), keras.layers.MultiHeadAttention(**kwargs)
    args = (Q, V, K) if with_key else (Q, V)
    torch_args = [torch.from_numpy(a) for a in args]
    same_weights(mine, theirs, torch_args, args)
    assert mine.count_params() == theirs.count_params()
    for call in CALLS:
        out = mine(*torch_args, **torch_kwargs(call))  # scaled_dot_product_attention
        out2, scores = mine(*torch_args, return_attention_scores=True, **torch_kwargs(call))  # explicit softmax
        their_out, their_scores = theirs(*args, return_attention_scores=True, **call)
        np.testing.assert_allclose(numpy_of(out), numpy_of(their_out), atol=1e-5)
        np.testing.assert_allclose(numpy_of(out2), numpy_of(their_out), atol=1e-5)
        np.testing.assert_allclose(numpy_of(scores), numpy_of(their_scores), atol=1e-6)
        np.testing.assert_allclose(numpy_of(out), numpy_of(theirs(*args, **call)), atol=1e-5)


def test_multi_head_self_attention_with_keras_masks_equals_keras():
    mine, theirs = layers.MultiHeadAttention(2, 3), keras.layers.MultiHeadAttention(2, 3)
    same_weights(mine, theirs, [torch.from_numpy(Q)] * 2, [Q, Q])
    # Keras removes the masks from its inputs, hence fresh tensors for each call
    out = mine(with_mask(Q, Q_MASK), with_mask(Q, Q_MASK), use_causal_mask=True)
    their_out = theirs(with_mask(Q, Q_MASK), with_mask(Q, Q_MASK), use_causal_mask=True)
    np.testing.assert_allclose(numpy_of(out), numpy_of(their_out), atol=1e-5)
    assert torch.equal(out._keras_mask, torch.from_numpy(Q_MASK))
    # The explicit path agrees with Keras's except where a query attends to nothing (masked query rows): Keras's
    # explicit softmax gives zero weights there, its fused path (and both of ours) uniform ones.
    _, scores = mine(with_mask(Q, Q_MASK), with_mask(Q, Q_MASK), return_attention_scores=True)
    _, their_scores = theirs(with_mask(Q, Q_MASK), with_mask(Q, Q_MASK), return_attention_scores=True)
    rows = torch.from_numpy(Q_MASK)[:, None, :, None].expand(scores.shape)
    np.testing.assert_allclose(numpy_of(scores)[rows.numpy()], numpy_of(their_scores)[rows.numpy()], atol=1e-6)
    np.testing.assert_allclose(numpy_of(scores)[~rows.numpy()], 1 / 5, atol=1e-6)


def test_value_mask_is_used_when_only_the_value_is_masked():
    layer = layers.MultiHeadAttention(2, 3)
    layer(torch.from_numpy(Q), torch.from_numpy(V))  # built: an unmasked query takes the fast call path
    explicit = layer(torch.from_numpy(Q), torch.from_numpy(V), value_mask=torch.from_numpy(V_MASK))
    assert torch.equal(layer(torch.from_numpy(Q), with_mask(V, V_MASK)), explicit)
    assert not torch.equal(layer(torch.from_numpy(Q), torch.from_numpy(V)), explicit)


def test_attention_over_two_axes_equals_keras():
    x = RNG.standard_normal((2, 3, 4, 6)).astype("float32")
    mask = RNG.random((2, 3, 4, 3, 4)) > 0.3
    mask[..., 0, 0] = True
    mine = layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    theirs = keras.layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    same_weights(mine, theirs, [torch.from_numpy(x)] * 2, [x, x])
    for call in ({}, {"attention_mask": mask}):
        out, scores = mine(torch.from_numpy(x), torch.from_numpy(x), return_attention_scores=True,
                           **torch_kwargs(call))
        their_out, their_scores = theirs(x, x, return_attention_scores=True, **call)
        assert scores.shape == (2, 2, 3, 4, 3, 4)
        np.testing.assert_allclose(numpy_of(out), numpy_of(their_out), atol=1e-5)
        np.testing.assert_allclose(numpy_of(scores), numpy_of(their_scores), atol=1e-6)
        np.testing.assert_allclose(numpy_of(mine(torch.from_numpy(x), torch.from_numpy(x), **torch_kwargs(call))),
                                   numpy_of(their_out), atol=1e-5)
    # one axis of two: attention along the columns of each row
    mine, theirs = layers.MultiHeadAttention(2, 3, attention_axes=2), keras.layers.MultiHeadAttention(
        2, 3, attention_axes=2)
    same_weights(mine, theirs, [torch.from_numpy(x)] * 2, [x, x])
    np.testing.assert_allclose(numpy_of(mine(torch.from_numpy(x), torch.from_numpy(x))),
                               numpy_of(theirs(x, x)), atol=1e-5)


@pytest.mark.parametrize("call", CALLS + [{"query_mask": Q_MASK, "key_mask": V_MASK}])
def test_fused_path_equals_explicit_path(call):
    layer = layers.MultiHeadAttention(2, 3, value_dim=4, sliding_window=3)
    args = [torch.from_numpy(a) for a in (Q, V, K)]
    fused = layer(*args, **torch_kwargs(call))
    explicit, _ = layer(*args, return_attention_scores=True, **torch_kwargs(call))
    torch.testing.assert_close(fused, explicit, atol=1e-6, rtol=1e-5)


def test_grouped_query_attention_equals_keras():
    mine, theirs = layers.GroupQueryAttention(3, 4, 2), keras.layers.GroupQueryAttention(3, 4, 2)
    same_weights(mine, theirs, [torch.from_numpy(Q), torch.from_numpy(V)], [Q, V])
    for call in CALLS:
        out, scores = mine(torch.from_numpy(Q), torch.from_numpy(V), return_attention_scores=True,
                           **torch_kwargs(call))
        their_out, their_scores = theirs(Q, V, return_attention_scores=True, **call)
        np.testing.assert_allclose(numpy_of(out), numpy_of(their_out), atol=1e-5)
        np.testing.assert_allclose(numpy_of(scores), numpy_of(their_scores), atol=1e-6)
        fused = mine(torch.from_numpy(Q), torch.from_numpy(V), **torch_kwargs(call))
        np.testing.assert_allclose(numpy_of(fused), numpy_of(their_out), atol=1e-5)
    assert layers.GroupedQueryAttention is layers.GroupQueryAttention


def test_multi_head_attention_in_models_and_configs():
    query, value = deepglass.Input((5, 6)), deepglass.Input((7, 6))
    out, scores = layers.MultiHeadAttention(2, 3)(query, value, use_causal_mask=True, return_attention_scores=True)
    assert out.shape == (None, 5, 6) and scores.shape == (None, 2, 5, 7)
    model = deepglass.Model([query, value], layers.GroupQueryAttention(2, 4, 1)(out, value))
    np.testing.assert_allclose(model.predict([Q, V], verbose=0),
                               numpy_of(model([torch.from_numpy(Q), torch.from_numpy(V)])), atol=1e-6)
    for layer in (layers.MultiHeadAttention(2, 3, value_dim=4, output_shape=(2, 3), attention_axes=[1],
                                            dropout=0.1, kernel_regularizer="l2", use_gate=True, seed=4),
                  layers.GroupQueryAttention(2, 4, 2, sliding_window=3)):
        clone = layers.deserialize(layers.serialize(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_multi_head_attention_gate_and_dropout():
    layer = layers.MultiHeadAttention(2, 3, use_gate=True)
    layer(torch.from_numpy(Q), torch.from_numpy(V))
    assert [w.shape for w in layer.get_weights()][4:6] == [(6, 2, 3), (2, 3)]  # gate after key, as in Keras
    theirs = keras.layers.MultiHeadAttention(2, 3, use_gate=True)
    theirs(Q, V)
    theirs.set_weights(layer.get_weights())
    np.testing.assert_allclose(numpy_of(layer(torch.from_numpy(Q), torch.from_numpy(V))), numpy_of(theirs(Q, V)),
                               atol=1e-5)
    dropping = layers.MultiHeadAttention(2, 3, dropout=0.5, seed=1)
    args = (torch.from_numpy(Q), torch.from_numpy(V))
    assert torch.equal(dropping(*args), dropping(*args))
    assert not torch.equal(dropping(*args, training=True), dropping(*args))


def test_kernel_choice_does_not_change_the_result():
    args = (torch.from_numpy(Q), torch.from_numpy(V))
    default = layers.MultiHeadAttention(2, 3)
    expected = default(*args, use_causal_mask=True)
    for flash in (False, True):
        layer = layers.MultiHeadAttention(2, 3, flash_attention=flash)
        layer(*args)
        layer.set_weights(default.get_weights())
        torch.testing.assert_close(layer(*args, use_causal_mask=True), expected)
    with pytest.raises(ValueError, match="cannot return attention scores with flash_attention=True"):
        layer(*args, return_attention_scores=True)


@pytest.mark.parametrize("make, call, message", [
    (lambda: layers.MultiHeadAttention(2, 3), lambda l: l(torch.from_numpy(Q), torch.from_numpy(V),
                                                          query_mask=torch.ones(2, 7, dtype=bool)),
     r"query_mask` of shape \(2, 5\)"),
    (lambda: layers.MultiHeadAttention(2, 3), lambda l: l(torch.from_numpy(Q), torch.from_numpy(V),
                                                          attention_mask=torch.ones(2, 5, 6, dtype=bool)),
     r"attention_mask` of shape \(2, 5, 7\)"),
    (lambda: layers.MultiHeadAttention(2, 3), lambda l: l(torch.from_numpy(Q)), "needs a `value`"),
    (lambda: layers.MultiHeadAttention(2, 3, attention_axes=(1, 2)),
     lambda l: l(torch.zeros(2, 3, 4, 6), torch.zeros(2, 3, 4, 6), use_causal_mask=True), "one sequence axis"),
    (lambda: layers.MultiHeadAttention(2, 3, attention_axes=3), lambda l: l(torch.from_numpy(Q), torch.from_numpy(V)),
     "attention_axes"),
    (lambda: layers.MultiHeadAttention(0, 3), None, "num_heads"),
    (lambda: layers.MultiHeadAttention(2, 3, dropout=0.1, flash_attention=True), None, "flash_attention"),
    (lambda: layers.GroupQueryAttention(2, 3, 2), None, "multiple of `num_key_value_heads`"),
])
def test_multi_head_attention_bad_input(make, call, message):
    with pytest.raises(ValueError, match=message):
        layer = make()
        call(layer)
