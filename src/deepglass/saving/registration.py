"""Custom objects: the only names, besides deepglass's own, that a saved config may ask for.

`@register_serializable(package="my_package")` records a class or function under `"my_package>Name"`;
`custom_objects={"Name": cls}` (an argument of `load_model`) and `with custom_object_scope({...})` add names for one
load. Loading looks a name up in these tables and in deepglass's registries, and nowhere else: it never imports a
module that a file names.
"""
import inspect

_REGISTERED = {}  # "package>name" -> object
_REGISTERED_NAMES = {}  # object -> "package>name"
_scopes = [{}]  # the custom objects of the innermost `custom_object_scope`


def register_serializable(package="Custom", name=None):
    """Decorator recording a class or function so that saved configs can name it: under `"package>name"`.

    Classes need a `get_config()` (and `from_config` if their constructor does not take the config's keys).

    Example:
        >>> @deepglass.saving.register_serializable(package="my_layers")
        ... class Scale(deepglass.layers.Layer):
        ...     def call(self, x):
        ...         return 2 * x
        >>> deepglass.saving.get_registered_name(Scale)
        'my_layers>Scale'
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"Expected `package` to be a string without '>'; received: package={package!r}.")

    def decorator(obj):
        key = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: a class needs a get_config() method to be saved.")
        _REGISTERED[key] = obj
        _REGISTERED_NAMES[obj] = key
        return obj

    return decorator


register_keras_serializable = register_serializable


def get_registered_name(obj):
    """The name `obj` is saved under: `"package>name"` when registered, else its `__name__`."""
    return _REGISTERED_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object saved under `name`, from (in order) the active scope, the registered objects, `custom_objects`
    and `module_objects`; None if none has it."""
    for table in (_scopes[-1], _REGISTERED, custom_objects or {}, module_objects or {}):
        if name in table:
            return table[name]
    return None


def get_custom_objects():
    """The live dict of registered objects (`"package>name"` -> object); adding to it registers an object."""
    return _REGISTERED


class CustomObjectScope:
    """Within `with CustomObjectScope({"Name": obj, ...}):`, loading resolves these names too.

    Example:
        >>> with deepglass.saving.custom_object_scope({"Scale": Scale}):
        ...     model = deepglass.saving.load_model("model.keras")
    """

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            self.custom_objects.update(objects or {})

    def __enter__(self):
        _scopes.append({**_scopes[-1], **self.custom_objects})
        return self

    def __exit__(self, *exc):
        _scopes.pop()


custom_object_scope = CustomObjectScope


def lookup(class_name, registered_name=None, custom_objects=None):
    """The custom object a config names (by registered name first, then class name), or None.

    A bare name also finds the one object registered under `"<any package>>name"`: deepglass's own configs name
    custom activations by their function name alone.
    """
    for key in (registered_name, class_name):
        if isinstance(key, str) and key:
            found = get_registered_object(key, custom_objects)
            if found is not None:
                return found
    if isinstance(class_name, str) and ">" not in class_name:
        matches = [obj for key, obj in _REGISTERED.items() if key.split(">", 1)[1] == class_name]
        if len(matches) == 1:
            return matches[0]
    return None
