"""Attention (Luong, dot-product) and AdditiveAttention (Bahdanau) over a query and a value sequence."""
import numbers

import torch

from deepglass.layers.input_spec import _describe
from deepglass.layers.layer import Layer
from deepglass.layers.symbolic import KerasTensor
from deepglass.naming import lookup

_SCORE_MODES = {"dot": "dot", "concat": "concat"}


def check_rate(value, name="dropout"):
    """A float in [0, 1), or a ValueError naming the argument."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"Received an invalid value for `{name}`, expected a float in [0, 1). Received: "
                         f"{name}={value!r}")
    return float(value)


def seeded_dropout(layer, x, rate):
    """Dropout of `x` with the layer's seed (a generator created on first use), or torch's global generator."""
    if layer.seed is None:
        return torch.nn.functional.dropout(x, rate, True)
    generator = getattr(layer, "_generator", None)
    if generator is None or generator.device != x.device:
        generator = layer._generator = torch.Generator(device=x.device).manual_seed(layer.seed)
    keep = torch.empty_like(x).bernoulli_(1 - rate, generator=generator)
    return x * keep / (1 - rate)


def check_sequence_mask(layer, mask, tensor, what):
    """Raise when `mask` is not boolean-like of shape `tensor.shape[:-1]` (one entry per time step)."""
    if mask is not None and tuple(mask.shape) != tuple(tensor.shape[:-1]):
        raise ValueError(f"{_describe(layer)} expects `{what}` of shape {tuple(tensor.shape[:-1])} (the {what[:-5]}'s "
                         f"shape without its last axis); received shape {tuple(mask.shape)}.")


class Attention(Layer):
    """Dot-product attention (Luong style): `softmax(query @ key^T) @ value`.

    Called on `[query, value]` or `[query, value, key]` (key defaults to value) of shapes `(batch, Tq, dim)`,
    `(batch, Tv, dim)`, `(batch, Tv, dim)`; returns `(batch, Tq, dim)`. With `score_mode="concat"` the scores are
    `concat_score_weight * sum(tanh(query + key), axis=-1)` instead. Value positions where `mask[1]` is False get
    `-1e9` added to their scores; outputs where `mask[0]` is False are 0. Masks come from the inputs' Keras masks
    (e.g. `Embedding(mask_zero=True)`) or from `mask=[query_mask, value_mask]`.

    Arguments:
        use_scale: learn a scalar `scale` multiplying the scores (initialised to 1).
        score_mode: `"dot"` or `"concat"`.
        dropout: the fraction of attention weights dropped during training.
        seed: a seed for reproducible dropout.

    Call arguments: `inputs`, `mask`, `training`, `return_attention_scores` (also return the weights,
    `(batch, Tq, Tv)`), `use_causal_mask` (position i attends to positions j <= i only).

    Example:
        >>> query, value = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
        >>> deepglass.layers.Attention()([query, value]).shape
        torch.Size([2, 4, 8])
    """

    _creates_masks = False  # the output's mask is the query's

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        self.score_mode = lookup("score_mode", score_mode, _SCORE_MODES)
        self.dropout = check_rate(dropout)
        self.seed = seed

    def build(self, input_shape):
        self._check_inputs(input_shape)
        # An attribute set before `add_weight` would block registering the weight, hence None only where absent.
        if self.use_scale:
            self.add_weight((), "ones", name="scale")
        else:
            self.scale = None
        if self.score_mode == "concat":
            self.add_weight((), "ones", name="concat_score_weight")
        else:
            self.concat_score_weight = None

    def _scores(self, query, key):
        """`(batch, Tq, Tv)` scores of every query against every key."""
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-2, -1))
            return scores if self.scale is None else scores * self.scale
        pairs = query.unsqueeze(-2) + key.unsqueeze(-3)  # (batch, Tq, Tv, dim)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * torch.tanh(pairs).sum(-1)

    def call(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False):
        self._check_inputs(inputs)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = self._masks(inputs, mask)
        scores = self._scores(query, key)
        keep = value_mask.unsqueeze(-2) if value_mask is not None else None
        if use_causal_mask:
            causal = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device).tril()
            keep = causal if keep is None else keep & causal
        if keep is not None:
            # Subtracted, not replaced, as Keras does; 65504 is float16's largest value.
            big = 65504.0 if scores.dtype == torch.float16 else 1.0e9
            scores = torch.where(keep, scores, scores - big)
        weights = torch.softmax(scores, dim=-1)
        training = self.training if training is None else training
        dropped = seeded_dropout(self, weights, self.dropout) if training and self.dropout > 0 else weights
        outputs = torch.matmul(dropped, value)
        if query_mask is not None:
            outputs = torch.where(query_mask.unsqueeze(-1), outputs, 0.0)
        return (outputs, weights) if return_attention_scores else outputs

    def _masks(self, inputs, mask):
        """(query mask, value mask) as booleans: from `mask`, else from the inputs' Keras masks."""
        if mask is None:
            mask = [getattr(t, "_keras_mask", None) for t in inputs]
        if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            raise ValueError(f"{_describe(self)} expects `mask` as a list [query_mask, value_mask]; received "
                             f"mask={mask!r}.")
        query_mask, value_mask = mask[0], mask[1]
        check_sequence_mask(self, query_mask, inputs[0], "query_mask")
        check_sequence_mask(self, value_mask, inputs[1], "value_mask")
        return (None if query_mask is None else query_mask.bool(),
                None if value_mask is None else value_mask.bool())

    def compute_mask(self, inputs, previous_mask=None):
        if previous_mask is None:
            previous_mask = [getattr(t, "_keras_mask", None) for t in inputs]
        return previous_mask[0] if isinstance(previous_mask, (list, tuple)) else None

    def _check_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{_describe(self)} must be called on a list [query, value] or [query, value, key]; "
                             f"received {type(inputs).__name__}"
                             f"{f' of length {len(inputs)}' if isinstance(inputs, (list, tuple)) else ''}.")

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def compute_output_spec(self, inputs, mask=None, training=None, return_attention_scores=False,
                            use_causal_mask=False):
        shapes = [t.shape for t in inputs]
        output = KerasTensor(self.compute_output_shape(shapes), self._dtype)
        if not return_attention_scores:
            return output
        key_shape = shapes[2] if len(shapes) > 2 else shapes[1]
        return output, KerasTensor(tuple(shapes[0][:-1]) + (key_shape[-2],), self._dtype)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}

    def extra_repr(self):
        return f"name={self.name!r}, score_mode={self.score_mode!r}, use_scale={self.use_scale}"


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau style): scores `sum(scale * tanh(query + key), axis=-1)`, then as `Attention`.

    Called on `[query, value]` or `[query, value, key]`; `scale` is a learned vector of size `dim` (Glorot
    uniform) when `use_scale=True`. Masks, dropout, `return_attention_scores` and `use_causal_mask` work as in
    `Attention`.

    Arguments:
        use_scale: learn the per-feature `scale`.
        dropout: the fraction of attention weights dropped during training.

    Example:
        >>> query, value = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
        >>> deepglass.layers.AdditiveAttention()([query, value]).shape
        torch.Size([2, 4, 8])
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)  # written by Attention's config; additive attention has one mode
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        dim = input_shape[0][-1]
        if dim is None:
            raise ValueError(f"{_describe(self)} needs a known last query axis to create `scale`; received shapes "
                             f"{list(input_shape)}.")
        if self.use_scale:
            self.add_weight((dim,), "glorot_uniform", name="scale")
        else:
            self.scale = None

    def _scores(self, query, key):
        pairs = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))  # (batch, Tq, Tv, dim)
        return (pairs * self.scale).sum(-1) if self.scale is not None else pairs.sum(-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
