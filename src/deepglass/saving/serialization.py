"""Objects as Keras 3 config dicts and back, without running anything a file names.

A serialized object is `{"module", "class_name", "config", "registered_name"}` (plus `build_config` and
`compile_config` for layers and models), as Keras 3 writes it, so configs go both ways between deepglass and Keras.
On the way back, a class is looked up in the caller's `custom_objects`, the active `custom_object_scope`, the objects
registered with `register_serializable`, and deepglass's own registries, and nowhere else. The `module` a config
gives only tells which of deepglass's registries to search (`"keras.layers"` -> layers): it is never imported.
"""
import inspect

import numpy as np

from deepglass import config as global_config
from deepglass.saving import keras_config, registration

# deepglass package -> the Keras module written into configs, so that Keras can find the same class.
_KERAS_MODULES = {"layers": "keras.layers", "initializers": "keras.initializers", "regularizers": "keras.regularizers",
                  "constraints": "keras.constraints", "optimizers": "keras.optimizers", "losses": "keras.losses",
                  "metrics": "keras.metrics", "schedules": "keras.optimizers.schedules",
                  "activations": "keras.activations"}
_MODEL_CLASSES = ("Functional", "Sequential", "Model")


class SafeModeScope:
    """Within `with SafeModeScope(True):` configs that carry Python code (Lambda layers) are refused; with False
    they load. The previous setting is restored on exit, whatever happens inside."""

    def __init__(self, safe_mode=True):
        self.safe_mode = bool(safe_mode)

    def __enter__(self):
        self._previous = global_config._scoped_safe_mode(self.safe_mode)
        return self

    def __exit__(self, *exc):
        global_config._scoped_safe_mode(self._previous)


# ----------------------------------------------------------------------------------------------------- serialize
def serialize_keras_object(obj):
    """`obj` as JSON-safe config data in Keras 3's format: objects become dicts, tuples lists."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, (list, tuple)):  # JSON has no tuples; Keras writes them as lists too
        return [serialize_keras_object(item) for item in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if hasattr(obj, "get_config") and not inspect.isclass(obj):
        return _serialize_configurable(obj)
    if callable(obj) and hasattr(obj, "__name__"):
        return _serialize_function(obj)
    raise TypeError(f"Cannot serialize {obj!r}: expected a number, string, list, dict or an object with get_config(); "
                    "give it a get_config() method or register it with @deepglass.saving.register_serializable().")


def _serialize_configurable(obj):
    from deepglass.layers.layer import Layer
    from deepglass.models.functional import Functional
    from deepglass.models.sequential import Sequential
    cls = type(obj)
    registered = registration._REGISTERED_NAMES.get(cls)
    builtin = cls.__module__.startswith("deepglass.") and registered is None
    if builtin and cls in (Functional, Sequential):
        module = "keras.src.models.functional" if cls is Functional else "keras"
        registered = "Functional" if cls is Functional else None
    elif builtin:
        module = _KERAS_MODULES.get(_package(cls.__module__), cls.__module__)
    else:
        module, registered = cls.__module__, registered or cls.__name__
    result = {"module": module, "class_name": keras_class_name(cls), "config": serialize_keras_object(obj.get_config()),
              "registered_name": registered}
    if isinstance(obj, Layer):
        build_config = _build_config(obj)
        if build_config is not None:
            result["build_config"] = build_config
        from deepglass.saving.compile_config import get_compile_config
        compile_config = get_compile_config(obj)
        if compile_config is not None:
            result["compile_config"] = compile_config
    return result


_KERAS_1_NAMES = {"Deconvolution2D": "Conv2DTranspose", "Deconvolution3D": "Conv3DTranspose"}


def keras_class_name(cls):
    """The class name Keras 3 knows: deepglass's Keras 1/2 spellings (`Convolution2D`, `Deconvolution3D`:
    subclasses that only take the old arguments) are their Keras 3 base class (`Conv2D`, `Conv3DTranspose`)."""
    name = cls.__name__
    if not cls.__module__.startswith("deepglass."):
        return name
    bases = {base.__name__: base for base in cls.__mro__[1:]}
    for modern in (name.replace("Convolution", "Conv"), _KERAS_1_NAMES.get(name)):
        # Only a pure spelling: a subclass whose config says more (Deconvolution2D's output_shape) keeps its name.
        if modern != name and modern in bases and getattr(cls, "get_config", None) is getattr(
                bases[modern], "get_config", None):
            return modern
    return name


def _serialize_function(fn):
    registered = registration._REGISTERED_NAMES.get(fn)
    if registered is None and fn.__module__.startswith("deepglass."):
        return {"module": _KERAS_MODULES.get(_package(fn.__module__), fn.__module__), "class_name": "function",
                "config": fn.__name__, "registered_name": fn.__name__}
    return {"module": fn.__module__, "class_name": "function", "config": fn.__name__,
            "registered_name": registered or fn.__name__}


def _package(module_name):
    """`"deepglass.layers.core"` -> `"layers"`, `"deepglass.optimizers.adam"` -> `"optimizers"`."""
    parts = module_name.split(".")
    return parts[1] if len(parts) > 1 else ""


def _build_config(layer):
    from deepglass.models.functional import Functional
    from deepglass.models.sequential import Sequential
    if isinstance(layer, Functional):
        return {"input_shape": None}
    if isinstance(layer, Sequential):
        return {"input_shape": list(layer.input_shape)} if layer.inputs else None
    from deepglass.layers.layer import Layer
    # Keras records the shape only for layers that build something (Dropout and Flatten have nothing to build).
    if not layer.built or layer._build_shapes is None or type(layer).build is Layer.build:
        return None
    return {"input_shape": _shape_to_json(layer._build_shapes)}


def _shape_to_json(shapes):
    if isinstance(shapes, tuple) and all(d is None or isinstance(d, int) for d in shapes):
        return list(shapes)
    if isinstance(shapes, (list, tuple)):
        return [_shape_to_json(s) for s in shapes]
    if isinstance(shapes, dict):
        return {key: _shape_to_json(s) for key, s in shapes.items()}
    return shapes


def shape_from_json(value):
    """A shape from JSON: `[null, 3]` -> `(None, 3)`; lists of shapes stay lists (of tuples)."""
    if isinstance(value, list) and all(d is None or isinstance(d, int) for d in value):
        return tuple(value)
    if isinstance(value, list):
        return [shape_from_json(v) for v in value]
    if isinstance(value, dict):
        return {key: shape_from_json(v) for key, v in value.items()}
    return value


# --------------------------------------------------------------------------------------------------- deserialize
def deserialize_keras_object(config, custom_objects=None, safe_mode=True, kind=None):
    """Rebuild what `serialize_keras_object` wrote (or Keras 3 did).

    Only deepglass's classes and custom objects (from `custom_objects`, `custom_object_scope` or
    `register_serializable`) can be named; `safe_mode=False` allows Lambda layers, whose configs carry bytecode.
    `kind` (`"layers"`, `"losses"`, ...) says where to look when the config gives no module.
    """
    with registration.CustomObjectScope(custom_objects), SafeModeScope(safe_mode and global_config.in_safe_mode()):
        return deserialize_value(config, kind)


def deserialize_value(config, kind=None):
    """`deserialize_keras_object` within the current scopes (custom objects, safe mode)."""
    if isinstance(config, list):
        return [deserialize_value(item, kind) for item in config]
    if not isinstance(config, dict):
        return config
    class_name = config.get("class_name")
    if class_name == "__numpy__":
        return _numpy_from_config(config["config"])
    if class_name is None or "config" not in config:
        return {key: deserialize_value(value, kind) for key, value in config.items()}
    return build_object(config, kind)


def _numpy_from_config(config):
    dtype = np.dtype(config.get("dtype", "float32"))
    if dtype.kind not in "biuf":
        raise ValueError(f"Refusing an array of dtype {dtype} in a config: only numbers are accepted.")
    return np.asarray(config["value"], dtype=dtype)


def build_object(config, kind=None):
    """The object a `{"class_name", "config", ...}` dict describes (see the module docstring for where names are
    looked up)."""
    class_name = config["class_name"]
    if not isinstance(class_name, str):
        raise ValueError(f"Expected 'class_name' to be a string in a serialized object; received: {class_name!r}.")
    inner = config.get("config")
    if class_name == "function":
        return _resolve_function(inner, config.get("registered_name"), _kind(config.get("module"), None, kind))
    custom = registration.lookup(class_name, config.get("registered_name"))
    if custom is not None:
        obj = _from_config(custom, inner, config)
    else:
        obj = _build_builtin(class_name, inner, config, _kind(config.get("module"), class_name, kind))
    compile_config = config.get("compile_config")
    if compile_config and hasattr(obj, "compile"):
        from deepglass.saving.compile_config import compile_from_config
        compile_from_config(obj, compile_config)
    return obj


def _kind(module, class_name, default):
    """Which deepglass registry a Keras module name points to: the last of its parts that names one."""
    if class_name in _MODEL_CLASSES:
        return "models"
    known = [part for part in str(module or "").split(".") if part in _KERAS_MODULES or part == "models"]
    return known[-1] if known else default


def _build_builtin(class_name, inner, config, kind):
    if kind == "models":
        import deepglass.models
        cls = getattr(deepglass.models, class_name, None) if class_name in _MODEL_CLASSES else None
        if cls is None:
            raise ValueError(f"Unknown model class {class_name!r}: deepglass rebuilds Functional, Sequential and "
                             "Model configs, and custom classes passed in `custom_objects` or registered with "
                             "@deepglass.saving.register_serializable().")
        return _from_config(cls, inner, config)
    if kind == "layers":
        return _from_config(_builtin_layer_class(class_name), inner, config)
    if kind in _KERAS_MODULES:
        import importlib
        module = importlib.import_module(f"deepglass.{kind}")  # one of deepglass's own packages, never the file's
        return module.deserialize({"class_name": class_name, "config": _substitute_custom(inner)})
    raise ValueError(f"Unknown object {class_name!r} from module {config.get('module')!r}: it is not one of "
                     "deepglass's layers, models, optimizers, losses, metrics, initializers, regularizers, constraints "
                     "or schedules. Pass the class in `custom_objects` or register it with "
                     "@deepglass.saving.register_serializable(); files never choose modules to import.")


def _builtin_layer_class(class_name):
    from deepglass import layers, naming
    table = layers._registry.classes
    if class_name in table:
        return table[class_name]
    try:
        return naming.lookup("layer", class_name, dict(table))
    except ValueError as error:
        raise ValueError(f"{error} For a custom layer pass custom_objects={{{class_name!r}: cls}} or register it "
                         "with @deepglass.saving.register_serializable(); files never choose code to import.") from None


def _from_config(cls, inner, config):
    """`cls.from_config`, with Keras-only keys adapted, nested custom objects built, and the build replayed."""
    from deepglass.layers.layer import Layer
    if not inspect.isclass(cls):
        return cls  # a registered function or object named directly
    if issubclass(cls, Layer):
        inner = keras_config.normalize_layer_config(cls, dict(inner or {}))
        from deepglass.models.model import Model
        if not issubclass(cls, Model):
            inner = _substitute_custom(inner)
        obj = cls.from_config(inner)
        _replay_build(obj, config.get("build_config"))
        return obj
    if hasattr(cls, "from_config"):
        return cls.from_config(_substitute_custom(dict(inner or {})))
    return cls(**dict(inner or {}))


def _replay_build(layer, build_config):
    """Create a layer's weights from the input shape its config recorded, so that saved weights can be loaded."""
    if layer.built or not isinstance(build_config, dict) or build_config.get("input_shape") is None:
        return
    shape = shape_from_json(build_config["input_shape"])
    from deepglass.models.model import Model
    if isinstance(layer, Model):
        layer.build(shape)
    else:
        layer._maybe_build(shape)


def _substitute_custom(value):
    """Replace serialized custom objects nested in a config by the objects themselves, so that deepglass's own
    `from_config` methods (which know only built-in names) receive them ready made."""
    if isinstance(value, list):
        return [_substitute_custom(item) for item in value]
    if not isinstance(value, dict):
        return value
    class_name = value.get("class_name")
    if isinstance(class_name, str) and "config" in value:
        if class_name == "function":
            found = registration.lookup(value.get("config"), value.get("registered_name"))
            return found if found is not None else value
        custom = registration.lookup(class_name, value.get("registered_name"))
        if custom is not None:
            return build_object(value)
        return value
    return {key: _substitute_custom(item) for key, item in value.items()}


def _resolve_function(name, registered_name, kind):
    found = registration.lookup(name, registered_name)
    if found is not None:
        return found
    if kind in ("losses", "metrics", "activations") and isinstance(name, str):
        import importlib
        module = importlib.import_module(f"deepglass.{kind}")  # deepglass's own package
        return module.get(name)
    raise ValueError(f"Unknown function {name!r}: a config may name deepglass's losses, metrics and activations, or "
                     "functions passed in `custom_objects` or registered with "
                     "@deepglass.saving.register_serializable(); files never choose modules to import.")
