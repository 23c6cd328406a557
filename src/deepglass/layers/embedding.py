"""Embedding (token ids to vectors) and Masking (skip time steps equal to a padding value)."""
import numbers
import warnings

import torch
import torch.nn.functional as F

from deepglass import constraints, initializers, regularizers
from deepglass.layers.core import _serialize_or_none
from deepglass.layers.input_spec import _describe
from deepglass.layers.layer import Layer, _checking
from deepglass.layers.legacy import rename_legacy_kwargs

_warned_input_length = [False]


def _positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer. Received: "
                         f"{name}={value!r}")
    return int(value)


class Embedding(Layer):
    """Turns token ids (integers in `[0, input_dim)`) into dense vectors: `output[..., :] = embeddings[ids]`.

    An input of shape `(batch, length)` gives `(batch, length, output_dim)`. The table `embeddings` has shape
    `(input_dim, output_dim)` and is initialised uniformly in [-0.05, 0.05] by default. With `mask_zero=True` the id 0
    is padding: the output carries the mask `ids != 0`, which masking-aware layers (attention, recurrent layers,
    GlobalAveragePooling1D, losses) use to skip padded steps; then `input_dim` must count the padding id too.

    An id outside `[0, input_dim)` raises an error naming the largest (or negative) id and `input_dim`: `fit` checks
    its first batch before training (no cost per step), and a call on the CPU checks when the lookup fails.

    Arguments:
        input_dim: the vocabulary size, i.e. the largest id + 1.
        output_dim: the size of each vector.
        embeddings_initializer, embeddings_regularizer, embeddings_constraint: for the table, as in Keras.
        mask_zero: whether id 0 is padding to be masked.
        weights: an initial table of shape `(input_dim, output_dim)` (or a list holding it).

    Example:
        >>> layer = deepglass.layers.Embedding(1000, 64, mask_zero=True)
        >>> out = layer(torch.tensor([[4, 20, 0]]))
        >>> out.shape, out._keras_mask
        (torch.Size([1, 3, 64]), tensor([[ True,  True, False]]))
    """

    _legacy = {"init": "embeddings_initializer", "W_regularizer": "embeddings_regularizer",
               "W_constraint": "embeddings_constraint"}
    _checks_input_values = True  # the checks before a run read the token ids, so they run at every call

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        legacy = rename_legacy_kwargs(type(self).__name__, kwargs, self._legacy)
        embeddings_initializer = legacy.get("embeddings_initializer", embeddings_initializer)
        embeddings_regularizer = legacy.get("embeddings_regularizer", embeddings_regularizer)
        embeddings_constraint = legacy.get("embeddings_constraint", embeddings_constraint)
        if kwargs.pop("input_length", None) is not None and not _warned_input_length[0]:
            _warned_input_length[0] = True
            warnings.warn("Embedding: `input_length` is no longer used (Keras 3 dropped it); remove it. The input's "
                          "length is read from the data.", DeprecationWarning, stacklevel=2)
        if lora_rank is not None or lora_alpha is not None:
            raise ValueError(f"Embedding does not support LoRA; received lora_rank={lora_rank!r}, "
                             f"lora_alpha={lora_alpha!r}. Remove these arguments (freeze the layer with "
                             "trainable=False instead).")
        if quantization_config is not None:
            raise ValueError("Embedding does not support quantization; remove `quantization_config`.")
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self._creates_masks = self.mask_zero  # without mask_zero a built layer keeps the fast call path
        if weights is not None:
            self._maybe_build(None)
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape):
        self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                        regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint,
                        name="embeddings")

    def call(self, inputs):
        if inputs.dtype not in (torch.int64, torch.int32):
            inputs = inputs.long()
        if _checking[0]:
            self._check_ids(inputs)
        try:
            return F.embedding(inputs, self.embeddings)
        except IndexError:  # the CPU kernel's "index out of range in self": say which id and what to change
            self._check_ids(inputs)
            raise

    def _check_ids(self, ids):
        """Raise when an id is outside `[0, input_dim)`; reads two numbers to the host, so it runs only when asked."""
        if ids.numel() == 0:
            return
        smallest, largest = int(ids.min()), int(ids.max())
        if largest >= self.input_dim:
            raise ValueError(f"{_describe(self)} received token id {largest}, but input_dim={self.input_dim} allows "
                             f"ids 0 to {self.input_dim - 1}; set input_dim={largest + 1} (the vocabulary size + 1 "
                             "when 0 is padding) or remap the ids.")
        if smallest < 0:
            raise ValueError(f"{_describe(self)} received the negative token id {smallest}; ids must be in "
                             f"[0, {self.input_dim}). Remap the ids (e.g. shift them so that they start at 0).")

    def compute_mask(self, inputs, previous_mask=None):
        if not self.mask_zero:
            return None
        return inputs != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": _serialize_or_none(regularizers, self.embeddings_regularizer),
                "activity_regularizer": _serialize_or_none(regularizers, self.activity_regularizer),
                "embeddings_constraint": _serialize_or_none(constraints, self.embeddings_constraint),
                "mask_zero": self.mask_zero, "quantization_config": None}

    def extra_repr(self):
        return f"name={self.name!r}, input_dim={self.input_dim}, output_dim={self.output_dim}, " \
               f"mask_zero={self.mask_zero}"


class Masking(Layer):
    """Masks the time steps whose features all equal `mask_value`: they become 0 and later layers skip them.

    For inputs `(batch, time, features)` the mask is `any(inputs != mask_value, axis=-1)` (True = keep); masked
    steps are set to 0 in the output, which carries the mask as `_keras_mask`.

    Arguments:
        mask_value: the padding value.

    Example:
        >>> x = torch.tensor([[[1.0, 2.0], [0.0, 0.0]]])
        >>> deepglass.layers.Masking()(x)._keras_mask
        tensor([[ True, False]])
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(mask_value, numbers.Real) or isinstance(mask_value, bool):
            raise ValueError(f"Received an invalid value for `mask_value`, expected a number. Received: "
                             f"mask_value={mask_value!r}")
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def call(self, inputs):
        keep = torch.any(inputs != self.mask_value, dim=-1, keepdim=True)
        outputs = torch.where(keep, inputs, 0.0)
        outputs._keras_mask = keep.squeeze(-1)  # set here, as Keras does, so the mask is computed once
        return outputs

    def compute_mask(self, inputs, previous_mask=None):
        return torch.any(inputs != self.mask_value, dim=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
