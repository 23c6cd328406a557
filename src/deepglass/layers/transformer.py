"""Transformer building blocks: position embeddings and encoder / decoder blocks built on MultiHeadAttention.

Keras keeps these in KerasHub; the names, arguments and weight order follow KerasHub's `TransformerEncoder`,
`TransformerDecoder` and `TokenAndPositionEmbedding`, so models written for them run unchanged. A text
classifier, for instance:

    inputs = deepglass.Input((100,), dtype="int64")
    x = deepglass.layers.TokenAndPositionEmbedding(20000, 100, 64, mask_zero=True)(inputs)
    x = deepglass.layers.TransformerEncoder(intermediate_dim=128, num_heads=4)(x)
    outputs = deepglass.layers.Dense(2, activation="softmax")(deepglass.layers.GlobalAveragePooling1D()(x))
"""
import torch

from deepglass import activations, initializers, regularizers
from deepglass.layers.attention import check_rate
from deepglass.layers.core import Dense, Dropout, _serialize_or_none
from deepglass.layers.embedding import Embedding, _positive_int
from deepglass.layers.input_spec import _describe
from deepglass.layers.layer import Layer
from deepglass.layers.multi_head_attention import (
    BuildsFromAllInputs, MultiHeadAttention, _run, build_sublayer,
)
from deepglass.layers.normalization import LayerNormalization
from deepglass.layers.symbolic import KerasTensor
from deepglass.naming import lookup

_MODES = {"learned": "learned", "sinusoidal": "sinusoidal"}


def sinusoidal_encoding(length, dim, max_wavelength=10000.0, dtype=torch.float32, device=None):
    """The fixed position encoding of Vaswani et al. (2017): `sin(p / w^(2i/dim))` at feature `2i` and
    `cos(p / w^(2i/dim))` at feature `2i + 1` for position `p`, as a `(length, dim)` tensor."""
    positions = torch.arange(length, dtype=torch.float64, device=device)[:, None]
    pairs = torch.div(torch.arange(dim, device=device), 2, rounding_mode="floor").to(torch.float64)
    angles = positions * max_wavelength ** (-2.0 * pairs / dim)
    odd = torch.arange(dim, device=device) % 2 == 1
    return torch.where(odd, torch.cos(angles), torch.sin(angles)).to(dtype)


class PositionalEmbedding(Layer):
    """Adds a position embedding to a sequence of vectors: `output[:, t] = inputs[:, t] + P[t]`.

    Inputs `(batch, time, dim)` with `time <= sequence_length`; the output has the same shape and keeps the input's
    mask. `mode="learned"` trains `P` (weight `embeddings`, `(sequence_length, dim)`); `mode="sinusoidal"` uses the
    fixed sine/cosine encoding of Vaswani et al. (2017), `P[t, 2i] = sin(t / w^(2i/dim))`,
    `P[t, 2i+1] = cos(t / w^(2i/dim))` with `w = max_wavelength`, and has no weights. To embed token ids and
    positions in one layer, use `TokenAndPositionEmbedding`.

    Arguments:
        sequence_length: the longest sequence the layer accepts.
        mode: `"learned"` or `"sinusoidal"`.
        embeddings_initializer: the initializer of the learned embeddings.
        max_wavelength: `w` of the sinusoidal encoding.

    Example:
        >>> tokens = deepglass.layers.Embedding(1000, 32, mask_zero=True)(torch.tensor([[5, 7, 0]]))
        >>> out = deepglass.layers.PositionalEmbedding(50)(tokens)
        >>> out.shape, out._keras_mask
        (torch.Size([1, 3, 32]), tensor([[ True,  True, False]]))
    """

    _passes_masks = True

    def __init__(self, sequence_length, mode="learned", embeddings_initializer="glorot_uniform",
                 max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = _positive_int(sequence_length, "sequence_length")
        self.mode = lookup("mode", mode, _MODES)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        if not isinstance(max_wavelength, (int, float)) or isinstance(max_wavelength, bool) or max_wavelength <= 1:
            raise ValueError(f"Received an invalid value for `max_wavelength`, expected a number above 1. Received: "
                             f"max_wavelength={max_wavelength!r}")
        self.max_wavelength = float(max_wavelength)

    def build(self, input_shape):
        dim = input_shape[-1]
        if len(input_shape) < 3 or dim is None:
            raise ValueError(f"{_describe(self)} expects inputs (batch, time, features) with a known number of "
                             f"features; received shape {tuple(input_shape)}. Put it after an Embedding.")
        if self.mode == "learned":
            self.add_weight((self.sequence_length, dim), self.embeddings_initializer, name="embeddings")
        else:
            # A buffer, not a weight: fixed, recomputable, and not saved.
            table = sinusoidal_encoding(self.sequence_length, dim, self.max_wavelength, self._dtype,
                                        getattr(self, "_build_device", None))
            self.register_buffer("embeddings", table, persistent=False)

    def call(self, inputs):
        length = inputs.shape[-2]
        if length > self.sequence_length:
            raise ValueError(f"{_describe(self)} received a sequence of length {length}, longer than its "
                             f"sequence_length={self.sequence_length}; raise sequence_length or truncate the "
                             "sequences (e.g. pad_sequences(maxlen=...)).")
        return inputs + self.embeddings[:length].to(inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length, "mode": self.mode,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "max_wavelength": self.max_wavelength}


class TokenAndPositionEmbedding(Layer):
    """Token ids to vectors plus their positions: `Embedding(ids) + PositionalEmbedding`, as KerasHub's layer.

    Inputs `(batch, time)` of ids in `[0, vocabulary_size)`, `time <= sequence_length`; outputs
    `(batch, time, embedding_dim)`. With `mask_zero=True` id 0 is padding and the output carries the mask `ids != 0`.

    Arguments:
        vocabulary_size: the number of token ids.
        sequence_length: the longest sequence.
        embedding_dim: the size of each vector.
        mode: the position embedding, `"learned"` or `"sinusoidal"`.
        embeddings_initializer: the initializer of the token (and learned position) embeddings.
        mask_zero: whether id 0 is padding.

    Example:
        >>> layer = deepglass.layers.TokenAndPositionEmbedding(1000, 50, 32, mask_zero=True)
        >>> layer(torch.tensor([[5, 7, 0]])).shape
        torch.Size([1, 3, 32])
    """

    def __init__(self, vocabulary_size, sequence_length, embedding_dim, mode="learned",
                 embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = _positive_int(vocabulary_size, "vocabulary_size")
        self.sequence_length = _positive_int(sequence_length, "sequence_length")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim")
        self.mode = lookup("mode", mode, _MODES)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self._creates_masks = self.mask_zero

    def build(self, input_shape):
        initializer = initializers.serialize(self.embeddings_initializer)
        self.token_embedding = build_sublayer(self, Embedding(
            self.vocabulary_size, self.embedding_dim, embeddings_initializer=initializers.get(initializer),
            mask_zero=self.mask_zero, dtype=self.dtype, name="token_embedding"), input_shape)
        self.position_embedding = build_sublayer(self, PositionalEmbedding(
            self.sequence_length, self.mode, embeddings_initializer=initializers.get(initializer), dtype=self.dtype,
            name="position_embedding"), tuple(input_shape) + (self.embedding_dim,))

    def call(self, inputs):
        return _run(self.position_embedding, _run(self.token_embedding, inputs))

    def compute_mask(self, inputs, previous_mask=None):
        return inputs != 0 if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length, "embedding_dim": self.embedding_dim, "mode": self.mode,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero}


def _padding_and_attention_mask(layer, sequence, padding_mask, attention_mask, what):
    """The keys a sequence's positions may attend to: `padding_mask` (default: the sequence's Keras mask),
    `(batch, 1, time)`, AND `attention_mask` `(batch, Tq, time)`; None when neither is given."""
    if padding_mask is None:
        padding_mask = getattr(sequence, "_keras_mask", None)
    if padding_mask is not None and tuple(padding_mask.shape) != tuple(sequence.shape[:2]):
        raise ValueError(f"{_describe(layer)} expects `{what}padding_mask` of shape {tuple(sequence.shape[:2])} "
                         f"(batch, time); received shape {tuple(padding_mask.shape)}.")
    if attention_mask is not None and attention_mask.dim() != 3:
        raise ValueError(f"{_describe(layer)} expects `{what}attention_mask` of shape (batch, query time, key "
                         f"time); received shape {tuple(attention_mask.shape)}.")
    mask = None if padding_mask is None else padding_mask.bool()[:, None, :]
    if attention_mask is not None:
        mask = attention_mask.bool() if mask is None else mask & attention_mask.bool()
    return mask


class _TransformerBlock(Layer):
    """What the encoder and decoder blocks share: arguments, the residual attention and feed-forward sub-blocks."""

    _passes_masks = True  # the output keeps the positions (and so the mask) of the input sequence

    def __init__(self, intermediate_dim, num_heads, dropout=0.0, activation="relu", layer_norm_epsilon=1e-05,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, normalize_first=False, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.intermediate_dim = _positive_int(intermediate_dim, "intermediate_dim")
        self.num_heads = _positive_int(num_heads, "num_heads")
        self.dropout = check_rate(dropout)
        self.activation = activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.normalize_first = bool(normalize_first)

    def _dense_arguments(self):
        """Fresh initializers per sublayer (as KerasHub clones them), the shared regularizers, the dtype."""
        return {"kernel_initializer": initializers.get(initializers.serialize(self.kernel_initializer)),
                "bias_initializer": initializers.get(initializers.serialize(self.bias_initializer)),
                "kernel_regularizer": self.kernel_regularizer, "bias_regularizer": self.bias_regularizer,
                "dtype": self.dtype}

    def _add_attention(self, prefix, attention_name, query_shape, value_shape):
        """`_<prefix>_layer` (MultiHeadAttention with heads of size dim // num_heads), `_<prefix>_layer_norm` and
        `_<prefix>_dropout`, built."""
        hidden_dim = query_shape[-1]
        head_dim = (hidden_dim or 0) // self.num_heads
        if head_dim == 0:
            raise ValueError(f"{_describe(self)} splits the {hidden_dim} input features among num_heads="
                             f"{self.num_heads} heads, which leaves none per head; use at most {hidden_dim} heads.")
        attention = MultiHeadAttention(self.num_heads, head_dim, dropout=self.dropout, name=attention_name,
                                       **self._dense_arguments())
        setattr(self, f"_{prefix}_layer", build_sublayer(self, attention, query_shape, value_shape))
        setattr(self, f"_{prefix}_layer_norm", build_sublayer(self, LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype, name=f"{prefix}_layer_norm"), query_shape))
        setattr(self, f"_{prefix}_dropout", Dropout(self.dropout, dtype=self.dtype, name=f"{prefix}_dropout"))

    def _add_feedforward(self, shape, norm_first):
        """The two dense layers and their layer normalization, built in KerasHub's order (which sets the order of
        `get_weights`): the encoder creates its normalization first, the decoder last."""
        norm = LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=self.dtype, name="feedforward_layer_norm")
        if norm_first:
            self._feedforward_layer_norm = build_sublayer(self, norm, shape)
        self._feedforward_intermediate_dense = build_sublayer(self, Dense(
            self.intermediate_dim, activation=self.activation, name="feedforward_intermediate_dense",
            **self._dense_arguments()), shape)
        self._feedforward_output_dense = build_sublayer(self, Dense(
            shape[-1], name="feedforward_output_dense", **self._dense_arguments()),
            tuple(shape[:-1]) + (self.intermediate_dim,))
        if not norm_first:
            self._feedforward_layer_norm = build_sublayer(self, norm, shape)
        self._feedforward_dropout = Dropout(self.dropout, dtype=self.dtype, name="feedforward_dropout")

    def _attention_block(self, prefix, x, context, mask, causal, training, return_scores=False):
        """`x + dropout(attention(x, context))`, normalised before the attention or after the sum."""
        attention, norm = getattr(self, f"_{prefix}_layer"), getattr(self, f"_{prefix}_layer_norm")
        residual = x
        if self.normalize_first:
            x = _run(norm, x)
        context = x if context is None else context
        result = _run(attention, x, context, attention_mask=mask, use_causal_mask=causal, training=training,
                      return_attention_scores=return_scores)
        x, scores = result if return_scores else (result, None)
        x = _run(getattr(self, f"_{prefix}_dropout"), x, training=training) + residual
        if not self.normalize_first:
            x = _run(norm, x)
        return x, scores

    def _feedforward_block(self, x, training):
        residual = x
        if self.normalize_first:
            x = _run(self._feedforward_layer_norm, x)
        x = _run(self._feedforward_output_dense, _run(self._feedforward_intermediate_dense, x))
        x = _run(self._feedforward_dropout, x, training=training) + residual
        if not self.normalize_first:
            x = _run(self._feedforward_layer_norm, x)
        return x

    def compute_output_shape(self, input_shape, *others):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "intermediate_dim": self.intermediate_dim, "num_heads": self.num_heads,
                "dropout": self.dropout, "activation": activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _serialize_or_none(regularizers, self.kernel_regularizer),
                "bias_regularizer": _serialize_or_none(regularizers, self.bias_regularizer),
                "activity_regularizer": _serialize_or_none(regularizers, self.activity_regularizer),
                "normalize_first": self.normalize_first}


class TransformerEncoder(_TransformerBlock):
    """A Transformer encoder block (Vaswani et al., 2017): self-attention, then a two-layer feed-forward network,
    each wrapped as `LayerNorm(x + Dropout(sublayer(x)))` (or `x + Dropout(sublayer(LayerNorm(x)))` with
    `normalize_first=True`, as GPT-2).

    Inputs `(batch, time, dim)`; the output has the same shape and keeps the input's mask. The attention has
    `num_heads` heads of size `dim // num_heads`. Padded positions (the input's Keras mask, e.g. from
    `Embedding(mask_zero=True)`, or `padding_mask`) are not attended to; `attention_mask` `(batch, time, time)`
    restricts attention further.

    Arguments:
        intermediate_dim: the hidden size of the feed-forward network.
        num_heads: the number of attention heads.
        dropout: the dropout rate of the attention weights and of both sub-blocks' outputs.
        activation: the feed-forward network's activation.
        layer_norm_epsilon: the layer normalizations' epsilon.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: for every dense projection.
        normalize_first: normalise the sub-blocks' inputs (pre-norm) instead of their outputs.

    Call arguments: `inputs`, `padding_mask` `(batch, time)`, `attention_mask`, `training`,
    `return_attention_scores` (also return the attention weights `(batch, num_heads, time, time)`).

    Example:
        >>> encoder = deepglass.layers.TransformerEncoder(intermediate_dim=64, num_heads=4)
        >>> encoder(torch.randn(2, 10, 32)).shape
        torch.Size([2, 10, 32])
    """

    def build(self, inputs_shape):
        self._add_attention("self_attention", "self_attention_layer", inputs_shape, inputs_shape)
        self._add_feedforward(inputs_shape, norm_first=True)

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None, return_attention_scores=False):
        mask = _padding_and_attention_mask(self, inputs, padding_mask, attention_mask, "")
        x, scores = self._attention_block("self_attention", inputs, None, mask, False, training,
                                          return_attention_scores)
        x = self._feedforward_block(x, training)
        return (x, scores) if return_attention_scores else x

    def compute_output_spec(self, inputs, padding_mask=None, attention_mask=None, training=None,
                            return_attention_scores=False):
        output = KerasTensor(inputs.shape, self._dtype)
        if not return_attention_scores:
            return output
        batch, time = inputs.shape[0], inputs.shape[1]
        return output, KerasTensor((batch, self.num_heads, time, time), self._dtype)


class TransformerDecoder(BuildsFromAllInputs, _TransformerBlock):
    """A Transformer decoder block: causal self-attention, optional cross-attention to an encoder's output, then a
    two-layer feed-forward network, each wrapped with a residual connection and layer normalization.

    Called as `layer(decoder_sequence)` (decoder only, as GPT) or `layer(decoder_sequence, encoder_sequence)`
    (encoder-decoder, as the original Transformer); the first call decides which, and later calls must match.
    Inputs `(batch, T, dim)` and `(batch, S, encoder dim)`; the output is `(batch, T, dim)` and keeps the decoder
    sequence's mask. Padding comes from the sequences' Keras masks or `decoder_padding_mask` /
    `encoder_padding_mask`; `use_causal_mask=True` (the default) stops each position attending to later ones.

    Arguments: as `TransformerEncoder`.

    Call arguments: `decoder_sequence`, `encoder_sequence`, `decoder_padding_mask`, `decoder_attention_mask`,
    `encoder_padding_mask`, `encoder_attention_mask`, `use_causal_mask`, `training`.

    Example:
        >>> decoder = deepglass.layers.TransformerDecoder(intermediate_dim=64, num_heads=4)
        >>> decoder(torch.randn(2, 10, 32), torch.randn(2, 12, 32)).shape
        torch.Size([2, 10, 32])
    """

    _build_arguments = ("decoder_sequence", "encoder_sequence")

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        self._add_attention("self_attention", "self_attention", decoder_sequence_shape, decoder_sequence_shape)
        self._has_cross_attention = encoder_sequence_shape is not None
        if self._has_cross_attention:
            self._add_attention("cross_attention", "cross_attention", decoder_sequence_shape, encoder_sequence_shape)
        self._add_feedforward(decoder_sequence_shape, norm_first=False)

    def call(self, decoder_sequence, encoder_sequence=None, decoder_padding_mask=None, decoder_attention_mask=None,
             encoder_padding_mask=None, encoder_attention_mask=None, use_causal_mask=True, training=None):
        if (encoder_sequence is not None) != self._has_cross_attention:
            built, called = ("with", "without") if self._has_cross_attention else ("without", "with")
            raise ValueError(f"{_describe(self)} was built {built} cross-attention (its first call "
                             f"{'had' if self._has_cross_attention else 'had no'} encoder_sequence) and is now called "
                             f"{called} encoder_sequence; call it the same way every time.")
        self_mask = _padding_and_attention_mask(self, decoder_sequence, decoder_padding_mask, decoder_attention_mask,
                                                "decoder_")
        x, _ = self._attention_block("self_attention", decoder_sequence, None, self_mask, use_causal_mask, training)
        if self._has_cross_attention:
            cross_mask = _padding_and_attention_mask(self, encoder_sequence, encoder_padding_mask,
                                                     encoder_attention_mask, "encoder_")
            x, _ = self._attention_block("cross_attention", x, encoder_sequence, cross_mask, False, training)
        return self._feedforward_block(x, training)
