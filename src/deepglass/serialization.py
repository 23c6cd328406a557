"""Configurable objects by name: the `get` / `serialize` / `deserialize` triple shared by initializers,
regularizers and constraints.

A serialized object is `{"class_name": "Name", "config": {...}}`; Keras's extra keys (`module`,
`registered_name`) are accepted and ignored, so configs written by Keras load too. Only classes in the
registry's table can be built, so a config read from a file never names code to run.
"""
import inspect

from deepglass import naming


class Configurable:
    """Base of objects rebuilt from their config: `type(obj).from_config(obj.get_config())` is a copy of `obj`.

    Example:
        >>> class Scale(Configurable):
        ...     def __init__(self, factor=1.0):
        ...         self.factor = factor
        ...     def get_config(self):
        ...         return {"factor": self.factor}
        >>> Scale.from_config(Scale(2.0).get_config())
        Scale(factor=2.0)
    """

    def get_config(self):
        """The constructor arguments as JSON-safe values."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Build the object from the dict `get_config()` returned."""
        return cls(**config)

    def __repr__(self):
        try:
            config = self.get_config()
        except NotImplementedError:
            config = {}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in config.items())})"


class Registry:
    """Look up the classes of one kind by class name (`"GlorotUniform"`) or snake-case name (`"glorot_uniform"`).

    Arguments:
        kind: what the objects are, for error messages (`"initializer"`).
        classes: the classes; each is found by its class name and by its snake-case name.
        aliases: extra names, `{"uniform": RandomUniform, "OrthogonalInitializer": Orthogonal}`; lower-case
            ones match in any case and are listed in errors, the others match exactly, as class names do.

    Example:
        >>> registry = Registry("constraint", [MaxNorm, NonNeg], {"nonneg": NonNeg})
        >>> registry.get("max_norm")
        MaxNorm(max_value=2, axis=0)
    """

    def __init__(self, kind, classes, aliases=None):
        self.kind = kind
        self.classes = {cls.__name__: cls for cls in classes}
        self.names = {naming.to_snake_case(cls.__name__): cls for cls in classes}
        for name, cls in (aliases or {}).items():
            (self.names if name == name.lower() else self.classes)[name] = cls

    def resolve(self, name, custom_objects=None):
        """The class called `name` (in `custom_objects` first); a ValueError naming the closest valid name otherwise."""
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        if name in self.classes:
            return self.classes[name]
        return naming.lookup(self.kind, name, self.names)

    def serialize(self, obj):
        """`{"class_name": ..., "config": obj.get_config()}`."""
        if not hasattr(obj, "get_config"):
            raise ValueError(
                f"Expected a {self.kind} object with a `get_config()` method to serialize; received: {obj!r}. "
                f"Pass a {self.kind} class instance or a name such as {sorted(self.names)[0]!r}."
            )
        return {"class_name": type(obj).__name__, "config": obj.get_config()}

    def deserialize(self, config, custom_objects=None):
        """Build an object from a name or from a `{"class_name": ..., "config": ...}` dict; `custom_objects` maps
        further names to classes."""
        if isinstance(config, str):
            return self.resolve(config, custom_objects)()
        if not isinstance(config, dict) or "class_name" not in config:
            raise ValueError(
                f"Expected a {self.kind} name or a dict with keys 'class_name' and 'config'; received: {config!r}."
            )
        return self.resolve(config["class_name"], custom_objects).from_config(dict(config.get("config") or {}))

    def get(self, identifier):
        """None -> None; a name or config dict -> a new object; a class -> an instance; a callable -> itself."""
        if identifier is None:
            return None
        if isinstance(identifier, (str, dict)):
            return self.deserialize(identifier)
        if inspect.isclass(identifier):
            return identifier()
        if callable(identifier):
            return identifier
        raise ValueError(
            f"Could not interpret {self.kind} identifier: expected None, a name, a config dict or a callable; "
            f"received: {identifier!r}."
        )
