"""ConvLSTM1D, ConvLSTM2D, ConvLSTM3D: LSTMs whose input and recurrent transformations are convolutions
(Shi et al., 2015), with Keras's arguments, weight layouts and config; and ConvLSTMCell, one step of them."""
import torch
import torch.nn.functional as F

from deepglass import activations, regularizers
from deepglass.layers.convolutional import (pad_argument, same_padding, standardize_data_format,
                                            standardize_padding, standardize_tuple)
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer
from deepglass.layers.rnn import RNN, step_loop
from deepglass.layers.rnn_cells import (_TORCH_ACTIVATIONS, CellOptions, DropoutRNNCell, from_cell,
                                        store_weight_options, weight_options_config)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CELL_ARGUMENTS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
                   "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                   "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
                   "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                   "recurrent_dropout", "seed")


class ConvLSTMCell(DropoutRNNCell, Layer):
    """One step of a convolutional LSTM, gates in Keras's order i, f, c, o:

    `z = conv(x, kernel) + bias + conv_same(h, recurrent_kernel)`, `i, f, g, o = split(z, 4, channel axis)`,
    `c' = σ(f) * c + σ(i) * tanh(g)`, `h' = σ(o) * tanh(c')` (σ is `recurrent_activation`, tanh `activation`).
    The recurrent convolution always has stride 1 and "same" padding, so the states keep the input convolution's
    output shape.

    Weights (Keras's layouts): `kernel (*kernel_size, in_channels, 4 * filters)` (Glorot uniform),
    `recurrent_kernel (*kernel_size, filters, 4 * filters)` (orthogonal), `bias (4 * filters,)` (zeros, the
    forget gate's at 1 with `unit_forget_bias`). The states are `[h, c]`, each shaped as one output step.

    Arguments:
        rank: 1, 2 or 3, the number of spatial axes.
        filters, kernel_size, strides, padding ("valid" or "same"), data_format, dilation_rate: as in `ConvND`.
        activation, recurrent_activation: `"tanh"` and `"sigmoid"` by default.
        unit_forget_bias: add 1 to the forget gate's initial bias.
        dropout, recurrent_dropout, seed: variational dropout of the inputs and of the previous output (one mask
            per gate and per sequence).
        use_bias and the initializers, regularizers and constraints: as in Keras.

    Example:
        >>> from deepglass.layers.conv_lstm import ConvLSTMCell
        >>> cell = ConvLSTMCell(2, filters=4, kernel_size=3, padding="same")
        >>> h, (h, c) = cell(torch.ones(2, 8, 8, 3), [torch.zeros(2, 8, 8, 4)] * 2)
        >>> h.shape
        torch.Size([2, 8, 8, 4])
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(f"Received an invalid value for `rank`, expected 1, 2 or 3. Received: rank={rank!r}")
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"Received an invalid value for `filters`, expected a positive integer. Received: "
                             f"filters={filters!r}")
        self.rank, self.filters = rank, filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.padding = standardize_padding(padding, ("valid", "same"))
        self.data_format = standardize_data_format(data_format)
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Specifying `strides > 1` is not compatible with `dilation_rate > 1`; pass strides=1 or "
                             f"dilation_rate=1. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._act = _TORCH_ACTIVATIONS.get(self.activation, self.activation)
        self._recurrent_act = _TORCH_ACTIVATIONS.get(self.recurrent_activation, self.recurrent_activation)
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        store_weight_options(self, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                             recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
                             bias_constraint, dropout, recurrent_dropout, seed)
        self.dropout_mask_count = 4  # Keras gives each gate its own dropout masks
        self.state_size = [filters, filters]  # per position; the states' spatial shape comes from the input
        self._channels_last = self.data_format == "channels_last"
        self._conv = _CONV[rank]

    # ---------------------------------------------------------------------------------------------------- build
    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != self.rank + 2:
            raise ValueError(f'ConvLSTMCell "{self.name}" expects {self.rank + 2}-D step inputs (batch, spatial axes, '
                             f"channels); got shape {shape}.")
        channels = shape[-1] if self._channels_last else shape[1]
        self.spatial_dims = tuple(shape[1:-1] if self._channels_last else shape[2:])
        if channels is None or None in self.spatial_dims:
            raise ValueError(f'ConvLSTMCell "{self.name}" needs known spatial and channel axes; got input shape '
                             f"{shape}; give the Input its full shape.")
        self.input_dim = channels
        rank, width = self.rank, 4 * self.filters
        torch_layout = (rank + 1, rank) + tuple(range(rank))  # Keras (*k, in, out) -> torch (out, in, *k)
        self.add_weight(self.kernel_size + (channels, width), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name="kernel",
                        layout=torch_layout)
        self.add_weight(self.kernel_size + (self.filters, width), self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
                        name="recurrent_kernel", layout=torch_layout)
        if self.use_bias:
            self.add_weight((width,), self._bias_initializer(), regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, n = self.bias_initializer, self.filters

        def forget_bias_one(shape, dtype=None):
            parts = [base((n,), dtype=dtype), torch.ones(n), base((2 * n,), dtype=dtype)]
            return torch.cat([torch.as_tensor(p, dtype=dtype) for p in parts])
        return forget_bias_one

    # ---------------------------------------------------------------------------------------------------- maths
    def _to_torch(self, x):
        return x.movedim(-1, 1) if self._channels_last else x

    def _from_torch(self, x):
        return x.movedim(1, -1) if self._channels_last else x

    def _input_conv(self, x, kernel, bias):
        """Keras's convolution of `x` (torch layout), "same" padding as TensorFlow pads it (extra after)."""
        padding = 0
        if self.padding == "same":
            spans = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate)]
            pads = [same_padding(n, span, s) for n, span, s in zip(x.shape[2:], spans, self.strides)]
            if all(before == after for before, after in pads):
                padding = tuple(before for before, _ in pads)
            else:
                x = F.pad(x, pad_argument(pads))
        return self._conv(x, kernel, bias, self.strides, padding, self.dilation_rate)

    def _recurrent_conv(self, h, kernel):
        """The stride-1 "same" convolution of a state; an even kernel pads one more after, as Keras does (done
        here with `F.pad`, since torch's own "same" would copy the input and warn at every step)."""
        pads = [same_padding(1, k, 1) for k in self.kernel_size]
        x = self._to_torch(h)
        if all(before == after for before, after in pads):
            return self._conv(x, kernel, None, 1, tuple(before for before, _ in pads))
        return self._conv(F.pad(x, pad_argument(pads)), kernel)

    def project(self, inputs, training=None):
        """The input convolution (plus bias) of one step `(batch, *step)` or of every step `(batch, time, *step)`
        at once, in Keras's layout, the 4 gates along the channel axis."""
        training = self.training if training is None else bool(training)
        sequence = inputs.dim() == self.rank + 3
        steps = inputs.flatten(0, 1) if sequence else inputs
        mask = self.get_dropout_mask(inputs[:, 0] if sequence else inputs) if training else None
        if mask is None:
            out = self._input_conv(self._to_torch(steps), self.kernel, self.bias)
        else:
            if sequence:  # one mask per sequence, the same at every step
                mask = mask.unsqueeze(2).expand(-1, -1, inputs.shape[1], *mask.shape[2:]).flatten(1, 2)
            n = self.filters
            out = torch.cat([self._input_conv(self._to_torch(steps * mask[g]), self.kernel[g * n:(g + 1) * n],
                                              None if self.bias is None else self.bias[g * n:(g + 1) * n])
                             for g in range(4)], 1)
        out = self._from_torch(out)
        return out.unflatten(0, inputs.shape[:2]) if sequence else out

    def recur(self, projected, states, training=None):
        """The rest of one step from the projected input: `(h, [h, c])`."""
        training = self.training if training is None else bool(training)
        h, c = states[0], states[1]
        mask = self.get_recurrent_dropout_mask(h) if training else None
        if mask is None:
            inner = self._recurrent_conv(h, self.recurrent_kernel)
        else:
            n = self.filters
            inner = torch.cat([self._recurrent_conv(h * mask[g], self.recurrent_kernel[g * n:(g + 1) * n])
                               for g in range(4)], 1)
        z = projected + self._from_torch(inner)
        i, f, g, o = z.chunk(4, -1 if self._channels_last else 1)
        sigma = self._recurrent_act
        c = sigma(f) * c + sigma(i) * self._act(g)
        h = sigma(o) * self._act(c)
        return h, [h, c]

    def call(self, inputs, states, training=None):
        """One step: `(h, [h, c])` from the step inputs and `states = [h, c]`."""
        return self.recur(self.project(inputs, training), list(states), training)

    # ---------------------------------------------------------------------------------------------------- shapes
    def compute_output_shape(self, input_shape):
        """The shape of one output step (and of each state) for step inputs of `input_shape`."""
        sizes = input_shape[1:-1] if self._channels_last else input_shape[2:]
        spans = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate)]
        spatial = tuple(None if n is None else ((n - span) // s + 1 if self.padding == "valid" else -(-n // s))
                        for n, span, s in zip(sizes, spans, self.strides))
        if any(n is not None and n <= 0 for n in spatial):
            raise ValueError(f'ConvLSTMCell "{self.name}" has a {self.kernel_size} kernel that spans more than the '
                             f'input {tuple(input_shape)} with padding="valid"; use padding="same", a smaller '
                             "kernel_size, or a larger input.")
        return (input_shape[0],) + (spatial + (self.filters,) if self._channels_last else (self.filters,) + spatial)

    def get_initial_state(self, batch_size=None):
        """Zero states `[h, c]`, each shaped as one output step."""
        step = (batch_size,) + (self.spatial_dims + (self.input_dim,) if self._channels_last
                                else (self.input_dim,) + self.spatial_dims)
        shape = self.compute_output_shape(step)
        return [torch.zeros(shape, dtype=self._dtype, device=self.kernel.device) for _ in range(2)]

    def get_config(self):
        return {**super().get_config(), "rank": self.rank, **self._arguments()}

    def _arguments(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias, **weight_options_config(self)}

    def extra_repr(self):
        return f"name={self.name!r}, filters={self.filters}, kernel_size={self.kernel_size}"


class ConvLSTM(CellOptions, RNN):
    """The shared part of ConvLSTM1D/2D/3D: an RNN over a ConvLSTMCell that it creates from its arguments.

    The input convolution runs on every time step at once (one torch convolution over `batch * time` samples);
    only the recurrent convolution runs per step.
    """

    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        given = locals()
        arguments = {name: given[name] for name in _CELL_ARGUMENTS}
        cell = ConvLSTMCell(self.rank, **arguments, name="conv_lstm_cell", dtype=kwargs.get("dtype"),
                            trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, activity_regularizer=activity_regularizer,
                         **kwargs)
        self.input_spec = InputSpec(ndim=self.rank + 3)

    def _rank_error(self, shape):
        layout = ", ".join(["d"] * self.rank)
        order = f"{layout}, channels" if self.cell._channels_last else f"channels, {layout}"
        return (f'{type(self).__name__} "{self.name}" expects {self.rank + 3}-D inputs (batch, timesteps, {order}); '
                f"got shape {shape}.")

    def _input_hint(self, shape, spec):
        return ""

    def build(self, sequences_shape, initial_state_shape=None):
        if len(tuple(sequences_shape)) != self.rank + 3:
            raise ValueError(self._rank_error(tuple(sequences_shape)))
        super().build(sequences_shape, initial_state_shape)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        projected = cell.project(sequences, training)

        def step(x, states):
            return cell.recur(x, states, training)
        return step_loop(step, projected, initial_state, mask, self.go_backwards, self.zero_output_for_mask,
                         self.return_sequences)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) != self.rank + 3:
            raise ValueError(self._rank_error(shape))
        batch, steps = shape[0], shape[1]
        state = self.cell.compute_output_shape((batch,) + shape[2:])
        output = (batch, steps) + state[1:] if self.return_sequences else state
        return (output, state, state) if self.return_state else output

    def get_config(self):
        activity = None if self.activity_regularizer is None else regularizers.serialize(self.activity_regularizer)
        return {**self._rnn_config(), **self.cell._arguments(), "activity_regularizer": activity}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("unroll", None)  # always False for ConvLSTM; Keras writes it from the RNN base
        return cls(**config)

    def extra_repr(self):
        return f"name={self.name!r}, filters={self.filters}, return_sequences={self.return_sequences}"

    filters = from_cell("filters")
    kernel_size = from_cell("kernel_size")
    strides = from_cell("strides")
    padding = from_cell("padding")
    data_format = from_cell("data_format")
    dilation_rate = from_cell("dilation_rate")
    recurrent_activation = from_cell("recurrent_activation")
    unit_forget_bias = from_cell("unit_forget_bias")


_SHARED_DOC = """
    Arguments:
        filters: the number of output channels (and of each state's channels).
        kernel_size: an int or a tuple of {rank} ints, the convolution window (input and recurrent).
        strides: an int or a tuple of {rank} ints, the input convolution's strides (the recurrent one has 1).
        padding: `"valid"` or `"same"` for the input convolution (the recurrent one is always "same").
        data_format: `"channels_last"` (inputs `(batch, time, {axes}, channels)`) or `"channels_first"`
            (`(batch, time, channels, {axes})`); None uses `image_data_format()`.
        dilation_rate: an int or a tuple of {rank} ints, the input convolution's dilation.
        activation, recurrent_activation: `"tanh"` and `"sigmoid"` by default.
        unit_forget_bias: add 1 to the forget gate's initial bias.
        dropout, recurrent_dropout, seed: variational dropout of the inputs and of the previous output.
        return_sequences, return_state, go_backwards, stateful: as in `RNN`.
        use_bias and the initializers, regularizers and constraints: as in `LSTM`.
"""


class ConvLSTM1D(ConvLSTM):
    __doc__ = """A 1-D convolutional LSTM: an LSTM whose input and recurrent products are 1-D convolutions.

    Inputs `(batch, time, steps, channels)`; output `(batch, new_steps, filters)`, or every time step's with
    `return_sequences`. Weights: `kernel (k, channels, 4 * filters)`, `recurrent_kernel (k, filters, 4 * filters)`,
    `bias (4 * filters,)`.
    """ + _SHARED_DOC.format(rank=1, axes="steps") + """
    Example:
        >>> deepglass.layers.ConvLSTM1D(4, 3)(torch.ones(2, 5, 10, 3)).shape
        torch.Size([2, 8, 4])
    """
    rank = 1


class ConvLSTM2D(ConvLSTM):
    __doc__ = """A 2-D convolutional LSTM (Shi et al., 2015): an LSTM whose input and recurrent products are 2-D
    convolutions, for sequences of images.

    Inputs `(batch, time, rows, cols, channels)`; output `(batch, new_rows, new_cols, filters)`, or every time
    step's with `return_sequences`. Weights: `kernel (kh, kw, channels, 4 * filters)`, `recurrent_kernel (kh, kw,
    filters, 4 * filters)`, `bias (4 * filters,)`.
    """ + _SHARED_DOC.format(rank=2, axes="rows, cols") + """
    Example:
        >>> deepglass.layers.ConvLSTM2D(4, 3, padding="same")(torch.ones(2, 5, 8, 8, 3)).shape
        torch.Size([2, 8, 8, 4])
    """
    rank = 2


class ConvLSTM3D(ConvLSTM):
    __doc__ = """A 3-D convolutional LSTM: an LSTM whose input and recurrent products are 3-D convolutions, for
    sequences of volumes.

    Inputs `(batch, time, d1, d2, d3, channels)`; output `(batch, new_d1, new_d2, new_d3, filters)`, or every time
    step's with `return_sequences`. Weights: `kernel (k1, k2, k3, channels, 4 * filters)`, `recurrent_kernel (k1, k2,
    k3, filters, 4 * filters)`, `bias (4 * filters,)`.
    """ + _SHARED_DOC.format(rank=3, axes="d1, d2, d3") + """
    Example:
        >>> deepglass.layers.ConvLSTM3D(2, 3)(torch.ones(2, 3, 5, 5, 5, 1)).shape
        torch.Size([2, 3, 3, 3, 2])
    """
    rank = 3
