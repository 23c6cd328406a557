"""Model: a layer that owns layers and can be compiled, fitted, evaluated and used for prediction."""
import torch

from deepglass.layers.layer import Layer
from deepglass.training.trainer import Trainer


class Model(Trainer, Layer):
    """A network of layers with the training API (`compile`, `fit`, `evaluate`, `predict`).

    Three ways to make one, as in Keras:
    - functional: `Model(inputs, outputs)` over symbolic tensors from `Input` (multi-input, multi-output,
      shared layers, nested models);
    - `Sequential([...])` for a plain stack;
    - subclassing: define layers in `__init__` and the computation in `call(inputs, training=None)`.

    Example:
        >>> inputs = deepglass.Input((784,))
        >>> outputs = deepglass.layers.Dense(10, activation="softmax")(inputs)
        >>> model = deepglass.Model(inputs, outputs)
    """

    _takes_strings = True  # a model hands string inputs on to its layers, which accept or refuse them

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or {"inputs", "outputs", "input", "output"} & set(kwargs)):
            from deepglass.models.functional import Functional
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}() takes only keyword arguments (name=, trainable=, dtype=).")
        super().__init__(**kwargs)
        self._init_trainer()

    @property
    def layers(self):
        """The model's layers, in the order they were assigned (subclassed: lists and dicts of layers included) or
        connected (functional)."""
        return self._sublayers()

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or the one at position `index` in `layers`."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f'Model "{self.name}" has {len(self.layers)} layers; index {index} is out of range.')
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self.layers]
        raise ValueError(f'Model "{self.name}" has no layer named {name!r}. Its layers are: {names}.')

    def reset_states(self):
        """Set the states of every stateful layer inside the model (nested ones included) back to zeros (Keras 2's
        API for stateful recurrent models, e.g. between independent sequences).

        Example:
            >>> model.fit(x, y, batch_size=4, shuffle=False)
            >>> model.reset_states()
        """
        for module in self.modules():
            if module is not self and isinstance(module, Layer) and getattr(module, "stateful", False) \
                    and callable(getattr(module, "reset_state", None)):
                module.reset_state()

    def build(self, input_shape):
        """Create the weights of a subclassed model by calling it once on zeros of `input_shape`."""
        if type(self).call is Model.call:
            return
        if not isinstance(input_shape, (tuple, list)) or not all(d is None or isinstance(d, int) for d in input_shape):
            return
        shape = [1 if d is None else d for d in input_shape]
        self.built = True  # so the call below does not come back here
        with torch.no_grad():
            self(torch.zeros(shape))

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs, training=None), or be built as "
                                  "Model(inputs, outputs) or Sequential([...]).")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None, explain=False):
        """Print the Keras table of layers, output shapes and parameter counts (see `deepglass.utils.summary`);
        `explain=True` adds the arithmetic behind each layer's size, parameters, receptive field, FLOPs and memory."""
        from deepglass.utils.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range,
                      explain=explain)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model `get_config()` describes: a functional config (layers, input and output layers) rebuilds the
        graph; any other config is passed to the constructor."""
        from deepglass.saving.registration import CustomObjectScope
        if all(key in config for key in ("layers", "input_layers", "output_layers")):
            from deepglass.models.functional import Functional
            from deepglass.saving.functional_config import functional_from_config
            with CustomObjectScope(custom_objects):
                return functional_from_config(Functional if cls is Model else cls, config)
        return cls(**config)

    # ------------------------------------------------------------------------------------------------------ saving
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save the model: `.keras` (architecture, weights, compile arguments, optimizer state) or `.h5` (Keras 2).
        See `deepglass.saving.save_model`."""
        from deepglass.saving import save_model
        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Save the weights: `.weights.h5`, `.safetensors` or `.h5`. See `deepglass.saving.save_weights`."""
        from deepglass.saving import save_weights
        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Load weights from `.weights.h5`, `.keras`, `.safetensors` or `.h5`; a file that does not fit this model
        raises and changes nothing. See `deepglass.saving.load_weights`."""
        from deepglass.saving import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def export(self, filepath, format=None, input_signature=None, verbose=True):
        """Write the model for inference without deepglass: `.onnx` (onnxruntime) or `.pt2` (torch.export), with a
        dynamic batch axis. See `deepglass.saving.export.export_model`."""
        from deepglass.saving.export import export_model
        export_model(self, filepath, format=format, input_signature=input_signature, verbose=verbose)

    def to_json(self, **kwargs):
        """The architecture (and compile arguments) as JSON text, for `deepglass.models.model_from_json`."""
        from deepglass.saving.api import model_to_json
        return model_to_json(self, **kwargs)

    def extra_repr(self):
        return f"name={self.name!r}"
