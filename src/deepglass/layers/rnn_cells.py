"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU, with Keras's weights, gate order and dropout.

A cell computes `output, new_states = cell(inputs, states)` for one step; the `RNN` layer runs it over a sequence.
Weights are created in Keras's layouts (`kernel (input_dim, gates * units)`, gates in Keras's order) and stored
transposed, as torch's `weight_ih` / `weight_hh`, so that the fused kernels take them as they are.
"""
import torch
import torch.nn.functional as F

from deepglass import activations, constraints, initializers, regularizers
from deepglass.layers.layer import Layer

# The built-in activations with the torch function that computes them; the cells call the torch one directly.
_TORCH_ACTIVATIONS = {activations.tanh: torch.tanh, activations.sigmoid: torch.sigmoid, activations.relu: torch.relu}


def _serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)


def store_weight_options(cell, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
                         bias_constraint, dropout, recurrent_dropout, seed):
    """Set the arguments every recurrent cell takes for its weights and its dropout (`weight_options_config`
    writes them back)."""
    cell.kernel_initializer = initializers.get(kernel_initializer)
    cell.recurrent_initializer = initializers.get(recurrent_initializer)
    cell.bias_initializer = initializers.get(bias_initializer)
    cell.kernel_regularizer = regularizers.get(kernel_regularizer)
    cell.recurrent_regularizer = regularizers.get(recurrent_regularizer)
    cell.bias_regularizer = regularizers.get(bias_regularizer)
    cell.kernel_constraint = constraints.get(kernel_constraint)
    cell.recurrent_constraint = constraints.get(recurrent_constraint)
    cell.bias_constraint = constraints.get(bias_constraint)
    cell.dropout = _rate(dropout, "dropout")
    cell.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
    cell.seed = seed


def weight_options_config(cell):
    """The config entries every recurrent cell shares: its weights' initializers, regularizers and constraints,
    and its dropout rates."""
    return {"kernel_initializer": initializers.serialize(cell.kernel_initializer),
            "recurrent_initializer": initializers.serialize(cell.recurrent_initializer),
            "bias_initializer": initializers.serialize(cell.bias_initializer),
            "kernel_regularizer": _serialize_or_none(regularizers, cell.kernel_regularizer),
            "recurrent_regularizer": _serialize_or_none(regularizers, cell.recurrent_regularizer),
            "bias_regularizer": _serialize_or_none(regularizers, cell.bias_regularizer),
            "kernel_constraint": _serialize_or_none(constraints, cell.kernel_constraint),
            "recurrent_constraint": _serialize_or_none(constraints, cell.recurrent_constraint),
            "bias_constraint": _serialize_or_none(constraints, cell.bias_constraint),
            "dropout": cell.dropout, "recurrent_dropout": cell.recurrent_dropout, "seed": cell.seed}


def from_cell(name):
    """A property of a recurrent layer that reads its cell's `name`."""
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


class CellOptions:
    """The arguments every recurrent layer reads from its cell, as Keras's layers expose them."""

    activation = from_cell("activation")
    use_bias = from_cell("use_bias")
    kernel_initializer = from_cell("kernel_initializer")
    recurrent_initializer = from_cell("recurrent_initializer")
    bias_initializer = from_cell("bias_initializer")
    kernel_regularizer = from_cell("kernel_regularizer")
    recurrent_regularizer = from_cell("recurrent_regularizer")
    bias_regularizer = from_cell("bias_regularizer")
    kernel_constraint = from_cell("kernel_constraint")
    recurrent_constraint = from_cell("recurrent_constraint")
    bias_constraint = from_cell("bias_constraint")
    dropout = from_cell("dropout")
    recurrent_dropout = from_cell("recurrent_dropout")
    seed = from_cell("seed")


def _rate(value, name):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"Received an invalid value for `{name}`, expected a float in [0, 1]. Received: "
                         f"{name}={value!r}")
    return min(1.0, max(0.0, float(value)))


class DropoutRNNCell:
    """Dropout masks for a recurrent cell: drawn at the first step of a sequence and reused at every step (Keras's
    variational dropout); the `RNN` layer resets them before and after each sequence."""

    _dropout_mask = None
    _recurrent_dropout_mask = None
    _generator = None

    def _draw_mask(self, like, rate):
        count = getattr(self, "dropout_mask_count", None)
        shape = tuple(like.shape) if count is None else (count,) + tuple(like.shape)
        keep = torch.empty(shape, dtype=like.dtype, device=like.device)
        return keep.bernoulli_(1 - rate, generator=self._seeded_generator(like.device)) / (1 - rate)

    def _seeded_generator(self, device):
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(int(self.seed))
        return self._generator

    def get_dropout_mask(self, step_input):
        """The input mask of this sequence, shape `step_input.shape` (per gate `(gates, *shape)` when the cell
        drops each gate's input separately); None without input dropout."""
        if self._dropout_mask is None and 0 < self.dropout < 1:
            self._dropout_mask = self._draw_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_state):
        """The mask on the previous output of this sequence; None without recurrent dropout."""
        if self._recurrent_dropout_mask is None and 0 < self.recurrent_dropout < 1:
            self._recurrent_dropout_mask = self._draw_mask(step_state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None


class RecurrentCell(DropoutRNNCell, Layer):
    """The shared part of SimpleRNNCell, LSTMCell and GRUCell: arguments, weights, config.

    A subclass sets `gates` and implements `project(inputs, training)` (the input's contribution, for one step
    `(batch, features)` or a whole sequence `(batch, time, features)` at once) and
    `recur(projected, states, training)` (the rest of the step).
    """

    gates = 1

    def __init__(self, units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                 kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
                 bias_constraint, dropout, recurrent_dropout, seed, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. Received: "
                             f"units={units!r}")
        self.units = units
        self.activation = activations.get(activation)
        self._act = _TORCH_ACTIVATIONS.get(self.activation, self.activation)
        self.use_bias = bool(use_bias)
        store_weight_options(self, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                             recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
                             bias_constraint, dropout, recurrent_dropout, seed)
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f'{type(self).__name__} "{self.name}" needs a known feature axis; got input shape '
                             f"{tuple(input_shape)}.")
        width = self.gates * self.units
        self.add_weight((input_dim, width), self.kernel_initializer, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint, name="kernel", layout=(1, 0))
        self.add_weight((self.units, width), self.recurrent_initializer, regularizer=self.recurrent_regularizer,
                        constraint=self.recurrent_constraint, name="recurrent_kernel", layout=(1, 0))
        if self.use_bias:
            self.add_weight(self._bias_shape(), self._bias_initializer(), regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _input_bias(self):
        return self.bias

    def _training(self, training):
        return self.training if training is None else bool(training)

    def _dropped(self, inputs, training):
        """`inputs` times this sequence's dropout mask (broadcast over time for a whole sequence)."""
        mask = self.get_dropout_mask(inputs if inputs.dim() == 2 else inputs[:, 0]) if training else None
        if mask is None:
            return inputs
        return inputs * (mask if inputs.dim() == 2 else mask.unsqueeze(-2))

    def _per_gate(self, tensor, mask, weight, bias=None):
        """Gate g's slice of `weight` applied to `tensor * mask[g]`, for every gate, concatenated (Keras's
        implementation 1, where each gate sees its own dropout mask)."""
        u = self.units
        return torch.cat([F.linear(tensor * mask[g], weight[g * u:(g + 1) * u],
                                   None if bias is None else bias[g * u:(g + 1) * u]) for g in range(len(mask))], -1)

    def project(self, inputs, training=None):
        """`inputs @ kernel + bias` (after input dropout), for one step or for every step of a sequence."""
        training = self._training(training)
        if training and getattr(self, "dropout_mask_count", None) and 0 < self.dropout < 1:
            mask = self.get_dropout_mask(inputs if inputs.dim() == 2 else inputs[:, 0])
            mask = mask if inputs.dim() == 2 else mask.unsqueeze(-2)  # a sequence: one mask for every step
            return self._per_gate(inputs, mask, self.kernel, self._input_bias())
        return F.linear(self._dropped(inputs, training), self.kernel, self._input_bias())

    def _recurrent_masks(self, state, training):
        return self.get_recurrent_dropout_mask(state) if training else None

    def call(self, inputs, states, training=None):
        """One step: `(output, new_states)`; `states` is a list (or a single tensor for one-state cells)."""
        nested = isinstance(states, (list, tuple))
        output, new_states = self.recur(self.project(inputs, training), list(states) if nested else [states],
                                        training)
        return output, new_states if nested or len(new_states) > 1 else new_states[0]

    def get_initial_state(self, batch_size=None):
        """Zero states, one `(batch_size, size)` tensor per entry of `state_size`."""
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        like = getattr(self, "kernel", None)
        device = like.device if like is not None else None
        return [torch.zeros((batch_size, size), dtype=self._dtype, device=device) for size in sizes]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, **weight_options_config(self)}

    def extra_repr(self):
        return f"name={self.name!r}, units={self.units}"


class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN: `h = activation(x @ kernel + h_prev @ recurrent_kernel + bias)`.

    Weights: `kernel (input_dim, units)` (Glorot uniform), `recurrent_kernel (units, units)` (orthogonal),
    `bias (units,)` (zeros).

    Arguments:
        units: the size of the output and of the state.
        activation: the activation (`"tanh"`); None is linear.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
            recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint:
            as in Keras.
        dropout: the fraction of the inputs dropped (one mask per sequence, during training).
        recurrent_dropout: the fraction of the previous output dropped (one mask per sequence).
        seed: a seed for the dropout masks.

    Example:
        >>> rnn = deepglass.layers.RNN(deepglass.layers.SimpleRNNCell(4))
        >>> rnn(torch.ones(2, 10, 8)).shape
        torch.Size([2, 4])
    """

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, **kwargs)
        self.state_size = units

    def recur(self, projected, states, training=None):
        previous = states[0]
        mask = self._recurrent_masks(previous, self._training(training))
        if mask is not None:
            previous = previous * mask
        output = self._act(projected + F.linear(previous, self.recurrent_kernel))
        return output, [output]


class LSTMCell(RecurrentCell):
    """One step of a long short-term memory (Hochreiter & Schmidhuber, 1997), gates in Keras's order i, f, c, o:

    `z = x @ kernel + h @ recurrent_kernel + bias`, `i, f, g, o = split(z, 4)`,
    `c' = σ(f) * c + σ(i) * tanh(g)`, `h' = σ(o) * tanh(c')` (σ is `recurrent_activation`, tanh `activation`).

    Weights: `kernel (input_dim, 4 * units)`, `recurrent_kernel (units, 4 * units)`, `bias (4 * units,)`; with
    `unit_forget_bias` the forget gate's bias starts at 1. The states are `[h, c]`.

    Arguments:
        units: the size of the output and of each state.
        activation, recurrent_activation: `"tanh"` and `"sigmoid"` by default.
        unit_forget_bias: add 1 to the forget gate's initial bias.
        dropout, recurrent_dropout, seed: variational dropout of the inputs and of the previous output.
        use_bias and the initializers, regularizers and constraints: as in Keras.

    Example:
        >>> rnn = deepglass.layers.RNN(deepglass.layers.LSTMCell(4), return_state=True)
        >>> output, h, c = rnn(torch.ones(2, 10, 8))
        >>> c.shape
        torch.Size([2, 4])
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._recurrent_act = _TORCH_ACTIVATIONS.get(self.recurrent_activation, self.recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        # Keras's implementation 1 gives each gate its own dropout masks; it is forced by recurrent dropout.
        self.implementation = 1 if self.recurrent_dropout else implementation
        if self.implementation == 1:
            self.dropout_mask_count = self.gates
        self.state_size = [units, units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def forget_bias_one(shape, dtype=None):
            parts = [base((units,), dtype=dtype), torch.ones(units), base((2 * units,), dtype=dtype)]
            return torch.cat([torch.as_tensor(p, dtype=dtype) for p in parts])
        return forget_bias_one

    def recur(self, projected, states, training=None):
        h, c = states[0], states[1]
        mask = self._recurrent_masks(h, self._training(training))
        z = projected + (F.linear(h, self.recurrent_kernel) if mask is None
                         else self._per_gate(h, mask, self.recurrent_kernel))
        i, f, g, o = z.chunk(4, -1)
        sigma = self._recurrent_act
        c = sigma(f) * c + sigma(i) * self._act(g)
        h = sigma(o) * self._act(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRUCell(RecurrentCell):
    """One step of a gated recurrent unit (Cho et al., 2014), gates in Keras's order z, r, h:

    `z = σ(x W_z + h U_z + b_z)`, `r = σ(x W_r + h U_r + b_r)`, and with `reset_after=True` (the default, as
    cuDNN and torch compute it) `ĥ = tanh(x W_h + b_h + r * (h U_h + b'_h))`, else `ĥ = tanh(x W_h + (r * h) U_h +
    b_h)`; then `h' = z * h + (1 - z) * ĥ`.

    Weights: `kernel (input_dim, 3 * units)`, `recurrent_kernel (units, 3 * units)`, and `bias (2, 3 * units)`
    (input and recurrent biases) with `reset_after=True`, `(3 * units,)` otherwise.

    Arguments:
        units: the size of the output and of the state.
        activation, recurrent_activation: `"tanh"` and `"sigmoid"` by default.
        reset_after: apply the reset gate after the recurrent matrix product (True) or before it (False).
        dropout, recurrent_dropout, seed: variational dropout of the inputs and of the previous output.
        use_bias and the initializers, regularizers and constraints: as in Keras.

    Example:
        >>> rnn = deepglass.layers.RNN(deepglass.layers.GRUCell(4), return_sequences=True)
        >>> rnn(torch.ones(2, 10, 8)).shape
        torch.Size([2, 10, 4])
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._recurrent_act = _TORCH_ACTIVATIONS.get(self.recurrent_activation, self.recurrent_activation)
        self.reset_after = bool(reset_after)
        self.implementation = 1 if self.recurrent_dropout else implementation
        if self.implementation == 1:
            self.dropout_mask_count = self.gates
        self.state_size = units

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.bias is not None and self.reset_after else self.bias

    def recur(self, projected, states, training=None):
        h, u = states[0], self.units
        recurrent_bias = self.bias[1] if self.bias is not None and self.reset_after else None
        mask = self._recurrent_masks(h, self._training(training))
        weight = self.recurrent_kernel if self.reset_after else self.recurrent_kernel[:2 * u]
        bias = recurrent_bias
        if mask is None:
            inner = F.linear(h, weight, bias)
        else:
            inner = self._per_gate(h, mask[:3 if self.reset_after else 2], weight, bias)
        x_z, x_r, x_h = projected.chunk(3, -1)
        z = self._recurrent_act(x_z + inner[..., :u])
        r = self._recurrent_act(x_r + inner[..., u:2 * u])
        if self.reset_after:
            candidate = self._act(x_h + r * inner[..., 2 * u:])
        else:
            reset = r * h if mask is None else r * (h * mask[2])
            candidate = self._act(x_h + F.linear(reset, self.recurrent_kernel[2 * u:]))
        h = z * h + (1 - z) * candidate
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}
