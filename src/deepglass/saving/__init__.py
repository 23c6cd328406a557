"""Saving and loading: Keras 3's `.keras` archive and `.weights.h5`, `.safetensors`, Keras 2's `.h5`, configs and
JSON, custom objects, and loading that runs no code from a file.

Example:
    >>> model.save("model.keras")
    >>> model = deepglass.saving.load_model("model.keras")
    >>> model.save_weights("model.weights.h5"); model.load_weights("model.weights.h5")

See docs/saving.md for the formats, the Keras interop and the safety model.
"""
from deepglass.saving.api import load_model, load_weights, model_from_json, save_model, save_weights
from deepglass.saving.clone import clone_model
from deepglass.saving.errors import SavedFileError
from deepglass.saving.registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                           get_registered_name, get_registered_object, register_keras_serializable,
                                           register_serializable)
from deepglass.saving.serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["CustomObjectScope", "SavedFileError", "clone_model", "custom_object_scope", "deserialize_keras_object",
           "get_custom_objects", "get_registered_name", "get_registered_object", "load_model", "load_weights",
           "model_from_json", "register_keras_serializable", "register_serializable", "save_model", "save_weights",
           "serialize_keras_object"]
