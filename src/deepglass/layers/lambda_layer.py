"""Lambda: wrap a Python function of tensors as a layer (`Lambda(lambda x: x ** 2)`)."""
import base64
import inspect
import marshal
import types

import numpy as np
import torch

from deepglass import config
from deepglass.layers.layer import Layer


class Lambda(Layer):
    """Applies `function(inputs, **arguments)`.

    Its config carries the function's bytecode, so a model with a Lambda layer loads only after
    `deepglass.config.enable_unsafe_deserialization()`: a file must never run code it was not trusted to run.
    Prefer a subclass of `Layer` for anything you want to share.

    Arguments:
        function: a function of torch tensors.
        output_shape: the output shape (without the batch axis) or a function of the input shape; found by running
            the function on placeholder data when omitted.
        arguments: extra keyword arguments passed to `function`.

    Example:
        >>> deepglass.layers.Lambda(lambda x: x * 2)(torch.ones(2))
        tensor([2., 2.])
    """

    _passes_masks = True

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda expects a function; got {function!r}.")
        self.function = function
        self._output_shape = output_shape
        self.arguments = dict(arguments or {})
        self._pass_training = "training" in inspect.signature(function).parameters

    def call(self, inputs, training=None):
        if self._pass_training:
            return self.function(inputs, training=training, **self.arguments)
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        return (input_shape[0],) + tuple(self._output_shape)

    def get_config(self):
        code = base64.b64encode(marshal.dumps(self.function.__code__)).decode("ascii")
        closure = self.function.__closure__
        return {**super().get_config(),
                "function": {"class_name": "__lambda__",
                             "config": {"code": code, "defaults": self.function.__defaults__,
                                        "closure": None if closure is None else [c.cell_contents for c in closure]}},
                "output_shape": self._output_shape if not callable(self._output_shape) else None,
                "arguments": self.arguments}

    @classmethod
    def from_config(cls, config_dict):
        config_dict = dict(config_dict)
        function = config_dict.pop("function")
        if config.in_safe_mode():
            raise ValueError(
                "Refusing to load a Lambda layer: its config holds Python bytecode, which would run on load. If you "
                "trust this file, call deepglass.config.enable_unsafe_deserialization() (or pass safe_mode=False "
                "when loading) first.")
        return cls(_load_function(function), **config_dict)


def _load_function(serialized):
    spec = serialized["config"]
    code = marshal.loads(base64.b64decode(spec["code"]))
    closure = None
    if spec.get("closure") is not None:
        closure = tuple(types.CellType(value) for value in spec["closure"])
    defaults = tuple(spec["defaults"]) if spec.get("defaults") is not None else None
    # The function sees the names a Lambda body most often uses; anything else it needs must come by closure.
    scope = {"torch": torch, "np": np, "__builtins__": __builtins__}
    return types.FunctionType(code, scope, code.co_name, defaults, closure)
