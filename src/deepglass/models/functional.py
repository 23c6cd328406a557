"""Functional models: a graph of layer calls from `Input`s to outputs, run in topological order."""
import inspect

from deepglass.layers.core import InputLayer
from deepglass.layers.input_spec import check_model_input
from deepglass.layers.legacy import rename_legacy_kwargs
from deepglass.layers.layer import _checking
from deepglass.layers.symbolic import KerasTensor
from deepglass.models import channels_first
from deepglass.models.model import Model
from deepglass.utils import tree


class Functional(Model):
    """A model defined by its inputs and outputs: `Model(inputs, outputs)`.

    Arguments:
        inputs: a symbolic tensor from `Input`, or a list or dict of them.
        outputs: a symbolic tensor, or a list or dict of them, computed from `inputs` by calling layers.
        name: the model's name.
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        legacy = rename_legacy_kwargs("Model", kwargs, {"input": "inputs", "output": "outputs"})
        inputs, outputs = legacy.get("inputs", inputs), legacy.get("outputs", outputs)
        if inputs is None or outputs is None:
            raise TypeError("A functional Model needs inputs= and outputs=, e.g. Model(inputs, outputs).")
        super().__init__(name=name, trainable=trainable, **kwargs)
        for what, structure in (("inputs", inputs), ("outputs", outputs)):
            for tensor in tree.flatten(structure):
                if not isinstance(tensor, KerasTensor):
                    raise ValueError(f"Model {what} must be symbolic tensors from Input() and layer calls; got "
                                     f"{type(tensor).__name__}.")
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]  # as Keras: one output in a list is still a single-output model
        self._input_structure = inputs
        self._output_structure = outputs
        self.inputs = tree.flatten(inputs)
        self.outputs = tree.flatten(outputs)
        nodes = _nodes_in_order(self.inputs, self.outputs)
        self._register_layers(nodes)
        self._plan, self._output_slots, self._slot_count = _execution_plan(self.inputs, self.outputs, nodes)
        self._image_layers = channels_first.may_run(step.layer for step in self._plan)
        self.built = True
        self._refresh_plain_call()

    def _register_layers(self, nodes):
        unused = [t._keras_history[0] for t in self.inputs if t._keras_history[0] not in {n.layer for n in nodes}]
        ordered = list(dict.fromkeys(unused + [node.layer for node in nodes]))
        names = [layer.name for layer in ordered]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"All layer names in a model must be unique; {duplicates} appear more than once.")
        for layer in ordered:
            # Stored straight in _modules: a layer may be called "output" or "summary" without hiding the model's
            # attribute of that name; state_dict keys are the layer names.
            self._modules[layer.name.replace(".", "_")] = layer

    @property
    def input_names(self):
        return [t._keras_history[0].name for t in self.inputs]

    @property
    def output_names(self):
        return [t._keras_history[0].name for t in self.outputs]

    @property
    def input(self):
        return self._input_structure

    @property
    def output(self):
        return self._output_structure

    @property
    def input_shape(self):
        return tree.map_structure(lambda t: t.shape, self._input_structure)

    @property
    def output_shape(self):
        return tree.map_structure(lambda t: t.shape, self._output_structure)

    def call(self, inputs, training=None):
        values = [None] * self._slot_count
        for slot, value in enumerate(self._flatten_inputs(inputs)):
            values[slot] = value
        if _checking[0]:
            self._check_inputs(values)
        if self._image_layers and channels_first.enabled():
            outputs = channels_first.run_plan(self._plan, values, self._output_slots, training, _run_step)
        else:
            for step in self._plan:
                _run_step(step, values, training)
                for slot in step.done_slots:
                    values[slot] = None
            outputs = [values[s] for s in self._output_slots]
        return tree.pack_like(self._output_structure, outputs)

    def _flatten_inputs(self, inputs):
        if isinstance(inputs, dict):  # by the keys the model was built with, else by its input layers' names
            by_key = isinstance(self._input_structure, dict)
            expected = list(self._input_structure) if by_key else self.input_names
            missing = [name for name in expected if name not in inputs]
            if missing:
                raise ValueError(f'Model "{self.name}" expects inputs named {expected}; the dict given lacks '
                                 f"{missing}.")
            if not by_key:
                return [inputs[name] for name in expected]
        flat = tree.flatten_like(self._input_structure, inputs)
        if len(flat) != len(self.inputs):
            raise ValueError(f'Model "{self.name}" expects {len(self.inputs)} input(s) {self.input_names}; got '
                             f"{len(flat)}.")
        return flat

    def _check_inputs(self, values):
        for tensor, value in zip(self.inputs, values):
            who = f'Model "{self.name}" (input "{tensor._keras_history[0].name}")'
            check_model_input(who, tensor.shape, value.shape)

    def compute_output_spec(self, *args, **kwargs):
        return tree.map_structure(lambda t: KerasTensor(t.shape, t.dtype), self._output_structure)

    def get_config(self):
        """Keras 3's functional config: the layers (in Keras's order) with the calls that connect them, and the
        model's input and output layers; `Functional.from_config` rebuilds the same graph."""
        from deepglass.saving.functional_config import functional_get_config
        return functional_get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from deepglass.saving.functional_config import functional_from_config
        from deepglass.saving.registration import CustomObjectScope
        with CustomObjectScope(custom_objects):
            return functional_from_config(cls, config)


class _Slot:
    """Where a symbolic tensor's value lives while the graph runs."""
    __slots__ = ("slot",)

    def __init__(self, slot):
        self.slot = slot


class _Step:
    """One layer call of the plan: `slot` is set when the call takes a single tensor and nothing else;
    `tensor_slots` when it takes that or a single list of tensors (the slots); `in_slots`: every slot it reads;
    `done_slots`: the slots no later step reads and the model does not return, let go once this step has run."""
    __slots__ = ("layer", "slot", "args", "kwargs", "out_slots", "takes_training", "tensor_slots", "in_slots",
                 "done_slots")

    def __init__(self, layer, slot, args, kwargs, out_slots, takes_training):
        self.layer, self.slot, self.args, self.kwargs = layer, slot, args, kwargs
        self.out_slots, self.takes_training = out_slots, takes_training
        self.in_slots = [leaf.slot for leaf in tree.flatten([args, kwargs]) if type(leaf) is _Slot]
        one_list = len(args) == 1 and type(args[0]) is list and not kwargs and args[0] and \
            all(type(leaf) is _Slot for leaf in args[0])
        self.tensor_slots = (slot,) if slot is not None else tuple(self.in_slots) if one_list else None
        self.done_slots = ()


def _run_step(step, values, training):
    """Call the step's layer on its inputs (Keras's layout) and store its outputs."""
    extra = {"training": training} if training is not None and step.takes_training else {}
    if step.slot is not None:  # the common case: one symbolic positional argument, no keywords
        result = step.layer(values[step.slot], **extra)
    else:
        fill = lambda leaf: values[leaf.slot] if type(leaf) is _Slot else leaf  # noqa: E731
        kwargs = {**extra, **tree.map_structure(fill, step.kwargs)}
        result = step.layer(*tree.map_structure(fill, step.args), **kwargs)
    if len(step.out_slots) == 1:
        values[step.out_slots[0]] = result
    else:
        for slot, value in zip(step.out_slots, tree.flatten(result)):
            values[slot] = value


def _nodes_in_order(inputs, outputs):
    """The nodes between inputs and outputs, parents before children, deepest first as Keras orders layers."""
    input_ids = {id(t) for t in inputs}
    depth, order, visiting = {}, [], set()

    def visit(tensor, level):
        layer, index, _ = tensor._keras_history
        node = layer._inbound_nodes[index]
        if id(tensor) in input_ids:
            if depth.get(id(node), -1) < level:
                depth[id(node)] = level
            if node not in order:
                order.append(node)
            return
        if isinstance(layer, InputLayer):
            raise ValueError(f"Graph disconnected: the output depends on input {tensor.name!r}, which is not among "
                             f"the model's inputs {[t.name for t in inputs]}.")
        if id(node) in visiting:
            raise ValueError("The layer graph has a cycle.")
        if depth.get(id(node), -1) >= level:
            return
        depth[id(node)] = level
        visiting.add(id(node))
        for parent in node.input_tensors:
            visit(parent, level + 1)
        visiting.discard(id(node))
        if node not in order:
            order.append(node)

    for output in outputs:
        if output._keras_history is None:
            raise ValueError(f"Model output {output!r} was not produced by a layer call on an Input.")
        visit(output, 0)
    position = {id(node): i for i, node in enumerate(order)}
    return sorted(order, key=lambda node: (-depth[id(node)], position[id(node)]))


def _execution_plan(inputs, outputs, nodes):
    slots = {id(t): i for i, t in enumerate(inputs)}
    plan = []
    for node in nodes:
        if isinstance(node.layer, InputLayer):
            continue
        as_slot = lambda leaf: _Slot(slots[id(leaf)]) if type(leaf) is KerasTensor else leaf  # noqa: E731
        args, kwargs = node.call_args, node.call_kwargs
        single = len(args) == 1 and type(args[0]) is KerasTensor and not kwargs
        step = _Step(node.layer, slots[id(args[0])] if single else None, tree.map_structure(as_slot, list(args)),
                     tree.map_structure(as_slot, dict(kwargs)), [], _accepts_training(node.layer, kwargs))
        for tensor in node.output_tensors:
            slots[id(tensor)] = len(slots)
            step.out_slots.append(slots[id(tensor)])
        plan.append(step)
    output_slots = [slots[id(t)] for t in outputs]
    _mark_last_uses(plan, output_slots)
    return plan, output_slots, len(slots)


def _mark_last_uses(plan, output_slots):
    """Set each step's `done_slots`. Without them a call would hold every intermediate value to its end, as torch
    code that keeps its activations in local variables would not: at the end of a ResNet's forward pass, each batch
    normalisation's and each residual sum's output (which no backward pass needs) would still be alive."""
    last_step = {}
    for index, step in enumerate(plan):
        for slot in (*step.out_slots, *step.in_slots):  # a value no step reads goes as soon as it is made
            last_step[slot] = index
    kept = set(output_slots)
    for slot, index in last_step.items():
        if slot not in kept:
            plan[index].done_slots += (slot,)


def _accepts_training(layer, recorded_kwargs):
    """Whether to pass the model's `training` flag on: the layer takes one, and the call did not fix it."""
    if "training" in recorded_kwargs:
        return False
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False
