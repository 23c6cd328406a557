"""Training steps replayed from CUDA graphs.

On a GPU a small model's training step waits on the CPU, which launches its kernels one by one: W5's 32-64-64-1 MLP
spends about 0.9 ms a step launching a few microseconds of GPU work. A CUDA graph records the kernels of the step's
forward pass, loss and backward pass once, and replays them all with one launch.

What a graph holds: the forward pass, the loss, the weight penalties and the backward pass, from batches copied into
the graph's own input tensors. What stays outside, run as always: the optimizer's update (its learning rate, and
Adam's epsilon correction, are computed in Python at each step, as Keras computes them), the constraints and the
metrics (a metric of the user's may read values on the host).

When: on CUDA (not ROCm), unless `compile(run_eagerly=True)` or `jit_compile=True`, mixed precision, a distributed
run, a stateful layer, a layer with a seed of its own (its generator would replay one mask), or a metric class of the
user's (it may keep the outputs it is given, which are the graph's own tensors, written again at each replay). Each kind of batch
(shapes and dtypes) is recorded at its third step: the two before it run eagerly, which warms up what is made
lazily (cuDNN's choice of algorithms, cuBLAS's handles, the optimizer's state). Two kinds are recorded at most: full
batches and an epoch's last one; another kind runs eagerly, unless a graph that the current `fit` has not replayed
makes room for it (a new batch size, say). A change of which weights train, of the optimizer or of where a weight
lives drops the graphs and counts the warm-up steps again. A step runs eagerly while a hook is set on the model's
layers or weights (the steps that `deepglass.insight.Monitor` samples): a replay would not call it. A step that
cannot be recorded (one that reads a value on the host, or draws from a generator torch cannot replay) makes the
model train eagerly from then on, with the same results. As in Keras's graph mode (`tf.function`), Python code in a
layer's `call` that is not torch work (a print, a counter) runs when a graph is recorded, not at each replay:
`run_eagerly=True` runs it at every step.
"""
import warnings

import torch

from deepglass.layers import layer as layer_module
from deepglass.optimizers import LossScaleOptimizer
from deepglass.utils import tree

WARM_UP_STEPS = 2  # eager steps of a kind of batch before its graph is recorded
MOST_GRAPHS = 2  # full batches and an epoch's last, smaller one


def for_model(model, device):
    """A `StepGraphs` for `model`'s training steps on `device`, or None where they run eagerly (see above)."""
    if device.type != "cuda" or torch.version.hip or model._run_eagerly or model._jit_compile or \
            model.dtype_policy.name.startswith("mixed") or model._distributed is not None or \
            isinstance(model.optimizer, LossScaleOptimizer):
        return None
    for module in model.modules():
        if getattr(module, "stateful", False) is True or getattr(module, "seed", None) is not None:
            return None
    if any(not type(metric).__module__.startswith("deepglass.") for metric in model.metrics):
        return None  # a metric of the user's may keep the outputs it is given, which the next replay overwrites
    current = model._step_graphs
    return current if isinstance(current, StepGraphs) and current.device == device else StepGraphs(model, device)


class StepGraphs:
    """The recorded training steps of one model, one CUDA graph per kind of batch."""

    def __init__(self, model, device):
        self.model = model
        self.device = device
        self.graphs = {}  # kind of batch -> _Graph
        self.eager_steps = {}  # kind of batch -> eager steps run so far
        self.failure = None  # why recording failed, after which every step runs eagerly
        self._pool = None  # the graphs' shared memory pool: they never run at the same time
        self._replayed = set()  # the kinds of batch replayed since the current fit began
        self._look_at_model()

    def __reduce__(self):
        # A copy or a pickle of the model (copy.deepcopy, torch.save) leaves the graphs behind: they hold the
        # original's memory, and the copy records its own at its first steps.
        return _nothing, ()

    def start_fit(self):
        """Begin counting the kinds of batch a `fit` replays: a graph it does not replay may make room for a new kind
        (another batch size, say). Weights or buffers replaced by new tensors since the last fit (`load_state_dict(...,
        assign=True)`) drop the graphs."""
        self._replayed = set()
        if not _same_tensors(_held_tensors(self.model), self._tensors):
            self._start_again()

    def run(self, x, y, sample_weight, call_kwargs):
        """Train the forward and backward pass of one step from a graph: `(loss, per-output losses, targets,
        outputs)`, or None where the step must run eagerly (its weights' gradients are then not set)."""
        if self.failure is not None:
            return None
        kind = _kind(x, y, sample_weight, call_kwargs)
        if kind is None or self._hooks_set():
            return None
        if self._state != self._current_state():
            self._start_again()
        graph = self.graphs.get(kind) or self._recorded_when_due(kind, x, y, sample_weight, call_kwargs)
        if graph is None:
            return None
        self._replayed.add(kind)
        return graph.replay(x, y, sample_weight)

    def _recorded_when_due(self, kind, x, y, sample_weight, call_kwargs):
        """A new graph for `kind` if its warm-up steps are over and there is room for it, else None (an eager step)."""
        seen = self.eager_steps.get(kind, 0)
        if seen >= WARM_UP_STEPS and len(self.graphs) >= MOST_GRAPHS:
            self._drop_unreplayed()
        if seen < WARM_UP_STEPS or len(self.graphs) >= MOST_GRAPHS:
            self.eager_steps[kind] = seen + 1
            return None
        graph = self._record(x, y, sample_weight, call_kwargs)
        if graph is not None:
            self.graphs[kind] = graph
        return graph

    def _drop_unreplayed(self):
        """Drop the graphs that this `fit` has not replayed."""
        self.graphs = {kind: graph for kind, graph in self.graphs.items() if kind in self._replayed}
        if not self.graphs:
            self._pool = None  # a pool lives while a graph recorded into it does: the next one starts its own

    def _hooks_set(self):
        """Whether a hook is set on the model's modules or weights, or on every module: a replayed step would not call
        it, so such a step runs eagerly (the Monitor of deepglass.insight sets hooks for the steps it samples)."""
        return layer_module.global_hooks_set() or any(map(layer_module.hooked, self._modules)) or \
            any(w._post_accumulate_grad_hooks or w._backward_hooks for w in self._weights)

    def _look_at_model(self):
        """List what the graphs depend on: the model's modules (for hooks), weights and buffers, and their state."""
        model = self.model
        self._modules = list(model.modules())
        self._weights = list(model.parameters())
        self._tensors = _held_tensors(model)
        self._state = self._current_state()

    def _current_state(self):
        """What a graph's validity rests on: which weights train, the torch optimizer (built again when weights move
        or change), where every weight and buffer lives (a graph reads and writes those addresses) and whether the
        model is in training mode (a callback's `predict` in the middle of an epoch switches it off)."""
        return (layer_module._trainable_changes[0], id(self.model.optimizer.torch_optimizer), self.model.training,
                tuple(t.data_ptr() for t in self._tensors), tuple(w.requires_grad for w in self._weights))

    def _start_again(self):
        """After the state changed (see `_current_state`): no graph, and the warm-up steps counted again, so that a
        model whose state changes at every step (a GAN's discriminator frozen and unfrozen in turn) is never
        recorded, rather than at every third step."""
        self.graphs, self.eager_steps, self._pool = {}, {}, None
        self._look_at_model()

    def _record(self, x, y, sample_weight, call_kwargs):
        model = self.model
        batch = (x, y, sample_weight)
        copies = [None if t is None else t.clone() for t in tree.flatten(batch)]
        static_x, static_y, static_weight = tree.pack_like(batch, copies)
        inputs = [t for t in copies if t is not None]
        _clear_gradients(self._weights)  # the backward pass then writes them, in the graph's memory
        owned = _owned_tensors(model)  # to put back what a failed recording replaced
        stream = torch.cuda.current_stream(self.device)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.device(self.device), \
                    torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                outputs = model._forward_backward(static_x, static_y, static_weight, call_kwargs)
        except Exception as error:  # noqa: BLE001 - the step runs eagerly instead, and raises the model's own errors
            # torch's graph context stays on its recording stream, and its generator marked as recording, when the
            # recording fails
            torch.cuda.set_stream(stream)
            _free_generators(self.device)
            return self._fail(f"{type(error).__name__}: {error}", owned)
        if not _same_tensors(_held_tensors(model), self._tensors):
            # The step replaced a weight or buffer by a new tensor (`self.count = self.count + 1` in a layer): the
            # graph would read the one it replaced, whose memory is freed, and the new one holds no values yet.
            return self._fail("the step replaces a weight or buffer of the model by a new tensor", owned)
        self._pool = graph.pool()
        # Held with their autograd history, the outputs would keep the recorded backward graph alive, and with it
        # the weights' gradient accumulators, tied to the recording stream: a later eager backward pass (Grad-CAM,
        # an eager step) would reuse them across streams, and torch warns and synchronises.
        outputs = tree.map_structure(_detached, outputs)
        return _Graph(graph, inputs, outputs, self._weights)

    def _fail(self, reason, owned):
        """Train eagerly from now on, with the weights and buffers the model had before the recording; None, the
        eager step's signal."""
        _put_back(owned)
        _clear_gradients(self._weights)
        self.failure = reason
        self.graphs, self._pool = {}, None
        return None


class _Graph:
    """One recorded step: its input tensors, its outputs and the gradients it writes (None for a weight it gives
    none)."""

    def __init__(self, graph, inputs, outputs, weights):
        self.graph = graph
        self.inputs = inputs
        self.outputs = outputs
        self.weights = weights
        self.gradients = [w.grad for w in weights]

    def replay(self, x, y, sample_weight):
        torch._foreach_copy_(self.inputs, [t for t in tree.flatten((x, y, sample_weight)) if t is not None])
        self.graph.replay()
        for weight, gradient in zip(self.weights, self.gradients):
            if weight.grad is not gradient:  # set by an eager step, another graph, or another model sharing it
                weight.grad = gradient
        return self.outputs


def _detached(value):
    return value.detach() if isinstance(value, torch.Tensor) else value


def _nothing():
    return None


def _held_tensors(model):
    """The model's weights and buffers, the tensors a graph reads and writes in place."""
    return list(model.parameters()) + list(model.buffers())


def _owned_tensors(model):
    """(its module's table of parameters or of buffers, name, tensor) for every weight and buffer of the model."""
    return [(table, name, tensor) for module in model.modules() for table in (module._parameters, module._buffers)
            for name, tensor in table.items() if tensor is not None]


def _put_back(owned):
    for table, name, tensor in owned:
        if table.get(name) is not tensor:
            table[name] = tensor


def _same_tensors(these, those):
    return len(these) == len(those) and all(a is b for a, b in zip(these, those))


def _clear_gradients(weights):
    for weight in weights:
        weight.grad = None


def _free_generators(device):
    """After a recording that failed: torch marks the device's random generator as recording when a recording begins,
    and marks it free when one ends well, so a failed one leaves every later random draw failing ("Offset increment
    outside graph capture"). Recording an empty graph marks it free again."""
    with warnings.catch_warnings(), torch.cuda.device(device):
        warnings.simplefilter("ignore")  # torch's warning that the graph is empty
        with torch.cuda.graph(torch.cuda.CUDAGraph()):
            pass


def _kind(x, y, sample_weight, call_kwargs):
    """What a graph is recorded for: the nesting of the batch, the shapes, dtypes and devices of its tensors, and the
    call's arguments; None where the batch holds anything but tensors."""
    try:
        return _describe((x, y, sample_weight)), tuple(sorted(call_kwargs.items()))
    except TypeError:
        return None


def _describe(batch):
    if type(batch) is torch.Tensor:
        return batch.shape, batch.dtype, batch.device
    if batch is None:
        return None
    if isinstance(batch, (list, tuple)):
        return (type(batch),) + tuple(_describe(item) for item in batch)
    if isinstance(batch, dict):
        return (dict,) + tuple((key, _describe(item)) for key, item in batch.items())
    raise TypeError(f"not a tensor: {type(batch).__name__}")
