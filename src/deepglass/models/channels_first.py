"""How models run their image layers on channels-first views, with no change of layout between them.

Keras layers take images channels-last, `(batch, *spatial, channels)`; torch's convolution, batch-normalisation and
pooling kernels take them channels-first, `(batch, channels, *spatial)`. Called alone, each such layer views its
input in torch's order and its output back in Keras's: two permutes in the forward pass and two in the backward,
a few microseconds each, which is what a small network's step on a GPU is made of. Inside a model those views
cancel from one image layer to the next, so Sequential and functional models keep a value channels-first from the
image layer that made it to the next layer that needs Keras's layout (or to the model's output), and the layers
that can follow either layout (activations, dropout, Add, Concatenate) take their inputs as they come. Both layouts
are views of the same memory, so the values, and every gradient, are the same either way.

Layers declare what they can do with `Layer._channels_first_mode()`. One runs this way only where nothing could
tell the difference: no hooks on it (they would see channels-first tensors; Monitor and the feature-map tools use
hooks), no masks, no dtype policy of its own, and no model does it while checking its first batch, while the JIT
tracer records it, or while torch's global module hooks are set. torch.compile records it too: traced in Keras's
layout, a model's graph permutes every image between the layers and inductor's CPU kernels for the permuted batch
normalisation and activations took twice the eager step of a ResNet-8.
"""
import torch

from deepglass.layers.convolutional import from_torch_layout, to_torch_layout
from deepglass.layers.layer import Layer, _checking, global_hooks_set, hooked, plain_input


def may_run(layers):
    """Whether any of `layers` can run channels-first (a model with none keeps its plain loop)."""
    return any(type(layer)._channels_first_mode is not Layer._channels_first_mode for layer in layers)


def enabled():
    """Whether this call of a model may run layers channels-first."""
    return not (_checking[0] or torch._C._get_tracing_state() or global_hooks_set())


def run_sequence(layers, takes_training, x, training):
    """A Sequential model's call: `x` through `layers`, each taking `training` where `takes_training` says so."""
    first = None  # the value channels-first, while `x` is None
    for layer, takes in zip(layers, takes_training):
        how = _mode(layer)
        given = x if first is None else first
        if (how == "follow" and first is not None) or (how == "image" and _accepts(layer, given)):
            y = layer._call_channels_first(_channels_first(x) if first is None else first, training)
            x, first = (y, None) if y.dim() <= 2 else (None, y)
        else:
            if first is not None:
                x, first = _channels_last(first), None
            x = layer(x, training=training) if takes and training is not None else layer(x)
    return x if first is None else _channels_last(first)


def run_plan(plan, values, output_slots, training, run_step):
    """A functional model's call: the steps of `plan` on `values` (Keras-layout values by slot, the inputs filled
    in), each run by `run_step(step, values, training)` unless it runs channels-first; returns the outputs' values."""
    firsts = [None] * len(values)  # values channels-first, by slot (either list may hold a slot's value, or both)
    outputs = set(output_slots)
    for step in plan:
        if not _ran_channels_first(step, values, firsts, training, outputs):
            _in_keras_layout(step.in_slots, values, firsts)
            run_step(step, values, training)
        for slot in step.done_slots:
            values[slot] = firsts[slot] = None
    _in_keras_layout(output_slots, values, firsts)
    return [values[slot] for slot in output_slots]


def _ran_channels_first(step, values, firsts, training, outputs):
    if step.slot is not None:
        inputs = _single_input(step, values, firsts)
    elif step.tensor_slots is not None:
        inputs = _list_input(step, values, firsts)
    else:
        return False
    if inputs is None:
        return False
    y = step.layer._call_channels_first(inputs, training)
    slot = step.out_slots[0]
    if y.dim() <= 2:  # (batch, features) is the same in both layouts
        values[slot] = y
    elif slot in outputs:
        # A model output: later layers take it, or a view of it, so that gradients with respect to it exist (as
        # Grad-CAM asks for the gradient of the predictions with respect to a feature map output next to them).
        values[slot] = _channels_last(y)
    else:
        firsts[slot] = y
    return True


def _single_input(step, values, firsts):
    """The step's input channels-first, or None where the layer is to run on Keras's layout."""
    how, x = _mode(step.layer), firsts[step.slot]
    if x is not None:
        return x if how == "follow" or (how == "image" and _accepts(step.layer, x)) else None
    x = values[step.slot]
    if how != "image" or not _accepts(step.layer, x):  # a "follow" layer given a Keras-layout value keeps it
        return None
    return _cache_channels_first(step.slot, x, firsts)


def _list_input(step, values, firsts):
    """A "follow" layer's inputs (a list) channels-first, or None: they must share a rank and one be channels-first
    already."""
    slots = step.tensor_slots
    given = [values[s] if firsts[s] is None else firsts[s] for s in slots]
    if (_mode(step.layer) != "follow" or all(firsts[s] is None for s in slots) or len({x.dim() for x in given}) > 1
            or not all(firsts[s] is not None or _accepts(step.layer, x) for s, x in zip(slots, given))):
        return None
    return [x if firsts[s] is not None else _cache_channels_first(s, x, firsts) for s, x in zip(slots, given)]


def _cache_channels_first(slot, x, firsts):
    x = _channels_first(x)
    if x.dim() > 2:
        firsts[slot] = x
    return x


def _in_keras_layout(slots, values, firsts):
    for slot in slots:
        if values[slot] is None and firsts[slot] is not None:
            values[slot] = _channels_last(firsts[slot])


def _mode(layer):
    """How `layer` may run now: "image", "follow" or None (on Keras's layout, through its own call)."""
    cls = type(layer)
    if (hooked(layer) or not layer._plain_call or "forward" in layer.__dict__ or
            (cls.forward is not cls.call and cls.forward is not Layer.forward)):  # a forward of its own
        return None
    return layer._channels_first_mode()


def _accepts(layer, x):
    """Whether `layer` can take `x` as it is: a plain tensor with no mask, on the layer's device (its own call would
    look after a mask, or move the tensor)."""
    return plain_input(x, layer._weights_device)


def _channels_first(x):
    return x if x.dim() <= 2 else to_torch_layout(x, True, False)


def _channels_last(x):
    return x if x.dim() <= 2 else from_torch_layout(x, True, False)
