"""Optimizers with Keras's names, arguments and update rules, each driving a `torch.optim` optimizer.

Use one by name in `compile` (`optimizer="adam"`) or build it: `optimizers.Adam(learning_rate=1e-3)`. Learning-rate
schedules are in `optimizers.schedules`. `get`, `serialize` and `deserialize` turn names and configs into
optimizers and back.

Example:
    >>> from deepglass import optimizers
    >>> optimizer = optimizers.get("rmsprop")
    >>> optimizers.deserialize(optimizers.serialize(optimizer)).get_config() == optimizer.get_config()
    True
"""
import inspect

from deepglass.optimizers import schedules
from deepglass.optimizers.adam import Adam, Adamax, AdamW, Nadam
from deepglass.optimizers.adaptive import Adadelta, Adafactor, Adagrad, RMSprop
from deepglass.optimizers.ftrl import Ftrl, TorchFtrl
from deepglass.optimizers.lamb import Lamb, TorchLamb
from deepglass.optimizers.lion import Lion, TorchLion
from deepglass.optimizers.loss_scale_optimizer import LossScaleOptimizer
from deepglass.optimizers.muon import Muon, TorchMuonAdam
from deepglass.optimizers.optimizer import Optimizer
from deepglass.optimizers.sgd import SGD
from deepglass.serialization import Registry

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adadelta", "Adafactor",
           "Lion", "Lamb", "Muon", "Ftrl", "LossScaleOptimizer", "TorchLion", "TorchLamb", "TorchFtrl", "TorchMuonAdam",
           "schedules", "get", "serialize", "deserialize"]

_REGISTRY = Registry("optimizer", [SGD, Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad, Adadelta, Adafactor, Lion, Lamb,
                                   Muon, Ftrl, LossScaleOptimizer], aliases={"adamw": AdamW, "rmsprop": RMSprop})


def serialize(optimizer):
    """`{"class_name": ..., "config": ...}` of an optimizer.

    Example:
        >>> serialize(SGD(momentum=0.9))["config"]["momentum"]
        0.9
    """
    return _REGISTRY.serialize(optimizer)


def deserialize(config, custom_objects=None):
    """An optimizer from `serialize`'s dict (Keras's files load too) or from a name; `custom_objects` maps the class
    names of your own optimizers and schedules to their classes.

    Example:
        >>> deserialize({"class_name": "Adam", "config": {"learning_rate": 0.01}}).learning_rate
        0.01
    """
    if isinstance(config, str):
        return _REGISTRY.resolve(config)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected an optimizer name or a dict with keys 'class_name' and 'config'; "
                         f"received: {config!r}.")
    name = config["class_name"]
    cls = custom_objects[name] if custom_objects and name in custom_objects else _REGISTRY.resolve(name)
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from a name (`"adam"`), a config dict, a class or an instance (returned as is); None -> None.

    Example:
        >>> get("sgd").learning_rate
        0.01
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"Could not interpret optimizer identifier: expected None, a name such as 'adam', a config "
                     f"dict or an Optimizer; received: {identifier!r}.")
