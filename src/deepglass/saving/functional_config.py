"""Functional models as Keras 3 configs, and back.

The config lists the layers in Keras's order (deepest first, ties in the order a walk from the outputs meets them),
each with the calls (`inbound_nodes`) that connect it: the arguments, where symbolic tensors are
`{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history": [layer, node, index]}}`.
`input_layers` / `output_layers` name the model's inputs and outputs the same way. Keras's order matters beyond
the config: weight files address layers by their position in it.
"""
import collections

from deepglass.layers.core import InputLayer
from deepglass.layers.symbolic import KerasTensor
from deepglass.saving import serialization
from deepglass.utils import tree


# ------------------------------------------------------------------------------------------------- graph order
def keras_graph(inputs, outputs):
    """`(nodes, layers)`: the set of nodes between `inputs` and `outputs`, and the layers in Keras's order."""
    ordered_nodes, first_seen = _walk_back(inputs, outputs)
    in_graph = set(ordered_nodes)
    node_depth, layer_depth = {}, {}
    for node in reversed(ordered_nodes):
        depth = max(node_depth.setdefault(node, 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = node_depth[node] = depth
        for parent in node.parent_nodes:
            if parent in in_graph:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for tensor in inputs:  # inputs that no output depends on are still part of the model
        layer = tensor._keras_history[0]
        node = layer._inbound_nodes[tensor._keras_history[1]]
        if layer not in layer_depth and isinstance(layer, InputLayer):
            layer_depth[layer], first_seen[layer] = 0, -1
            in_graph.add(node)
    by_depth = collections.defaultdict(list)
    for layer, depth in layer_depth.items():
        by_depth[depth].append(layer)
    layers = []
    for depth in sorted(by_depth, reverse=True):
        layers += sorted(by_depth[depth], key=lambda layer: first_seen[layer])
    return in_graph, layers


def _walk_back(inputs, outputs):
    """Nodes in the order a depth-first walk from the outputs finishes them, and each layer's first-visit index."""
    input_ids = {id(t) for t in inputs}
    finished, in_progress, ordered, first_seen = set(), set(), [], {}

    def visit(tensor):
        layer, index, _ = tensor._keras_history
        node = layer._inbound_nodes[index]
        if node in finished:
            return
        is_input = isinstance(layer, InputLayer)
        if not is_input and id(tensor) in input_ids:
            finished.add(node)
            return
        if node in in_progress:
            raise ValueError(f"The layer graph has a cycle through layer {layer.name!r}.")
        first_seen.setdefault(layer, len(first_seen))
        in_progress.add(node)
        if not is_input:
            for parent in node.input_tensors:
                visit(parent)
        finished.add(node)
        in_progress.discard(node)
        ordered.append(node)

    for output in tree.flatten(outputs):
        visit(output)
    return ordered, first_seen


def model_layers(model):
    """A functional model's layers in Keras's order (the order of its config and of its weight file)."""
    return keras_graph(model.inputs, model.outputs)[1]


# ---------------------------------------------------------------------------------------------------- get_config
def functional_get_config(model):
    """Keras 3's config of a functional model: name, trainable, layers with their calls, input and output layers."""
    nodes, layers = keras_graph(model.inputs, model.outputs)
    entries = []
    for layer in layers:
        entry = serialization.serialize_keras_object(layer)
        entry["name"] = layer.name
        calls = [_serialize_node(node, nodes) for node in layer._inbound_nodes if node in nodes]
        entry["inbound_nodes"] = [call for call in calls if call is not None]
        entries.append(entry)

    def reference(tensor):
        layer, index, position = tensor._keras_history
        kept = [node for node in layer._inbound_nodes if node in nodes]
        # Keras counts a functional model's own construction as its node 0 here (and only here).
        offset = 1 if _is_functional(layer) else 0
        return [layer.name, kept.index(layer._inbound_nodes[index]) + offset, position]

    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": tree.map_structure(reference, model.input),
            "output_layers": tree.map_structure(reference, model.output)}


def _is_functional(layer):
    from deepglass.models.functional import Functional
    return isinstance(layer, Functional)


def _serialize_node(node, nodes):
    if not node.input_tensors:
        return None

    def encode(value):
        if type(value) is KerasTensor:
            layer, index, position = value._keras_history
            skipped = sum(1 for other in layer._inbound_nodes[:index] if other not in nodes)
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                               "keras_history": [layer.name, index - skipped, position]}}
        if isinstance(value, (list, tuple)):
            return [encode(item) for item in value]
        if isinstance(value, dict):
            return {key: encode(item) for key, item in value.items()}
        return serialization.serialize_keras_object(value)

    kwargs = dict(node.call_kwargs)
    from deepglass.models.model import Model
    if isinstance(node.layer, Model):
        kwargs.setdefault("mask", None)  # Keras records it on calls of nested models
    return {"args": encode(list(node.call_args)), "kwargs": encode(kwargs)}


# --------------------------------------------------------------------------------------------------- from_config
def functional_from_config(cls, config, make_layer=None, input_tensors=None):
    """Rebuild a functional model (of class `cls`) from its Keras 3 config (or a Keras 2 one).

    `make_layer(entry)` builds each layer from its entry (by default through the safe deserializer);
    `input_tensors` maps input layer names to tensors that replace them (see `clone_model`).
    """
    make_layer = make_layer or _deserialize_layer
    created, pending = {}, {}
    for entry in _entries(config):
        name = entry["name"]
        if input_tensors and name in input_tensors:
            created[name] = input_tensors[name]._keras_history[0]
            continue
        created[name] = make_layer(entry)
        calls = entry.get("inbound_nodes") or []
        if calls:
            pending[name] = list(calls)
    while pending:
        progressed = False
        for name in list(pending):
            calls = pending[name]
            while calls:
                try:
                    args, kwargs = _decode_call(calls[0], created)
                except IndexError:
                    break
                created[name](*args, **kwargs)
                calls.pop(0)
                progressed = True
            if not calls:
                del pending[name]
        if not progressed:
            raise ValueError(f"Invalid functional model config: the calls of layers {sorted(pending)} refer to nodes "
                             "that never exist (a loop or a disconnected graph).")

    def tensor(ref):
        name, index, position = ref
        layer = _created(created, name)
        if _is_functional(layer):
            index -= 1  # see `functional_get_config`
        nodes = layer._inbound_nodes
        if not 0 <= index < len(nodes) or not 0 <= position < len(nodes[index].output_tensors):
            raise ValueError(f"Invalid functional model config: layer {name!r} has no node {index} output "
                             f"{position}.")
        return nodes[index].output_tensors[position]

    inputs = _map_references(tensor, config["input_layers"])
    outputs = _map_references(tensor, config["output_layers"])
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))


def _entries(config):
    entries = config.get("layers")
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                for e in entries):
        raise ValueError("Invalid functional model config: 'layers' must be a list of layer entries, each with a "
                         "'name'.")
    names = [entry["name"] for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"Invalid functional model config: layer names {duplicates} appear more than once.")
    return entries


def _deserialize_layer(entry):
    config = {key: value for key, value in entry.items() if key not in ("name", "inbound_nodes")}
    layer = serialization.build_object(config, kind="layers")
    from deepglass.layers.layer import Layer
    if not isinstance(layer, Layer):
        raise ValueError(f"Layer entry {entry['name']!r} built a {type(layer).__name__}, not a layer.")
    return layer


def _created(created, name):
    if name not in created:
        raise ValueError(f"Invalid functional model config: it refers to a layer {name!r} that it does not define.")
    return created[name]


def _node_output(created, name, index, position):
    layer = _created(created, name)
    if not isinstance(index, int) or not isinstance(position, int) or index < 0:
        raise ValueError(f"Invalid functional model config: bad node reference {[name, index, position]!r}.")
    if index >= len(layer._inbound_nodes):
        raise IndexError(index)  # the node is made by a call not yet replayed
    outputs = layer._inbound_nodes[index].output_tensors
    if not 0 <= position < len(outputs):
        raise ValueError(f"Invalid functional model config: layer {name!r} node {index} has no output {position}.")
    return outputs[position]


def _decode_call(call, created):
    """`(args, kwargs)` of a recorded call; IndexError when an input comes from a call not replayed yet."""
    if isinstance(call, list):  # Keras 2: [[layer, node, index, kwargs], ...] for the tensors of one call
        tensors, kwargs = [], {}
        for item in call:
            if not isinstance(item, list) or len(item) not in (3, 4):
                raise ValueError(f"Invalid functional model config: bad Keras 2 node entry {item!r}.")
            tensors.append(_node_output(created, *item[:3]))
            kwargs = item[3] if len(item) == 4 else kwargs
        return [tensors[0] if len(tensors) == 1 else tensors], dict(kwargs or {})
    if not isinstance(call, dict):
        raise ValueError(f"Invalid functional model config: bad node entry {call!r}.")

    def decode(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history")
            if not isinstance(history, list) or len(history) != 3:
                raise ValueError(f"Invalid functional model config: bad tensor reference {value!r}.")
            return _node_output(created, *history)
        if isinstance(value, list):
            return [decode(item) for item in value]
        if isinstance(value, dict) and "class_name" not in value:
            return {key: decode(item) for key, item in value.items()}
        return serialization.deserialize_value(value)

    args = decode(call.get("args") or [])
    kwargs = decode(call.get("kwargs") or {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError(f"Invalid functional model config: bad call arguments {call!r}.")
    if "mask" in kwargs and kwargs["mask"] is None:
        del kwargs["mask"]  # Keras records mask=None on calls of nested models, which take no mask here
    return args, kwargs


def _map_references(fn, structure):
    if isinstance(structure, list) and len(structure) == 3 and isinstance(structure[0], str):
        return fn(structure)
    if isinstance(structure, dict):
        return {key: _map_references(fn, value) for key, value in structure.items()}
    if isinstance(structure, list):
        return [_map_references(fn, value) for value in structure]
    raise ValueError(f"Invalid functional model config: bad input or output reference {structure!r}.")
