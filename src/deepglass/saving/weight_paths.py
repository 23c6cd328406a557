"""Where each layer's weights live in a Keras 3 weights file, and in which order.

Keras addresses a layer by the path its model walk reaches it on, not by its name (names change between two
builds of the same model): the model's own variables are at `vars`, a functional or Sequential model's layers at
`layers/<class name in snake case, numbered>` in the model's layer order, a layer held in an attribute at
`<attribute>`. Under each path, `vars/0`, `vars/1`, ... are the layer's own weights in Keras's layout, those created
trainable first.
"""
import torch
from torch import nn

from deepglass import naming
from deepglass.layers.layer import _inverse, _keras_shape as keras_shape
from deepglass.saving.serialization import keras_class_name


class Entry:
    """One object of the walk: its path, the layer, and its own weights as (owner, attribute, layout) triples."""
    __slots__ = ("path", "layer", "triples")

    def __init__(self, path, layer, triples):
        self.path, self.layer, self.triples = path, layer, triples

    @property
    def group(self):
        """The HDF5 group of the weights: `<path>/vars`, or `vars` for the model itself."""
        return f"{self.path}/vars" if self.path else "vars"

    def keras_shapes(self):
        return [keras_shape(getattr(owner, name), layout) for owner, name, layout in self.triples]


def entries(model):
    """The walk of `model` as Keras does it: a list of `Entry`, each layer once (where the walk first meets it)."""
    result, visited = [], set()
    _visit(model, "", result, visited)
    return result


def _visit(layer, path, result, visited):
    if id(layer) in visited:
        return
    visited.add(id(layer))
    result.append(Entry(path, layer, _own_triples(layer)))
    for attribute, child in _children(layer):
        child_path = f"{path}/{attribute}" if path else attribute
        if isinstance(child, list):
            _visit_container(child, child_path, result, visited)
        else:
            _visit(child, child_path, result, visited)


def _visit_container(items, path, result, visited):
    used = {}
    for item in items:
        base = naming.to_snake_case(keras_class_name(type(item)))
        used[base] = used.get(base, -1) + 1
        name = base if used[base] == 0 else f"{base}_{used[base]}"
        _visit(item, f"{path}/{name}", result, visited)


def _children(layer):
    """(attribute, layer or list of layers) pairs in Keras's visiting order."""
    from deepglass.layers.layer import Layer
    from deepglass.models.functional import Functional
    from deepglass.models.sequential import Sequential
    from deepglass.saving.functional_config import model_layers
    if isinstance(layer, Functional):
        return [("layers", model_layers(layer))]
    if isinstance(layer, Sequential):
        return [("layers", layer.layers)]
    named = {}
    for attribute, child in layer._modules.items():
        if isinstance(child, Layer):
            named[attribute] = child
        elif isinstance(child, (nn.ModuleList, nn.ModuleDict)) and _holds_layers(child):
            named[attribute] = [m for m in (child.values() if isinstance(child, nn.ModuleDict) else child)]
    from deepglass.models.model import Model
    if isinstance(layer, Model) and named:
        named["layers"] = [m for m in layer.layers]
    return [(attribute, named[attribute]) for attribute in sorted(named, key=_private_last)]


def _holds_layers(container):
    from deepglass.layers.layer import Layer
    items = container.values() if isinstance(container, nn.ModuleDict) else container
    return all(isinstance(m, Layer) for m in items)


def _private_last(attribute):
    return f"~{attribute}" if attribute.startswith("_") else attribute


def _own_triples(layer):
    """The layer's own weights (not its sublayers'), as `get_weights` orders them, plus plain torch modules'."""
    from deepglass.layers.layer import Layer, module_entries
    triples = list(layer._own_entries(None))
    if type(layer)._own_entries is not Layer._own_entries:
        return triples  # a wrapper (TorchModuleWrapper) already lists its module's weights
    for child in layer._modules.values():
        if child is not None and not isinstance(child, Layer) and not (
                isinstance(child, (nn.ModuleList, nn.ModuleDict)) and _holds_layers(child)):
            triples += module_entries(child)
    return triples


def keras_value(owner, name, layout):
    """A weight in Keras's layout, as a detached CPU tensor."""
    value = getattr(owner, name).detach()
    if layout is not None:
        value = value.permute(_inverse(layout))
    return value.cpu().contiguous()


@torch.no_grad()
def assign(owner, name, layout, value):
    """Copy `value` (a tensor in Keras's layout) into the weight, cast to its dtype and device."""
    target = getattr(owner, name)
    value = value.to(dtype=target.dtype, device=target.device)
    target.copy_(value.permute(layout) if layout is not None else value)
