"""Sequential: a plain stack of layers, each feeding the next."""
import inspect

from torch import nn

from deepglass.layers.core import Input, InputLayer
from deepglass.layers.input_spec import check_model_input
from deepglass.layers.layer import Layer, _checking
from deepglass.layers.symbolic import KerasTensor
from deepglass.layers.torch_wrapper import TorchModuleWrapper
from deepglass.models import channels_first
from deepglass.models.model import Model


class Sequential(Model):
    """A linear stack of layers: `Sequential([Input((784,)), Dense(512, activation="relu"), Dense(10)])`.

    Give the input shape with `Input(...)` first (or the legacy `input_shape=` / `input_dim=` on the first layer)
    to build the weights at once; otherwise they are created on the first call or `fit`. Plain `torch.nn.Module`s
    may be added too; they are wrapped in `TorchModuleWrapper`.

    Example:
        >>> model = deepglass.Sequential()
        >>> model.add(deepglass.Input((4,)))
        >>> model.add(deepglass.layers.Dense(2))
        >>> model.output_shape
        (None, 2)
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack = []
        self._takes_training = []
        self._image_layers = False  # whether a layer can run channels-first (deepglass.models.channels_first)
        self._input_tensor = None
        self._outputs = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (or an `Input`) to the stack."""
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if isinstance(layer, nn.Module) and not isinstance(layer, Layer):
            layer = TorchModuleWrapper(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential.add expects a layer, an Input or a torch.nn.Module; got {layer!r}.")
        if isinstance(layer, InputLayer):
            if self._stack or self._input_tensor is not None:
                raise ValueError("An Input can only be the first entry of a Sequential model.")
            self._input_tensor = layer._output_tensor
            self._modules[layer.name] = layer
            return
        if layer.name in {existing.name for existing in self._stack}:
            raise ValueError(f'Sequential "{self.name}" already has a layer named "{layer.name}"; names must be '
                             "unique.")
        if not self._stack and self._input_tensor is None and layer._batch_input_shape is not None:
            self.add(Input(batch_shape=layer._batch_input_shape))
        self._stack.append(layer)
        self._takes_training.append("training" in inspect.signature(layer.call).parameters)
        self._modules[layer.name.replace(".", "_")] = layer
        if self._input_tensor is not None:
            try:
                self._outputs = layer(self._outputs if len(self._stack) > 1 else self._input_tensor)
            except Exception:
                self._stack.pop()
                self._takes_training.pop()
                del self._modules[layer.name.replace(".", "_")]
                raise
            self.built = True
            self._refresh_plain_call()
        self._image_layers = channels_first.may_run(self._stack)

    def pop(self):
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError(f'Sequential "{self.name}" has no layers to pop.')
        layer = self._stack.pop()
        self._takes_training.pop()
        self._image_layers = channels_first.may_run(self._stack)
        del self._modules[layer.name.replace(".", "_")]
        if self._input_tensor is not None:
            self._outputs = self._rebuild_outputs()
        return layer

    def _rebuild_outputs(self):
        x = self._input_tensor
        for layer in self._stack:
            x = layer(x)
        return x

    @property
    def layers(self):
        return list(self._stack)

    def build(self, input_shape=None):
        """Build every layer for inputs of `input_shape` (the batch axis may be None)."""
        if self._input_tensor is None:
            if input_shape is None:
                raise ValueError(f'Sequential "{self.name}" needs an input shape to build; add an Input first or '
                                 "call build((None, ...)).")
            self._input_tensor = Input(batch_shape=(None,) + tuple(input_shape[1:]))
            self._outputs = self._rebuild_outputs() if self._stack else None
        self.built = True

    def call(self, inputs, training=None):
        if _checking[0] and self._input_tensor is not None:
            check_model_input(f'Sequential "{self.name}"', self._input_tensor.shape, inputs.shape)
        if self._image_layers and channels_first.enabled():
            return channels_first.run_sequence(self._stack, self._takes_training, inputs, training)
        x = inputs
        if training is None:
            for layer in self._stack:
                x = layer(x)
        else:
            for layer, takes_training in zip(self._stack, self._takes_training):
                x = layer(x, training=training) if takes_training else layer(x)
        return x

    @property
    def inputs(self):
        return [self._input_tensor] if self._input_tensor is not None else []

    @property
    def outputs(self):
        return [self._outputs] if self._outputs is not None else []

    @property
    def input(self):
        return self._input_tensor

    @property
    def output(self):
        return self._outputs

    @property
    def input_shape(self):
        if self._input_tensor is None:
            raise AttributeError(f'Sequential "{self.name}" has no input shape yet: add an Input or call it.')
        return self._input_tensor.shape

    @property
    def output_shape(self):
        if self._outputs is None:
            raise AttributeError(f'Sequential "{self.name}" has no output shape yet: add an Input or call it.')
        return self._outputs.shape

    def compute_output_spec(self, *args, **kwargs):
        if self._outputs is not None:
            return KerasTensor(self._outputs.shape, self._outputs.dtype)
        return super().compute_output_spec(*args, **kwargs)

    def get_config(self):
        """Keras 3's Sequential config: name, trainable, dtype, the layers (the Input first, when there is one) and
        the input shape."""
        from deepglass.saving.serialization import serialize_keras_object
        stack = ([self._input_tensor._keras_history[0]] if self._input_tensor is not None else []) + self._stack
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": self.dtype},
                            "registered_name": None},
                  "layers": [serialize_keras_object(layer) for layer in stack]}
        if self._input_tensor is not None:
            config["build_input_shape"] = list(self._input_tensor.shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from deepglass.saving.registration import CustomObjectScope
        from deepglass.saving.serialization import build_object, shape_from_json
        if isinstance(config, list):  # Keras 2.0-2.1 wrote the list of layers alone
            config = {"layers": config}
        with CustomObjectScope(custom_objects):
            model = cls(name=config.get("name"), trainable=config.get("trainable", True))
            for entry in config["layers"]:
                model.add(build_object(entry, kind="layers"))
        if not model.built and config.get("build_input_shape"):
            model.build(shape_from_json(config["build_input_shape"]))
        return model
