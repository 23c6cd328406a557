"""Wrappers of layers over sequences: Bidirectional (a recurrent layer run both ways) and TimeDistributed (a layer
applied to every time step)."""
import copy
import inspect

import torch

from deepglass.layers.layer import Layer
from deepglass.layers.rnn import _deserialize_layer, _serialize_layer

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _call_arguments(layer):
    try:
        return set(inspect.signature(layer.call).parameters)
    except (TypeError, ValueError):
        return set()


def _remove_prefix(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence and merges their outputs.

    The forward layer is rebuilt from `layer`'s config (named `forward_<name>`), the backward one too with
    `go_backwards=True` (named `backward_<name>`) unless `backward_layer` is given. With `return_sequences` the
    backward outputs are put back in time order before merging, and masked steps give zeros.

    Arguments:
        layer: a recurrent layer (`LSTM(64)`, `GRU`, `SimpleRNN`, `RNN`).
        merge_mode: `"concat"` (the default), `"sum"`, `"mul"`, `"ave"`, or None for the two outputs as a list.
        weights: initial weights (the forward layer's, then the backward layer's).
        backward_layer: the layer to run backwards, instead of a copy of `layer`.

    Call arguments: `sequences`, `initial_state` (the forward states, then the backward ones), `mask`, `training`.

    Example:
        >>> layer = deepglass.layers.Bidirectional(deepglass.layers.LSTM(10, return_sequences=True))
        >>> layer(torch.ones(32, 5, 8)).shape
        torch.Size([32, 5, 20])
    """

    _creates_masks = False  # compute_mask only passes the input mask on (or drops it)

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Bidirectional expects a recurrent layer instance, such as LSTM(64). Received: "
                             f"layer={layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"Bidirectional expects `backward_layer` to be a layer instance. Received: "
                             f"backward_layer={backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Received an invalid value for `merge_mode`, expected one of {list(_MERGE_MODES)}. "
                             f"Received: merge_mode={merge_mode!r}")
        super().__init__(**kwargs)
        if self._batch_input_shape is None:  # Keras 2 code may declare the input on the wrapped layer
            self._batch_input_shape = layer._batch_input_shape
        config = layer.get_config()
        self.forward_layer = type(layer).from_config(
            {**config, "name": f"forward_{_remove_prefix(layer.name, 'forward_')}"})
        if backward_layer is None:
            backward_layer = type(layer).from_config(
                {**config, "go_backwards": True, "name": f"backward_{_remove_prefix(layer.name, 'backward_')}"})
        self.backward_layer = backward_layer
        if hasattr(layer, "use_cudnn"):  # a choice of implementation, not part of the config
            self.forward_layer.use_cudnn = self.backward_layer.use_cudnn = layer.use_cudnn
        self._verify_layers()
        for sublayer in (self.forward_layer, self.backward_layer):
            if getattr(sublayer, "zero_output_for_mask", None) is not None:
                # Masked steps must be zeros in both directions, or the reversed sequence would not line up.
                sublayer.zero_output_for_mask = sublayer.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = weights
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.input_spec = layer.input_spec
        self._passes = _call_arguments(self.forward_layer) & {"mask", "training"}

    def _verify_layers(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(f"The forward and backward layers of Bidirectional need different `go_backwards`; both "
                             f"have go_backwards={forward.go_backwards}. Pass a backward_layer with "
                             f"go_backwards={not forward.go_backwards}.")
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(f"The forward and backward layers of Bidirectional need the same `{attribute}`; got "
                                 f"{getattr(forward, attribute)} and {getattr(backward, attribute)}.")

    def build(self, sequences_shape, initial_state_shape=None):
        device = getattr(self, "_build_device", None)
        self.forward_layer._maybe_build(sequences_shape, device=device)
        self.backward_layer._maybe_build(sequences_shape, device=device)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {}
        if "mask" in self._passes and mask is not None:
            kwargs["mask"] = mask
        if "training" in self._passes and training is not None:
            kwargs["training"] = training
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, **kwargs)
        y_reversed = self.backward_layer(sequences, initial_state=backward_state, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_reversed[1:])
            y, y_reversed = y[0], y_reversed[0]
        if self.return_sequences:
            y_reversed = y_reversed.flip(1)
        output = self._merge(y, y_reversed)
        if not self.return_state:
            return output
        return (*output, *states) if self.merge_mode is None else (output, *states)

    def _merge(self, y, y_reversed):
        if self.merge_mode == "concat":
            return torch.cat([y, y_reversed], -1)
        if self.merge_mode == "sum":
            return y + y_reversed
        if self.merge_mode == "ave":
            return (y + y_reversed) / 2
        if self.merge_mode == "mul":
            return y * y_reversed
        return y, y_reversed

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        output_shape = self.forward_layer.compute_output_shape(sequences_shape)
        state_shapes = ()
        if self.return_state:
            output_shape, state_shapes = output_shape[0], tuple(output_shape[1:])
        if self.merge_mode == "concat":
            output_shape = tuple(output_shape[:-1]) + (output_shape[-1] * 2,)
        if self.merge_mode is None:
            output_shape = (tuple(output_shape), tuple(output_shape))
        if not self.return_state:
            return output_shape
        if self.merge_mode is None:
            return (*output_shape, *state_shapes, *state_shapes)
        return (output_shape, *state_shapes, *state_shapes)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = (output_mask,) if self.merge_mode else (output_mask, output_mask)
        if not self.return_state:
            return masks[0] if self.merge_mode else masks
        return masks + (None,) * (2 * len(getattr(self.forward_layer, "state_size", [])))

    @property
    def states(self):
        """The stored states of a stateful layer (forward, then backward), or None."""
        forward, backward = self.forward_layer.states, self.backward_layer.states
        return None if forward is None or backward is None else tuple(forward) + tuple(backward)

    def reset_state(self):
        """Set both directions' states back to zeros (stateful layers only)."""
        if not self.stateful:
            raise AttributeError(f'Bidirectional "{self.name}" wraps a layer that is not stateful, so it has no '
                                 "states to reset; create the layer with stateful=True.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        """Keras 2's name for `reset_state`."""
        self.reset_state()

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": _serialize_layer(self.forward_layer), "backward_layer": _serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(dict(config))
        config["layer"] = _deserialize_layer(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deserialize_layer(config["backward_layer"])
        return cls(**config)

    def extra_repr(self):
        return f"name={self.name!r}, merge_mode={self.merge_mode!r}"


class TimeDistributed(Layer):
    """Applies a layer to every time step: inputs `(batch, time, ...)`, the layer sees `(batch, ...)`, the same
    weights at every step.

    The time axis is folded into the batch axis, so the layer runs once on `(batch * time, ...)`.

    Arguments:
        layer: the layer to apply (`Dense(8)`, `Conv2D(16, 3)`, ...).

    Example:
        >>> layer = deepglass.layers.TimeDistributed(deepglass.layers.Conv2D(64, (3, 3)))
        >>> layer(torch.ones(2, 10, 32, 32, 3)).shape
        torch.Size([2, 10, 30, 30, 64])
    """

    _creates_masks = False  # compute_mask only passes the input mask on (or drops it)

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed expects a layer instance, such as Dense(8). Received: layer={layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self._passes = _call_arguments(layer) & {"mask", "training"}

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f'TimeDistributed "{self.name}" expects inputs of shape (batch, time, ...) with at least '
                             f"3 dimensions; got shape {input_shape}. For (batch, features) inputs use the layer "
                             "without TimeDistributed.")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        self.layer._maybe_build(self._child_shape(tuple(input_shape)), device=getattr(self, "_build_device", None))

    def call(self, inputs, training=None, mask=None):
        if inputs.dim() < 3:
            self._child_shape(tuple(inputs.shape))
        batch, time = inputs.shape[:2]
        kwargs = {}
        if "training" in self._passes and training is not None:
            kwargs["training"] = training
        if "mask" in self._passes and mask is not None:
            kwargs["mask"] = mask.reshape((batch * time,) + tuple(mask.shape[2:]))
        outputs = self.layer(inputs.reshape((batch * time,) + tuple(inputs.shape[2:])), **kwargs)
        return outputs.reshape((batch, time) + tuple(outputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(tuple(input_shape)))
        return (input_shape[0], input_shape[1]) + tuple(child[1:])

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "layer": _serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(_deserialize_layer(config.pop("layer")), **config)

    def extra_repr(self):
        return f"name={self.name!r}"
