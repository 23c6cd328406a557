"""Core layers: Input, Dense, Activation, Dropout, Identity."""
import torch
import torch.nn.functional as F

from deepglass import activations, config, constraints, initializers, regularizers
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer
from deepglass.layers.legacy import rename_legacy_kwargs
from deepglass.layers.symbolic import KerasTensor, Node


_STRING_DTYPES = ("string", "str")  # Keras's name for text inputs, and Python's


class InputLayer(Layer):
    """The entry point of a functional model: holds the symbolic tensor that `Input(...)` returns.

    Arguments:
        shape: the shape of one sample, without the batch axis (`(28, 28, 1)`).
        batch_size: a fixed batch size, or None.
        dtype: the input's dtype (`"float32"` by default; `"int64"` for token ids).
        batch_shape: the full shape including the batch axis, instead of `shape` and `batch_size`.
        name: the layer's name (`input_layer`, `input_layer_1`, ... by default).

    Example:
        >>> deepglass.layers.InputLayer(shape=(784,)).batch_shape
        (None, 784)
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, input_tensor=None,
                 name=None, optional=False, **kwargs):
        legacy_shape = kwargs.pop("input_shape", None)
        legacy_batch = kwargs.pop("batch_input_shape", None)
        shape = shape if shape is not None else legacy_shape
        batch_shape = batch_shape if batch_shape is not None else legacy_batch
        strings = dtype in _STRING_DTYPES
        super().__init__(name=name, dtype=dtype if dtype is None or (not strings and _is_float(dtype)) else None,
                         **kwargs)
        if sparse:
            raise ValueError("Sparse inputs are not supported; pass dense arrays.")
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs `shape` (the shape of one sample, e.g. shape=(784,)) or `batch_shape`.")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        # Strings stay NumPy arrays (text layers read them on the host): their placeholder's dtype is "string".
        self._input_dtype = "string" if strings else config.standardize_dtype(dtype)
        self.optional = optional
        self.built = True
        tensor = KerasTensor(self.batch_shape, self._input_dtype, name=self.name)
        Node(self, (), {}, tensor)
        self._output_tensor = tensor

    def call(self, inputs):
        return inputs

    @property
    def dtype(self):
        return str(self._input_dtype).replace("torch.", "")

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False, "name": self.name,
                "optional": self.optional}



def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """A symbolic input: the start of a model. `Input((784,))` is a batch of 784-vectors.

    Example:
        >>> inputs = deepglass.Input((28, 28, 1))
        >>> inputs.shape
        (None, 28, 28, 1)
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape,
                       name=name, optional=optional)
    return layer._output_tensor


# Activations whose one-argument call is exactly torch's: a layer calls torch directly, as every call of a small
# model's step counts. They are elementwise, and a layer applies them in place to a tensor it has just made (see
# `activate`).
_TORCH_KERNELS = {activations.relu: torch.relu, activations.tanh: torch.tanh}
_IN_PLACE_KERNELS = {activations.relu: torch.relu_, activations.tanh: torch.tanh_}


class ActivationAttribute:
    """The `activation` of a layer (Dense, convolutions, Activation): a name, a function or None when set, the
    function when read. Setting it takes effect, as in Keras (`layer.activation = activations.linear` makes the
    layer output logits). It also sets what calls apply: `_activation_fn` (None for linear, torch's own kernel where
    that is the same function) and `_activation_in_place` (torch's in-place kernel, where it has one)."""

    def __get__(self, layer, owner=None):
        return self if layer is None else layer.__dict__["_activation"]

    def __set__(self, layer, value):
        function = activations.get(value)
        layer.__dict__["_activation"] = function
        layer.__dict__["_activation_fn"] = None if function is activations.linear else \
            _TORCH_KERNELS.get(function, function)
        layer.__dict__["_activation_in_place"] = _IN_PLACE_KERNELS.get(function)


def activate(layer, outputs, to_keras_layout=None):
    """`layer`'s activation of `outputs`, a tensor the layer has just made, then turned into Keras's layout by
    `to_keras_layout` when given. relu and tanh run in place, before the layout changes (they are elementwise): no
    second tensor of that size, and autograd needs only their result. Not on a view (a cropped transposed
    convolution's), where autograd would rebuild the gradient of the whole tensor under it."""
    in_place = layer._activation_in_place
    done = in_place is not None and outputs._base is None
    if done:
        outputs = in_place(outputs)
    if to_keras_layout is not None:
        outputs = to_keras_layout(outputs)
    return outputs if done or layer._activation_fn is None else layer._activation_fn(outputs)


class Dense(Layer):
    """A fully connected layer: `output = activation(inputs @ kernel + bias)`, applied on the last axis.

    The kernel has Keras's shape `(input_dim, units)` in `get_weights()` and torch's `(units, input_dim)` in
    `state_dict()`; it is initialised with `kernel_initializer` (Glorot uniform by default), the bias with zeros.

    Arguments:
        units: the number of outputs.
        activation: an activation name or function (`"relu"`, `"softmax"`); None means linear.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
            bias_constraint: as in Keras.

    Example:
        >>> layer = deepglass.layers.Dense(10, activation="softmax")
        >>> layer(torch.ones(4, 784)).shape
        torch.Size([4, 10])
    """

    _passes_masks = True

    _legacy = {"output_dim": "units", "init": "kernel_initializer", "W_regularizer": "kernel_regularizer",
               "b_regularizer": "bias_regularizer", "W_constraint": "kernel_constraint",
               "b_constraint": "bias_constraint", "bias": "use_bias"}

    activation = ActivationAttribute()

    def __init__(self, units=None, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        legacy = rename_legacy_kwargs(type(self).__name__, kwargs, self._legacy)
        units = legacy.pop("units", units)
        use_bias = legacy.pop("use_bias", use_bias)
        kernel_initializer = legacy.pop("kernel_initializer", kernel_initializer)
        kernel_regularizer = legacy.pop("kernel_regularizer", kernel_regularizer)
        bias_regularizer = legacy.pop("bias_regularizer", bias_regularizer)
        kernel_constraint = legacy.pop("kernel_constraint", kernel_constraint)
        bias_constraint = legacy.pop("bias_constraint", bias_constraint)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. Received: "
                             f"units={units!r}")
        self.units = units
        set_kernel_arguments(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f'Dense "{self.name}" needs a known last input axis; got input shape {input_shape}.')
        self.add_weight((input_dim, self.units), self.kernel_initializer, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint, name="kernel", layout=(1, 0))
        if self.use_bias:
            self.add_weight((self.units,), self.bias_initializer, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        return activate(self, F.linear(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, **kernel_config(self)}

    def extra_repr(self):
        return f"name={self.name!r}, units={self.units}, activation={activations.serialize(self.activation)!r}"


class Activation(Layer):
    """Applies an activation function: `Activation("relu")` is `relu(inputs)`.

    Example:
        >>> deepglass.layers.Activation("relu")(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    _passes_masks = True
    activation = ActivationAttribute()

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation

    def call(self, inputs):
        return inputs if self._activation_fn is None else self._activation_fn(inputs)

    def _channels_first_mode(self):
        return "follow" if self._activation in activations.ELEMENTWISE and type(self).call is Activation.call \
            else None

    def _call_channels_first(self, inputs, training=None):
        return self.call(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}

    def extra_repr(self):
        return f"name={self.name!r}, activation={activations.serialize(self.activation)!r}"


class Identity(Layer):
    """Returns its input unchanged (a placeholder in a graph).

    Example:
        >>> deepglass.layers.Identity()(torch.ones(2))
        tensor([1., 1.])
    """

    _passes_masks = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Dropout(Layer):
    """Sets a random fraction `rate` of inputs to 0 during training and scales the rest by `1 / (1 - rate)`.

    Inactive at inference (`predict`, `evaluate`, or a call with `training=False`), as in Keras.

    Arguments:
        rate: the fraction of inputs to drop, in [0, 1).
        noise_shape: the shape of the binary mask, broadcast over the inputs (e.g. `(None, 1, 64)` drops the same
            channels at every time step); None entries take the input's size.
        seed: a seed for reproducible masks.

    Example:
        >>> layer = deepglass.layers.Dropout(0.5)
        >>> layer(torch.ones(2, 4), training=True)  # about half zeros, the rest 2.0
    """

    _passes_masks = True

    def __init__(self, rate=None, noise_shape=None, seed=None, **kwargs):
        rate = rename_legacy_kwargs("Dropout", kwargs, {"p": "rate"}).get("rate", rate)
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Received an invalid value for `rate`, expected a float in [0, 1). Received: "
                             f"rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = None

    def _channels_first_mode(self):
        # A seeded or shaped mask is drawn in the inputs' layout; an unseeded full one is the same in any layout.
        return "follow" if self.noise_shape is None and self.seed is None and type(self).call is Dropout.call \
            else None

    def _call_channels_first(self, inputs, training=None):
        return self.call(inputs, training)

    def call(self, inputs, training=None):
        return self._drop(inputs, training, self.noise_shape)

    def _drop(self, inputs, training, noise_shape):
        if training is None:
            training = self.training
        if not training or self.rate == 0:
            return inputs
        if noise_shape is None and self.seed is None:
            return F.dropout(inputs, self.rate, True)
        shape = inputs.shape if noise_shape is None else \
            [inputs.shape[i] if d is None else d for i, d in enumerate(noise_shape)]
        keep = torch.empty(shape, device=inputs.device, dtype=inputs.dtype)
        keep.bernoulli_(1 - self.rate, generator=self._seeded_generator(inputs.device))
        return inputs * keep / (1 - self.rate)

    def _seeded_generator(self, device):
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}

    def extra_repr(self):
        return f"name={self.name!r}, rate={self.rate}"


def set_kernel_arguments(layer, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, kernel_constraint, bias_constraint):
    """The arguments shared by layers with a kernel and a bias (Dense, convolutions), turned into objects."""
    layer.activation = activation
    layer.use_bias = bool(use_bias)
    layer.kernel_initializer = initializers.get(kernel_initializer)
    layer.bias_initializer = initializers.get(bias_initializer)
    layer.kernel_regularizer = regularizers.get(kernel_regularizer)
    layer.bias_regularizer = regularizers.get(bias_regularizer)
    layer.kernel_constraint = constraints.get(kernel_constraint)
    layer.bias_constraint = constraints.get(bias_constraint)


def kernel_config(layer, kernel="kernel"):
    """The config entries of `set_kernel_arguments`; `kernel` renames the kernel's keys (`"depthwise"`)."""
    return {"activation": activations.serialize(layer.activation), "use_bias": layer.use_bias,
            f"{kernel}_initializer": initializers.serialize(layer.kernel_initializer),
            "bias_initializer": initializers.serialize(layer.bias_initializer),
            f"{kernel}_regularizer": _serialize_or_none(regularizers, layer.kernel_regularizer),
            "bias_regularizer": _serialize_or_none(regularizers, layer.bias_regularizer),
            f"{kernel}_constraint": _serialize_or_none(constraints, layer.kernel_constraint),
            "bias_constraint": _serialize_or_none(constraints, layer.bias_constraint)}


def _serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)


def _is_float(dtype):
    return config.standardize_dtype(dtype).is_floating_point
