"""RNN: runs a recurrent cell over the time axis, with Keras's masking, statefulness and return options; and
StackedRNNCells, several cells behaving as one."""
import inspect

import numpy as np
import torch

from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer
from deepglass.layers.rnn_cells import DropoutRNNCell, RecurrentCell
from deepglass.utils import tree


def _takes(function, argument):
    try:
        return argument in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _check_cell(cell, what):
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{what} should have a `call(inputs, states)` method. Received: cell={cell!r}")
    if getattr(cell, "state_size", None) is None:
        raise ValueError(f"{what} should have a `state_size` attribute (an integer, or a list of integers, one per "
                         f"state). Received: cell={cell!r}")


def _build_cell(cell, step_shape, device):
    if isinstance(cell, Layer):
        cell._maybe_build(step_shape, device=device)
    elif callable(getattr(cell, "build", None)) and not getattr(cell, "built", False):
        cell.build(step_shape)


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    state_size = cell.state_size
    return state_size[0] if isinstance(state_size, (list, tuple)) else state_size


def _deserialize_layer(config):
    if isinstance(config, dict):
        from deepglass import layers
        return layers.deserialize(config)
    if isinstance(config, list):
        return [_deserialize_layer(item) for item in config]
    return config


def _serialize_layer(layer):
    """A nested layer's config in Keras 3's format, so that Keras can load it too: built-in layers name their
    module (`keras.layers`), as Keras's own nested configs do."""
    from deepglass import layers
    result = layers.serialize(layer)
    if layers._registry.classes.get(type(layer).__name__) is type(layer):
        result = {"module": "keras.layers", **result, "registered_name": None}
    return result


def _where(mask, new, old):
    """`new` where the step is kept, `old` where it is masked; `mask` is `(batch,)`."""
    return torch.where(mask.view((-1,) + (1,) * (new.dim() - 1)), new, old)


def step_loop(step, inputs, states, mask=None, go_backwards=False, zero_output_for_mask=False,
              return_sequences=True):
    """Run `step(input_t, states) -> (output, new_states)` over axis 1 of `inputs`, as Keras's `backend.rnn` does.

    At a masked step the states are carried over unchanged and the output is the previous step's output (zeros
    before the first kept step, and always zeros with `zero_output_for_mask`). With `go_backwards` the steps run from
    the last to the first and the outputs come in that order. Returns `(last_output, outputs or None, states)`.
    """
    steps = inputs.unbind(1)
    masks = mask.unbind(1) if mask is not None else None
    outputs, previous = [], None
    for t in (range(len(steps) - 1, -1, -1) if go_backwards else range(len(steps))):
        output, new_states = step(steps[t], states)
        if masks is not None:
            if previous is None or zero_output_for_mask:
                previous = torch.zeros_like(output)
            output = _where(masks[t], output, previous)
            new_states = tree.pack_like(new_states, [_where(masks[t], new, old) for new, old in
                                                     zip(tree.flatten(new_states), tree.flatten(states))])
            previous = output
        states = new_states
        if return_sequences:
            outputs.append(output)
    return output, (torch.stack(outputs, 1) if return_sequences else None), states


def _state_tensor(like):
    def convert(state):
        state = torch.as_tensor(state).to(device=like.device, dtype=like.dtype)
        # States stored by a call under `torch.inference_mode` (predict) cannot enter autograd (fit) as they are.
        return state.clone() if state.is_inference() and not torch.is_inference_mode_enabled() else state
    return convert


def _as_state_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


class RNN(Layer):
    """Runs a recurrent cell over the time axis of `(batch, timesteps, features)` inputs.

    The cell has `call(inputs, states) -> (output, new_states)` and `state_size` (an integer or a list, one per
    state); a list of cells is stacked (`StackedRNNCells`). Masked time steps (from `mask=` or an `Embedding(...,
    mask_zero=True)` before) leave the states unchanged and repeat the previous output.

    Arguments:
        cell: a cell, or a list of cells to stack.
        return_sequences: return every step's output `(batch, timesteps, units)` instead of the last `(batch, units)`.
        return_state: also return the final states: `output, *states`.
        go_backwards: process the sequence from its end; the returned sequence is in that (reversed) order.
        stateful: the final states of a batch are the initial states of the next one (needs a fixed batch size,
            `batch_size=` on the `Input`); `reset_states()` sets them back to zeros.
        unroll: accepted for Keras compatibility; the steps always run as a Python loop (never the fused kernel).
        zero_output_for_mask: output zeros at masked steps instead of repeating the previous output.

    Call arguments: `sequences`, `initial_state` (a list of tensors, one per state), `mask` (`(batch, timesteps)`
    booleans, True where the step is used), `training`.

    Example:
        >>> layer = deepglass.layers.RNN(deepglass.layers.LSTMCell(8), return_sequences=True)
        >>> layer(torch.ones(4, 10, 3)).shape
        torch.Size([4, 10, 8])
    """

    _creates_masks = False  # compute_mask only passes the input mask on (or drops it)

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell, "Argument `cell`")
        # Keras 1/2 spelled the input of a recurrent layer as `input_dim` and `input_length`.
        input_dim, input_length = kwargs.pop("input_dim", None), kwargs.pop("input_length", None)
        if (input_dim is not None or input_length is not None) and "batch_input_shape" not in kwargs \
                and "input_shape" not in kwargs:
            kwargs["batch_input_shape"] = (kwargs.pop("batch_size", None), input_length, input_dim)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        state_size = cell.state_size
        self.single_state = isinstance(state_size, int)
        self.state_size = [state_size] if self.single_state else list(state_size)
        self._cell_takes_training = _takes(cell.call, "training")
        self._state_structure = None
        self.input_spec = InputSpec(min_ndim=3)

    # ----------------------------------------------------------------------------------------------------- build
    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) < 3:
            raise ValueError(self._rank_error(shape))
        _build_cell(self.cell, (shape[0],) + shape[2:], getattr(self, "_build_device", None))
        if self.stateful:
            if shape[0] is None:
                raise ValueError(f'{type(self).__name__} "{self.name}" has stateful=True, which needs a fixed batch '
                                 f"size, but the input shape is {shape}; pass batch_size= to the Input (or "
                                 "batch_input_shape= to the first layer), and the same batch_size to fit().")
            self._set_states(self.get_initial_state(shape[0]))

    def _rank_error(self, shape):
        return (f'{type(self).__name__} "{self.name}" is a recurrent layer and expects inputs of shape (batch, '
                f"timesteps, features); got shape {shape}{self._input_hint(shape, None)}.")

    def _input_hint(self, shape, spec):
        if len(shape) >= 3:
            return ""
        reshape = f"Reshape(({shape[1]}, 1))" if len(shape) == 2 and shape[1] is not None else "Reshape((timesteps, 1))"
        return (f"; add {reshape} before it for a sequence of numbers, or an Embedding layer for a sequence of "
                "token ids")

    # ---------------------------------------------------------------------------------------------------- states
    def get_initial_state(self, batch_size):
        """Zero states for a batch: a list with one tensor per state (nested for stacked cells)."""
        get = getattr(self.cell, "get_initial_state", None)
        if get is not None:
            return _as_state_list(get(batch_size=batch_size))
        like = next(iter(self.parameters()), None)
        return [torch.zeros((batch_size, size), dtype=self._dtype, device=None if like is None else like.device)
                for size in self.state_size]

    def _set_states(self, states):
        self._state_structure = states
        for index, value in enumerate(tree.flatten(states)):
            self.register_buffer(f"_rnn_state_{index}", value.detach(), persistent=False)

    @property
    def states(self):
        """The stored states of a stateful layer (a list, one tensor per state), or None."""
        if self._state_structure is None:
            return None
        values = [getattr(self, f"_rnn_state_{i}") for i in range(len(tree.flatten(self._state_structure)))]
        return tree.pack_like(self._state_structure, values)

    def reset_state(self, states=None):
        """Set a stateful layer's states to zeros, or to `states` (arrays, one per state, as Keras 2 allowed)."""
        if self._state_structure is None:  # not stateful (or not built): nothing to reset, as in Keras
            return
        current = tree.flatten(self.states)
        if states is None:
            values = [torch.zeros_like(value) for value in current]
        else:
            values = [torch.as_tensor(np.asarray(v), dtype=old.dtype, device=old.device)
                      for v, old in zip(tree.flatten(_as_state_list(states)), current)]
            for value, old in zip(values, current):
                if value.shape != old.shape:
                    raise ValueError(f'{type(self).__name__} "{self.name}" expects states of shape '
                                     f"{tuple(old.shape)}; got shape {tuple(value.shape)}.")
        self._set_states(tree.pack_like(self._state_structure, values))

    def reset_states(self, states=None):
        """Keras 2's name for `reset_state`."""
        self.reset_state(states)

    # ---------------------------------------------------------------------------------------------------- call
    def call(self, sequences, initial_state=None, mask=None, training=None):
        if training is None:
            training = self.training
        if sequences.dim() < 3:
            raise ValueError(self._rank_error(tuple(sequences.shape)))
        if sequences.dtype != self._dtype:
            sequences = sequences.to(self._dtype)
        initial_state = self._initial_state(sequences, initial_state)
        if mask is not None:
            mask = tree.flatten(mask)[0]
            mask = torch.as_tensor(mask, device=sequences.device).bool()
        _reset_dropout_masks(self.cell)
        try:
            last_output, outputs, states = self.inner_loop(sequences, initial_state, mask, bool(training))
        finally:
            _reset_dropout_masks(self.cell)
        if self.stateful:
            self._set_states(tree.map_structure(lambda s: s.detach(), states))
        output = outputs if self.return_sequences else last_output
        return (output, *states) if self.return_state else output

    def _initial_state(self, sequences, initial_state):
        batch = sequences.shape[0]
        if initial_state is None:
            initial_state = self.states if self.stateful else self.get_initial_state(batch)
        initial_state = tree.map_structure(_state_tensor(sequences), _as_state_list(initial_state))
        if self.stateful and tree.flatten(initial_state)[0].shape[0] != batch:
            raise ValueError(f'{type(self).__name__} "{self.name}" is stateful with batch size '
                             f"{tree.flatten(initial_state)[0].shape[0]}, but got a batch of {batch}; use the same "
                             "batch_size for every call (and fit with shuffle=False).")
        return initial_state

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """Run the cell over the sequence: `(last_output, outputs or None, final_states)`."""
        cell = self.cell
        if isinstance(cell, RecurrentCell) and type(cell).call is RecurrentCell.call:
            # The inputs' share of every step at once (one matrix product); the loop does only the recurrence.
            inputs = cell.project(sequences, training)

            def step(projected, states):
                return cell.recur(projected, states, training)
        else:
            inputs, kwargs = sequences, ({"training": training} if self._cell_takes_training else {})

            def step(x, states):
                output, new_states = cell(x, tuple(states), **kwargs)
                return output, _as_state_list(new_states)
        return step_loop(step, inputs, initial_state, mask, self.go_backwards, self.zero_output_for_mask,
                         self.return_sequences)

    # ---------------------------------------------------------------------------------------------------- shapes
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, length = sequences_shape[0], sequences_shape[1]
        size = _output_size(self.cell)
        output_shape = (batch, length, size) if self.return_sequences else (batch, size)
        if not self.return_state:
            return output_shape
        states = [(batch, s) if isinstance(s, int) else [(batch, d) for d in s] for s in self.state_size]
        return (output_shape, *states)

    def compute_mask(self, inputs, mask=None):
        mask = tree.flatten(mask)[0] if mask is not None else None
        output_mask = mask if self.return_sequences else None
        return [output_mask] + [None] * len(self.state_size) if self.return_state else output_mask

    # ---------------------------------------------------------------------------------------------------- config
    def _rnn_config(self):
        return {**super().get_config(), "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}

    def get_config(self):
        return {**self._rnn_config(), "cell": _serialize_layer(self.cell)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(_deserialize_layer(config.pop("cell")), **config)

    def extra_repr(self):
        return f"name={self.name!r}, return_sequences={self.return_sequences}"


def _reset_dropout_masks(cell):
    if isinstance(cell, DropoutRNNCell):
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
    for inner in getattr(cell, "cells", None) or ():
        _reset_dropout_masks(inner)


class StackedRNNCells(Layer):
    """Several recurrent cells as one: each step runs them in order, each cell's output the next one's input.

    The states are a list with each cell's states; the output is the last cell's.

    Arguments:
        cells: a list of cells.

    Example:
        >>> cells = [deepglass.layers.LSTMCell(16), deepglass.layers.LSTMCell(8)]
        >>> deepglass.layers.RNN(deepglass.layers.StackedRNNCells(cells))(torch.ones(2, 5, 3)).shape
        torch.Size([2, 8])
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            _check_cell(cell, "Every cell")
        cells = list(cells)
        self.cells = cells  # a ModuleList when all are modules (Layer.__setattr__): Keras's `cells` weight path
        self._takes_training = [_takes(cell.call, "training") for cell in cells]

    @property
    def state_size(self):
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            get = getattr(cell, "get_initial_state", None)
            if get is not None:
                states.append(get(batch_size=batch_size))
            else:
                sizes = cell.state_size
                zeros = [torch.zeros((batch_size, d), dtype=self._dtype)
                         for d in (sizes if isinstance(sizes, (list, tuple)) else [sizes])]
                states.append(zeros if isinstance(sizes, (list, tuple)) else zeros[0])
        return states

    def build(self, input_shape):
        device = getattr(self, "_build_device", None)
        for cell in self.cells:
            _build_cell(cell, tuple(input_shape), device)
            input_shape = (input_shape[0], _output_size(cell))

    def call(self, inputs, states, training=None):
        new_states = []
        for cell, cell_states, takes_training in zip(self.cells, states, self._takes_training):
            is_list = isinstance(cell_states, (list, tuple))
            kwargs = {"training": training} if takes_training else {}
            inputs, cell_states = cell(inputs, list(cell_states) if is_list else [cell_states], **kwargs)
            cell_states = _as_state_list(cell_states)
            new_states.append(cell_states if is_list or len(cell_states) > 1 else cell_states[0])
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [_serialize_layer(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(_deserialize_layer(config.pop("cells")), **config)
