"""Layers: the building blocks of models. Every layer is a `torch.nn.Module`."""
from deepglass.layers.convolutional import Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D
from deepglass.layers.core import Activation, Dense, Dropout, Identity, Input, InputLayer
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.lambda_layer import Lambda
from deepglass.layers.layer import Layer
from deepglass.layers.pooling import (
    AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D, AvgPool3D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D,
    GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
    MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D,
)
from deepglass.layers.reshaping import Flatten, Permute, Reshape
from deepglass.layers.torch_wrapper import TorchModuleWrapper
from deepglass.serialization import Registry

_LAYER_CLASSES = [Activation, Dense, Dropout, Flatten, Identity, InputLayer, Lambda, Permute, Reshape]
_LAYER_CLASSES += [Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D]
_LAYER_CLASSES += [MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D]
_LAYER_CLASSES += [GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, GlobalAveragePooling1D,
                   GlobalAveragePooling2D, GlobalAveragePooling3D]
_registry = Registry("layer", _LAYER_CLASSES)


def register(cls):
    """Make a Layer subclass known to `deserialize` (and so to model loading) by its class name."""
    _registry.classes[cls.__name__] = cls
    return cls


def serialize(layer):
    """`{"class_name": ..., "config": layer.get_config()}`."""
    return _registry.serialize(layer)


def deserialize(config, custom_objects=None):
    """Build a layer from `serialize`'s output; only known layer classes (and `custom_objects`) can be named."""
    if custom_objects and isinstance(config, dict) and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(dict(config.get("config") or {}))
    return _registry.deserialize(config)
