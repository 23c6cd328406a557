"""SimpleRNN, LSTM and GRU: recurrent layers with Keras's arguments and weights, on torch's fused kernels when the
configuration allows it (default activations, no recurrent dropout in training, masks with one run of kept steps
per sequence, GRU with reset_after=True), and on a step loop otherwise."""
import torch

from deepglass import regularizers
from deepglass.layers import rnn_cudnn
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.legacy import rename_legacy_kwargs
from deepglass.layers.rnn import RNN
from deepglass.layers.rnn_cells import CellOptions, GRUCell, LSTMCell, SimpleRNNCell, from_cell
from deepglass.layers.rnn_fused import run_fused

_RNN_ARGUMENTS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")
# Keras 1/2 spellings of the recurrent layers' arguments.
_LEGACY = {"output_dim": "units", "init": "kernel_initializer", "inner_init": "recurrent_initializer",
           "W_regularizer": "kernel_regularizer", "U_regularizer": "recurrent_regularizer",
           "b_regularizer": "bias_regularizer", "W_constraint": "kernel_constraint",
           "U_constraint": "recurrent_constraint", "b_constraint": "bias_constraint", "dropout_W": "dropout",
           "dropout_U": "recurrent_dropout"}
_GATED_LEGACY = {**_LEGACY, "inner_activation": "recurrent_activation"}


class _CellRNN(CellOptions, RNN):
    """An RNN that creates its own cell from its arguments (SimpleRNN, LSTM, GRU) and runs it fused when it can."""

    cell_class = None
    cell_name = None
    legacy = _LEGACY

    def _setup(self, arguments, kwargs):
        arguments = {k: v for k, v in arguments.items() if k not in ("self", "kwargs", "__class__")}
        arguments.update(rename_legacy_kwargs(type(self).__name__, kwargs, self.legacy))
        kwargs.pop("consume_less", None)  # Keras 1's implementation choice; torch chooses
        rnn_arguments = {name: arguments.pop(name) for name in _RNN_ARGUMENTS}
        activity_regularizer = arguments.pop("activity_regularizer")
        use_cudnn = arguments.pop("use_cudnn", "auto")
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"Received an invalid value for `use_cudnn`, expected 'auto', True or False. Received: "
                             f"use_cudnn={use_cudnn!r}")
        if self.cell_class is not SimpleRNNCell:
            arguments["implementation"] = kwargs.pop("implementation", 2)
        cell = self.cell_class(**arguments, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                               name=self.cell_name)
        RNN.__init__(self, cell, activity_regularizer=activity_regularizer, **rnn_arguments, **kwargs)
        self.use_cudnn = use_cudnn
        self.input_spec = InputSpec(ndim=3)

    def _fused_kernel(self, training):
        """`(kernel, params, has_biases)` for torch's fused kernel, or None when this configuration needs the loop."""
        raise NotImplementedError(f"{type(self).__name__} must implement _fused_kernel(training).")

    def _torch_params(self, kernel):
        """torch's weights for `kernel` (LSTM, SimpleRNN: Keras's own, in torch's layout), one buffer on CUDA."""
        cell = self.cell
        params = [cell.kernel, cell.recurrent_kernel]
        if cell.use_bias:
            params += [cell.bias, rnn_cudnn.zero_bias(self, cell.bias)]
        rnn_cudnn.keep_flat(self, kernel, params)
        return params, cell.use_bias

    def inner_loop(self, sequences, initial_state, mask, training=False):
        fused = None if self.unroll or self.use_cudnn is False else self._fused_kernel(training)
        if fused is not None:
            kernel, params, has_biases = fused
            result = run_fused(kernel, self.cell._dropped(sequences, training), initial_state, params, has_biases,
                               mask, self.go_backwards, self.zero_output_for_mask, self.return_sequences,
                               need_states=self.return_state or self.stateful)
            if result is not None:
                return result
        if self.use_cudnn is True:
            raise ValueError(f'{type(self).__name__} "{self.name}" has use_cudnn=True, but this configuration needs '
                             "the step loop (the fused kernel takes the default activations, no recurrent dropout in "
                             "training, unroll=False and masks with one run of kept steps per sequence); pass "
                             "use_cudnn='auto'.")
        return super().inner_loop(sequences, initial_state, mask, training)

    def _dropout_fits_fused(self, training):
        """Outside training dropout does nothing; in training the fused kernel takes one input mask per sequence."""
        cell = self.cell
        if not training:
            return True
        return not (0 < cell.recurrent_dropout < 1) and not (
            getattr(cell, "implementation", 2) == 1 and 0 < cell.dropout < 1)

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        activity = None if self.activity_regularizer is None else regularizers.serialize(self.activity_regularizer)
        return {**self._rnn_config(), **cell_config, "activity_regularizer": activity}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self):
        return f"name={self.name!r}, units={self.units}, return_sequences={self.return_sequences}"

    units = from_cell("units")


def _gates_ok(cell):
    return cell._act is torch.tanh and cell._recurrent_act is torch.sigmoid


class SimpleRNN(_CellRNN):
    """A fully connected RNN whose output is fed back: `h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel +
    bias)`.

    Runs on torch's fused kernel (`rnn_tanh` / `rnn_relu`) for the tanh and relu activations.

    Arguments:
        units: the size of the output.
        activation: `"tanh"` by default.
        dropout, recurrent_dropout, seed: variational dropout of the inputs and of the previous output.
        return_sequences, return_state, go_backwards, stateful, unroll: as in `RNN`.
        use_bias and the initializers, regularizers and constraints: as in Keras.

    Example:
        >>> deepglass.layers.SimpleRNN(4)(torch.ones(32, 10, 8)).shape
        torch.Size([32, 4])
    """

    cell_class, cell_name = SimpleRNNCell, "simple_rnn_cell"

    def __init__(self, units=None, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        self._setup(locals(), kwargs)

    def _fused_kernel(self, training):
        kernel = {torch.tanh: torch._VF.rnn_tanh, torch.relu: torch._VF.rnn_relu}.get(self.cell._act)
        if kernel is None or not self._dropout_fits_fused(training):
            return None
        return (kernel, *self._torch_params(kernel))


class LSTM(_CellRNN):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997): gates i, f, c, o as in `LSTMCell`, over a sequence.

    Weights as Keras has them: `kernel (input_dim, 4 * units)`, `recurrent_kernel (units, 4 * units)`, `bias
    (4 * units,)`. Runs on torch's fused LSTM kernel (the gate order is the same) unless the configuration needs the
    step loop: other activations, recurrent dropout in training, `unroll=True` or `use_cudnn=False`, or a mask that
    is not one run of kept steps per sequence.

    Arguments:
        units: the size of the output and of the states.
        activation, recurrent_activation: `"tanh"` and `"sigmoid"` by default.
        unit_forget_bias: start the forget gate's bias at 1.
        dropout, recurrent_dropout, seed: variational dropout of the inputs and of the previous output.
        return_sequences, return_state, go_backwards, stateful, unroll: as in `RNN`; with `return_state` the layer
            returns `output, h, c`.
        use_cudnn: `"auto"` uses the fused kernel when it can, False never, True always (an error otherwise).
        use_bias and the initializers, regularizers and constraints: as in Keras.

    Example:
        >>> deepglass.layers.LSTM(4, return_sequences=True)(torch.ones(32, 10, 8)).shape
        torch.Size([32, 10, 4])
    """

    cell_class, cell_name, legacy = LSTMCell, "lstm_cell", _GATED_LEGACY

    def __init__(self, units=None, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        self._setup(locals(), kwargs)

    def _fused_kernel(self, training):
        if not _gates_ok(self.cell) or not self._dropout_fits_fused(training):
            return None
        return (torch._VF.lstm, *self._torch_params(torch._VF.lstm))

    recurrent_activation = from_cell("recurrent_activation")
    unit_forget_bias = from_cell("unit_forget_bias")


def _torch_gate_order(weight, units):
    """Keras's GRU gates z, r, h along axis 0 (torch's layout) reordered to torch's r, z, n."""
    return torch.cat([weight[units:2 * units], weight[:units], weight[2 * units:]])


class GRU(_CellRNN):
    """Gated recurrent unit (Cho et al., 2014): gates z, r, h as in `GRUCell`, over a sequence.

    Weights as Keras has them: `kernel (input_dim, 3 * units)`, `recurrent_kernel (units, 3 * units)`, and `bias
    (2, 3 * units)` with `reset_after=True` (the default) or `(3 * units,)`. With `reset_after=True` and the default
    activations it runs on torch's fused GRU kernel (same formula; the gates are reordered to torch's r, z, n).

    Arguments:
        units: the size of the output and of the state.
        activation, recurrent_activation: `"tanh"` and `"sigmoid"` by default.
        reset_after: apply the reset gate after the recurrent matrix product (Keras 2.3+ and cuDNN's convention).
        dropout, recurrent_dropout, seed: variational dropout of the inputs and of the previous output.
        return_sequences, return_state, go_backwards, stateful, unroll: as in `RNN`.
        use_cudnn: `"auto"` uses the fused kernel when it can, False never, True always (an error otherwise).
        use_bias and the initializers, regularizers and constraints: as in Keras.

    Example:
        >>> output, state = deepglass.layers.GRU(4, return_state=True)(torch.ones(32, 10, 8))
        >>> state.shape
        torch.Size([32, 4])
    """

    cell_class, cell_name, legacy = GRUCell, "gru_cell", _GATED_LEGACY

    def __init__(self, units=None, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        self._setup(locals(), kwargs)

    def _fused_kernel(self, training):
        cell = self.cell
        if not cell.reset_after or not _gates_ok(cell) or not self._dropout_fits_fused(training):
            return None
        u = cell.units
        params = [_torch_gate_order(cell.kernel, u), _torch_gate_order(cell.recurrent_kernel, u)]
        if cell.use_bias:
            params += [_torch_gate_order(cell.bias[0], u), _torch_gate_order(cell.bias[1], u)]
        return torch._VF.gru, params, cell.use_bias

    recurrent_activation = from_cell("recurrent_activation")
    reset_after = from_cell("reset_after")
