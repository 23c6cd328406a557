"""MultiHeadAttention and GroupQueryAttention: project to heads, scaled dot-product attention, project back.

The projections keep Keras's weight layouts (query kernel `(dim, heads, key_dim)`, output kernel
`(heads, value_dim, dim)`), so `set_weights(keras_layer.get_weights())` works; they are stored transposed so that
each projection is one `F.linear`. Attention runs in `torch.nn.functional.scaled_dot_product_attention` (fused
kernels, flash attention on GPUs) unless the attention weights are asked for, in which case an explicit softmax
computes them. Both give the same outputs, masks included.
"""
import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from deepglass import constraints, initializers, regularizers
from deepglass.layers.attention import check_rate, check_sequence_mask, seeded_dropout
from deepglass.layers.core import _serialize_or_none
from deepglass.layers.input_spec import _describe
from deepglass.layers.layer import Layer, _first_device, _to_tensor
from deepglass.layers.symbolic import KerasTensor
from deepglass.utils import tree

_run = nn.Module.__call__  # calls a built sublayer without the mask bookkeeping of Layer.__call__


def _large_negative(dtype):
    """Added to the scores of masked positions, as Keras's torch backend does: finite, so no row becomes NaN."""
    return -0.7 * torch.finfo(dtype).max


class BuildsFromAllInputs:
    """Mixin for layers whose `build` needs several call arguments (`build(query_shape, value_shape, key_shape)`):
    the base Layer builds from the first argument only. `_build_arguments` names the arguments `build` receives."""

    _build_arguments = ()

    def _eager_call(self, args, kwargs):
        args = tuple(tree.map_structure(_to_tensor, a) for a in args)
        kwargs = {k: tree.map_structure(_to_tensor, v) for k, v in kwargs.items()}
        self._build_from_arguments(args, kwargs)
        return super()._eager_call(args, kwargs)

    def _symbolic_call(self, args, kwargs):
        self._build_from_arguments(args, kwargs)
        return super()._symbolic_call(args, kwargs)

    def _build_from_arguments(self, args, kwargs):
        if not self.built:
            values = [args[i] if i < len(args) else kwargs.get(name) for i, name in enumerate(self._build_arguments)]
            self._build_all([None if v is None else tuple(v.shape) for v in values], _first_device(values))

    def _build_all(self, shapes, device=None):
        """`build(*shapes)` once, creating the weights on `device`."""
        self._build_device = device
        self.build(*shapes)
        self._build_device = None
        # No single input shape to record: a saved model rebuilds this layer by calling it on its inputs.
        self._build_shapes = None
        self.built = True
        self._refresh_plain_call()


def build_sublayer(parent, layer, *shapes):
    """Build `layer` for inputs of `shapes` on `parent`'s device, inside `parent.build`, so that its weights exist (and
    count) as soon as `parent` is built; returns `layer`."""
    device = getattr(parent, "_build_device", None)
    if isinstance(layer, BuildsFromAllInputs):
        layer._build_all(list(shapes), device)
    else:
        layer._maybe_build(shapes[0], device=device)
    return layer


class HeadProjection(Layer):
    """A dense map of the last `in_rank` axes onto `out_shape` (the EinsumDense that Keras's attention layers use).

    The kernel has Keras's shape `(*in_shape, *out_shape)` in `get_weights()` and is stored as
    `(*out_shape, *in_shape)`, so the projection is one `F.linear`; the bias has shape `out_shape`.
    """

    def __init__(self, out_shape, in_rank=1, use_bias=True, sigmoid=False, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.out_shape = tuple(int(d) for d in out_shape)
        self.in_rank = int(in_rank)
        self.use_bias = bool(use_bias)
        self.sigmoid = bool(sigmoid)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        in_shape = tuple(input_shape[-self.in_rank:])
        if None in in_shape:
            raise ValueError(f"{_describe(self)} needs known sizes on its last {self.in_rank} input axes; received "
                             f"input shape {tuple(input_shape)}.")
        n_in, n_out = len(in_shape), len(self.out_shape)
        layout = tuple(range(n_in, n_in + n_out)) + tuple(range(n_in))
        self.add_weight(in_shape + self.out_shape, self.kernel_initializer, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint, name="kernel", layout=layout)
        if self.use_bias:
            self.add_weight(self.out_shape, self.bias_initializer, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None
        self._sizes = (math.prod(self.out_shape), math.prod(in_shape))

    def call(self, inputs):
        x = inputs.flatten(-self.in_rank) if self.in_rank > 1 else inputs
        y = F.linear(x, self.kernel.view(self._sizes), None if self.bias is None else self.bias.view(-1))
        if len(self.out_shape) > 1:
            y = y.unflatten(-1, self.out_shape)
        return torch.sigmoid(y) if self.sigmoid else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-self.in_rank]) + self.out_shape

    def get_config(self):
        return {**super().get_config(), "out_shape": list(self.out_shape), "in_rank": self.in_rank,
                "use_bias": self.use_bias, "sigmoid": self.sigmoid,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _serialize_or_none(regularizers, self.kernel_regularizer),
                "bias_regularizer": _serialize_or_none(regularizers, self.bias_regularizer),
                "kernel_constraint": _serialize_or_none(constraints, self.kernel_constraint),
                "bias_constraint": _serialize_or_none(constraints, self.bias_constraint)}


class _AttentionAxes:
    """How a projected tensor `(batch, *positions, heads, channels)` becomes `(groups, heads, length, channels)` for
    attention over `axes`: the other position axes join the batch into `groups`, the attended axes flatten into
    `length`. With one sequence axis this is a transpose view."""

    def __init__(self, rank, axes):
        self.axes = tuple(axes)
        self.batch = [d for d in range(rank - 1) if d not in self.axes]  # ends with the heads axis
        self.perm = self.batch + list(self.axes) + [rank - 1]
        self.inverse = [int(i) for i in np.argsort(self.perm)]
        self.mask_perm = self.batch[:-1] + list(self.axes)  # for masks shaped like the input without its last axis

    def to_heads(self, x):
        """`(groups, heads, length, channels)` and the sizes `(batch sizes ..., heads, attended sizes ...)`."""
        y = x.permute(self.perm)
        sizes = tuple(y.shape[:-1])
        nb = len(self.batch)
        return y.reshape(-1, sizes[nb - 1], math.prod(sizes[nb:]), y.shape[-1]), sizes

    def from_heads(self, out, sizes):
        """Undo `to_heads` for the attention output `(groups, heads, length, value_dim)`."""
        return out.reshape(sizes + (out.shape[-1],)).permute(self.inverse)

    def scores_shape(self, query_sizes, key_sizes):
        """Keras's layout of the attention weights: `(batch sizes ..., heads, query positions, key positions)`."""
        return query_sizes + key_sizes[len(self.batch):]

    def sequence_mask(self, mask, sizes, query):
        """A `(batch, *positions)` mask as `(groups, 1, length, 1)` for a query, `(groups, 1, 1, length)` for a key."""
        m = mask.permute(self.mask_perm).reshape(-1, math.prod(sizes[len(self.batch):]))
        return m[:, None, :, None] if query else m[:, None, None, :]

    def pair_mask(self, mask, query_sizes, key_sizes):
        """A user's `attention_mask` broadcast as Keras does (missing batch and head axes), as
        `(groups, heads or 1, query length, key length)`."""
        nb = len(self.batch)
        rank = nb + 2 * len(self.axes)
        while mask.dim() < rank:
            mask = mask.unsqueeze(-2 * len(self.axes) - 1)
        heads = mask.shape[nb - 1]
        target = query_sizes[:nb - 1] + (heads,) + query_sizes[nb:] + key_sizes[nb:]
        mask = torch.broadcast_to(mask, target)
        return mask.reshape(-1, heads, math.prod(query_sizes[nb:]), math.prod(key_sizes[nb:]))


class _MultiHeadBase(BuildsFromAllInputs, Layer):
    """What MultiHeadAttention and GroupQueryAttention share: weights, masks and the attention itself."""

    _passes_masks = True  # the output keeps the query's positions, so it keeps the query's mask
    _build_arguments = ("query", "value", "key")
    # Attributes of the projections, in Keras's weight order; MultiHeadAttention's are public as in Keras.
    _projection_attributes = ("query_dense", "key_dense", "_gate_dense", "value_dense", "output_dense")

    @property
    def dropout(self):
        return self._dropout

    @property
    def use_bias(self):
        return self._use_bias

    def __init__(self, num_heads, num_key_value_heads, key_dim, value_dim, dropout, use_bias, output_shape,
                 attention_axes, sliding_window, flash_attention, kernel_initializer, bias_initializer,
                 kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint,
                 use_gate, seed, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._num_heads = num_heads
        self._num_key_value_heads = num_key_value_heads
        self._key_dim = key_dim
        self._value_dim = value_dim
        self._dropout = check_rate(dropout)
        self._use_bias = bool(use_bias)
        self._output_shape = output_shape
        self._attention_axes = attention_axes
        if sliding_window is not None and (not isinstance(sliding_window, int) or isinstance(sliding_window, bool)
                                           or sliding_window <= 0):
            raise ValueError(f"Received an invalid value for `sliding_window`, expected None or a positive integer. "
                             f"Received: sliding_window={sliding_window!r}")
        self._sliding_window = sliding_window
        if flash_attention and self._dropout > 0:
            raise ValueError(f"flash_attention=True cannot be used with dropout={dropout}; set dropout=0.0 or "
                             "flash_attention=None.")
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        self._use_gate = bool(use_gate)
        self.seed = seed
        self._scale = 1.0 / math.sqrt(float(key_dim))

    # -------------------------------------------------------------------------------------------------- building
    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise ValueError(f"{_describe(self)} needs a `value` as well as a `query`: call it as layer(query, value) "
                             "(layer(x, x) for self-attention).")
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"{_describe(self)} needs `value` and `key` with the same shape except the last axis; "
                             f"received value shape {tuple(value_shape)} and key shape {tuple(key_shape)}.")
        if len(query_shape) != len(value_shape) or len(query_shape) < 3:
            raise ValueError(f"{_describe(self)} needs `query` and `value` of the same rank, at least 3 "
                             f"(batch, positions..., features); received query shape {tuple(query_shape)} and value "
                             f"shape {tuple(value_shape)}.")
        self._axes = _AttentionAxes(len(query_shape) + 1, self._normalized_axes(len(query_shape)))
        out_shape = tuple(self._output_shape) if self._output_shape else (query_shape[-1],)
        heads, kv_heads = self._num_heads, self._num_key_value_heads
        q_name, k_name, g_name, v_name, o_name = self._projection_attributes
        specs = [(q_name, "query", (heads, self._key_dim), 1, query_shape),
                 (k_name, "key", (kv_heads, self._key_dim), 1, key_shape),
                 (g_name, "gate", (heads, self._value_dim), 1, query_shape) if self._use_gate else None,
                 (v_name, "value", (kv_heads, self._value_dim), 1, value_shape),
                 (o_name, "attention_output", out_shape, 2, (None, heads, self._value_dim))]
        projections = []
        for spec in specs:
            if spec is None:
                projections.append(None)
                continue
            attribute, name, shape, in_rank, input_shape = spec
            layer = HeadProjection(shape, in_rank, self._use_bias, sigmoid=name == "gate", name=name,
                                   **self._sublayer_arguments())
            setattr(self, attribute, build_sublayer(self, layer, input_shape))
            projections.append(layer)
        self._projections = tuple(projections)  # a plain tuple: the modules are registered by the setattr above

    def _normalized_axes(self, query_rank):
        """Attended axes as positions in the projected tensor `(batch, *positions, heads, channels)`."""
        rank = query_rank + 1
        if self._attention_axes is None:
            return tuple(range(1, rank - 2))
        axes = tuple(a if a >= 0 else rank - 1 + a for a in self._attention_axes)
        if any(not 1 <= a <= rank - 3 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"{_describe(self)} got attention_axes={list(self._attention_axes)}, but inputs of rank "
                             f"{query_rank} only have the position axes {list(range(1, query_rank - 1))}; name "
                             "each of them at most once (negative values count from the features axis).")
        return axes

    def _sublayer_arguments(self):
        return {"kernel_initializer": initializers.get(initializers.serialize(self._kernel_initializer)),
                "bias_initializer": initializers.get(initializers.serialize(self._bias_initializer)),
                "kernel_regularizer": self._kernel_regularizer, "bias_regularizer": self._bias_regularizer,
                "kernel_constraint": self._kernel_constraint, "bias_constraint": self._bias_constraint,
                "dtype": self.dtype}

    # --------------------------------------------------------------------------------------------------- calling
    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        # Layer.__call__ fills the masks from the tensors' Keras masks, except on its fast path (unmasked query):
        # read the value's and key's there, as Keras does.
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key is not None and key is not value and key_mask is None:
            key_mask = getattr(key, "_keras_mask", None)
        if key is None:
            key = value
        project_query, project_key, gate, project_value, project_output = self._projections
        q, query_sizes = self._axes.to_heads(_run(project_query, query))
        k, key_sizes = self._axes.to_heads(_run(project_key, key))
        v, _ = self._axes.to_heads(_run(project_value, value))
        keep = self._keep_mask(query, value, key, query_mask, value_mask, key_mask, attention_mask, query_sizes,
                               key_sizes)
        causal = bool(use_causal_mask)
        if causal:
            rows, cols = self._positions(q.shape[2], k.shape[2], q.device)
            if keep is not None:  # one mask for everything; alone, the causal mask is SDPA's `is_causal`
                keep, causal = keep & (rows >= cols), False
        training = self.training if training is None else training
        out, weights = self._attend(q, k, v, keep, causal, training, return_attention_scores)
        out = self._axes.from_heads(out, query_sizes)
        if gate is not None:
            out = out * _run(gate, query)
        out = _run(project_output, out)
        if return_attention_scores:
            return out, weights.reshape(self._axes.scores_shape(query_sizes, key_sizes))
        return out

    def _keep_mask(self, query, value, key, query_mask, value_mask, key_mask, attention_mask, query_sizes,
                   key_sizes):
        """Where each query may attend (True), broadcastable to `(groups, heads, Tq, Tk)`, or None: the AND of the
        query, value and key masks, the user's `attention_mask` and the sliding window."""
        axes, keep = self._axes, []
        for mask, tensor, what, is_query in ((query_mask, query, "query_mask", True),
                                             (value_mask, value, "value_mask", False),
                                             (key_mask, key, "key_mask", False)):
            if mask is not None:
                check_sequence_mask(self, mask, tensor, what)
                keep.append(axes.sequence_mask(mask.bool(), query_sizes if is_query else key_sizes, is_query))
        if attention_mask is not None:
            keep.append(self._pair_mask(attention_mask, query, key, query_sizes, key_sizes))
        if self._sliding_window is not None:
            rows, cols = self._positions(math.prod(query_sizes[-1:]), math.prod(key_sizes[-1:]), query.device)
            keep.append((rows - cols).abs() < self._sliding_window)
        if not keep:
            return None
        result = keep[0]
        for mask in keep[1:]:
            result = result & mask
        return result

    def _pair_mask(self, attention_mask, query, key, query_sizes, key_sizes):
        try:
            return self._axes.pair_mask(attention_mask.bool(), query_sizes, key_sizes)
        except RuntimeError:
            expected = tuple(query.shape[:-1]) + tuple(key.shape[d] for d in self._axes.axes)
            raise ValueError(f"{_describe(self)} expects `attention_mask` of shape {expected} (batch, query "
                             f"positions, key positions; the batch axis may be missing); received shape "
                             f"{tuple(attention_mask.shape)}.") from None

    def _positions(self, query_length, key_length, device):
        """Row and column indices `(Tq, 1)`, `(1, Tk)` for the causal and sliding-window masks."""
        if len(self._axes.axes) != 1:
            raise ValueError(f"{_describe(self)} applies use_causal_mask and sliding_window along one sequence axis; "
                             f"it attends over the axes {list(self._axes.axes)}.")
        return torch.arange(query_length, device=device)[:, None], torch.arange(key_length, device=device)[None, :]

    def _attend(self, q, k, v, keep, causal, training, return_scores):
        """`(output, weights or None)` for q `(groups, heads, Tq, key_dim)` and k, v `(groups, kv heads, Tk, dim)`."""
        dropout = self._dropout if training else 0.0
        bias = None if keep is None else (~keep).to(q.dtype) * _large_negative(q.dtype)
        if return_scores and self._flash_attention:
            raise ValueError(f"{_describe(self)} cannot return attention scores with flash_attention=True; set "
                             "flash_attention=None.")
        if not return_scores and not (dropout and self.seed is not None):
            with _kernels(self._flash_attention):
                try:
                    out = F.scaled_dot_product_attention(
                        q, k, v, attn_mask=bias, dropout_p=dropout, is_causal=causal, scale=self._scale,
                        enable_gqa=self._num_heads != self._num_key_value_heads)
                except RuntimeError as error:
                    if not self._flash_attention:
                        raise
                    raise ValueError(f"{_describe(self)} has flash_attention=True, but torch's flash kernel cannot "
                                     f"run these inputs (it takes no masks, and needs a GPU dtype and head size it "
                                     f"supports): {error}. Use flash_attention=None.") from None
            return out, None
        groups = self._num_heads // self._num_key_value_heads
        if groups > 1:
            k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        scores = torch.matmul(q * self._scale, k.transpose(-2, -1))
        if causal:
            rows, cols = self._positions(q.shape[2], k.shape[2], q.device)
            bias = (rows < cols).to(q.dtype) * _large_negative(q.dtype)
        if bias is not None:
            scores = scores + bias
        weights = torch.softmax(scores, dim=-1)
        dropped = seeded_dropout(self, weights, dropout) if dropout else weights
        return torch.matmul(dropped, v), weights

    # ---------------------------------------------------------------------------------------------------- shapes
    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if self._output_shape:
            return tuple(query_shape[:-1]) + tuple(self._output_shape)
        return tuple(query_shape)

    def compute_output_spec(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
                            attention_mask=None, return_attention_scores=False, training=None,
                            use_causal_mask=False):
        output = KerasTensor(self.compute_output_shape(query.shape), self._dtype)
        if not return_attention_scores:
            return output
        key = value if key is None else key
        heads_shape = lambda shape: tuple(shape[:-1]) + (self._num_heads,)  # noqa: E731
        query_sizes = tuple(heads_shape(query.shape)[d] for d in self._axes.perm[:-1])
        key_sizes = tuple(heads_shape(key.shape)[d] for d in self._axes.perm[:-1])
        return output, KerasTensor(self._axes.scores_shape(query_sizes, key_sizes), self._dtype)

    def _common_config(self):
        return {"dropout": self._dropout, "use_bias": self._use_bias, "use_gate": self._use_gate,
                "sliding_window": self._sliding_window, "flash_attention": self._flash_attention,
                "kernel_initializer": initializers.serialize(self._kernel_initializer),
                "bias_initializer": initializers.serialize(self._bias_initializer),
                "kernel_regularizer": _serialize_or_none(regularizers, self._kernel_regularizer),
                "bias_regularizer": _serialize_or_none(regularizers, self._bias_regularizer),
                "activity_regularizer": _serialize_or_none(regularizers, self.activity_regularizer),
                "kernel_constraint": _serialize_or_none(constraints, self._kernel_constraint),
                "bias_constraint": _serialize_or_none(constraints, self._bias_constraint), "seed": self.seed}


def _kernels(flash_attention):
    """torch's choice of attention kernel: any (None), flash only (True), any but flash (False)."""
    if flash_attention is None:
        return contextlib.nullcontext()
    if flash_attention:
        return sdpa_kernel([SDPBackend.FLASH_ATTENTION])
    return sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH])


def _positive(value, name, allow_none=False):
    if allow_none and value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        expected = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"Received an invalid value for `{name}`, expected {expected}. Received: {name}={value!r}")
    return value


def _int_tuple(value, name):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise ValueError(f"Received an invalid value for `{name}`, expected an int, a list or tuple of ints, or None. "
                     f"Received: {name}={value!r}")


class MultiHeadAttention(_MultiHeadBase):
    """Multi-head attention (Vaswani et al., 2017): `softmax(Q K^T / sqrt(key_dim)) V` in each of `num_heads`
    heads, then projected back.

    `Q = query @ Wq`, `K = key @ Wk`, `V = value @ Wv` per head (kernels `(dim, num_heads, key_dim)` etc.), and the
    heads' outputs are projected with a kernel `(num_heads, value_dim, output dim)`. Self-attention is
    `layer(x, x)`. Masks: the query's, value's and key's Keras masks (from `Embedding(mask_zero=True)`, or given as
    `query_mask=`/`value_mask=`/`key_mask=`), `attention_mask` (`(batch, Tq, Tv)`, True = may attend) and
    `use_causal_mask=True` (position i attends to positions j <= i) are combined with AND. A query with nothing to
    attend to averages the values uniformly, as on Keras's torch backend. The output carries the query's mask.

    Arguments:
        num_heads: the number of heads.
        key_dim: the size of each head for query and key.
        value_dim: the size of each head for value (default `key_dim`).
        dropout: the fraction of attention weights dropped during training.
        use_bias: whether the projections have biases.
        output_shape: the output's feature shape (an int or a tuple); default the query's last axis.
        attention_axes: the axes attended over (default every axis between batch and features), e.g. `(1, 2)`
            for the rows and columns of `(batch, rows, columns, channels)` inputs.
        sliding_window: attend only to keys fewer than this many positions away.
        flash_attention: None lets torch choose its kernel; True requires the flash kernel; False excludes it.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
            kernel_constraint, bias_constraint: as in Keras.
        use_gate: multiply the heads' outputs by a sigmoid gate computed from the query (gated attention).
        seed: a seed for reproducible dropout.

    Call arguments: `query` `(batch, Tq, dim)`, `value` `(batch, Tv, dim)`, `key` (default `value`), the masks
    above, `return_attention_scores` (also return the weights `(batch, num_heads, Tq, Tv)`), `training`,
    `use_causal_mask`.

    Example:
        >>> layer = deepglass.layers.MultiHeadAttention(num_heads=2, key_dim=4)
        >>> x = torch.randn(3, 5, 8)
        >>> out, scores = layer(x, x, return_attention_scores=True)
        >>> out.shape, scores.shape
        (torch.Size([3, 5, 8]), torch.Size([3, 2, 5, 5]))
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        num_heads = _positive(num_heads, "num_heads")
        key_dim = _positive(key_dim, "key_dim")
        value_dim = _positive(value_dim, "value_dim", allow_none=True) or key_dim
        super().__init__(num_heads, num_heads, key_dim, value_dim, dropout, use_bias,
                         _int_tuple(output_shape, "output_shape"), _int_tuple(attention_axes, "attention_axes"),
                         sliding_window, flash_attention, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, use_gate, seed,
                         **kwargs)

    @property
    def num_heads(self):
        return self._num_heads

    @property
    def key_dim(self):
        return self._key_dim

    @property
    def value_dim(self):
        return self._value_dim

    @property
    def attention_axes(self):
        return self._attention_axes

    def get_config(self):
        return {**super().get_config(), "num_heads": self._num_heads, "key_dim": self._key_dim,
                "value_dim": self._value_dim,
                "output_shape": None if self._output_shape is None else list(self._output_shape),
                "attention_axes": None if self._attention_axes is None else list(self._attention_axes),
                **self._common_config()}

    def extra_repr(self):
        return f"name={self.name!r}, num_heads={self._num_heads}, key_dim={self._key_dim}"


class GroupedQueryAttention(_MultiHeadBase):
    """Grouped-query attention (Ainslie et al., 2023): `num_query_heads` query heads share `num_key_value_heads`
    key/value heads, each group of `num_query_heads // num_key_value_heads` query heads attending with one.

    One key/value head is multi-query attention; as many as query heads is multi-head attention. Weights in Keras's
    layouts: query kernel `(dim, num_query_heads, head_dim)`, key and value kernels
    `(dim, num_key_value_heads, head_dim)`, output kernel `(num_query_heads, head_dim, dim)`. Calls, masks and
    `return_attention_scores` (`(batch, num_query_heads, Tq, Tv)`) work as in `MultiHeadAttention`.

    Arguments:
        head_dim: the size of each head.
        num_query_heads: the number of query heads.
        num_key_value_heads: the number of key and value heads; must divide `num_query_heads`.
        dropout, use_bias, sliding_window, flash_attention, kernel_initializer, bias_initializer,
            kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint,
            use_gate, seed: as in `MultiHeadAttention`.

    Example:
        >>> layer = deepglass.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
        >>> layer(torch.randn(3, 5, 8), torch.randn(3, 7, 8)).shape
        torch.Size([3, 5, 8])
    """

    _projection_attributes = ("_query_dense", "_key_dense", "_gate_dense", "_value_dense", "_output_dense")

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True,
                 sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        head_dim = _positive(head_dim, "head_dim")
        num_query_heads = _positive(num_query_heads, "num_query_heads")
        num_key_value_heads = _positive(num_key_value_heads, "num_key_value_heads")
        if num_query_heads % num_key_value_heads:
            raise ValueError(f"`num_query_heads` must be a multiple of `num_key_value_heads`; received "
                             f"num_query_heads={num_query_heads}, num_key_value_heads={num_key_value_heads}.")
        super().__init__(num_query_heads, num_key_value_heads, head_dim, head_dim, dropout, use_bias, None, None,
                         sliding_window, flash_attention, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, use_gate, seed,
                         **kwargs)

    def build(self, query_shape, value_shape=None, key_shape=None):
        if len(query_shape) != 3:
            raise ValueError(f"{_describe(self)} expects inputs of shape (batch, sequence, features); received "
                             f"query shape {tuple(query_shape)}.")
        super().build(query_shape, value_shape, key_shape)

    @property
    def head_dim(self):
        return self._key_dim

    @property
    def num_query_heads(self):
        return self._num_heads

    @property
    def num_key_value_heads(self):
        return self._num_key_value_heads

    def get_config(self):
        return {**super().get_config(), "head_dim": self._key_dim, "num_query_heads": self._num_heads,
                "num_key_value_heads": self._num_key_value_heads, **self._common_config()}

    def extra_repr(self):
        return (f"name={self.name!r}, head_dim={self._key_dim}, num_query_heads={self._num_heads}, "
                f"num_key_value_heads={self._num_key_value_heads}")


# The name `keras.layers` exports and Keras files record; the class keeps Keras's class name, which (snake-cased)
# addresses its weights in a Keras weights file.
GroupQueryAttention = GroupedQueryAttention
