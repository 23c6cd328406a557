"""Symbolic tensors and the nodes that connect them: the graph a functional model is made of."""
import torch

from deepglass.utils import tree


class KerasTensor:
    """A placeholder with a shape and a dtype, but no values, flowing through layers to define a model.

    `shape` is a tuple whose first entry (the batch) is usually `None`. `_keras_history` records the layer,
    node and output index that produced it, so a functional model can walk back from its outputs.
    """

    def __init__(self, shape, dtype=torch.float32, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self._keras_history = None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        dtype = str(self.dtype).replace("torch.", "")
        return f"<KerasTensor shape={self.shape}, dtype={dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError("A symbolic tensor has no length; use `.shape` to read its dimensions.")

    def __bool__(self):
        raise TypeError("A symbolic tensor has no truth value: it holds no data until the model runs.")

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "A symbolic tensor (from Input or a layer applied to one) cannot be turned into an array: it holds no "
            "data. Build a Model(inputs, outputs) and call model.predict(x) to get values."
        )


def is_symbolic(structure):
    """True when any leaf of `structure` is a KerasTensor."""
    if type(structure) is KerasTensor:
        return True
    if isinstance(structure, (list, tuple, dict)):
        return any(type(leaf) is KerasTensor for leaf in tree.flatten(structure))
    return False


class Node:
    """One call of a layer on symbolic inputs: the layer, the arguments it was given, and the outputs it made."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in tree.flatten((call_args, call_kwargs)) if type(t) is KerasTensor]
        self.output_tensors = tree.flatten(outputs)
        index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for position, tensor in enumerate(self.output_tensors):
            tensor._keras_history = (layer, index, position)

    @property
    def parent_nodes(self):
        """The nodes that produced this node's inputs."""
        nodes = []
        for tensor in self.input_tensors:
            layer, index, _ = tensor._keras_history
            nodes.append(layer._inbound_nodes[index])
        return nodes
