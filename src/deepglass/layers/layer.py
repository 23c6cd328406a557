"""Layer: the base of every deepglass layer and model, a `torch.nn.Module` with Keras's lazy build and weights API."""
import inspect
import itertools
import warnings

import numpy as np
import torch
from torch import nn

from deepglass import config, initializers, regularizers
from deepglass.layers.input_spec import check_input_spec
from deepglass.losses import MASK_ATTR
from deepglass.layers.symbolic import KerasTensor, Node, is_symbolic
from deepglass.mixed_precision import autocast as policy_autocast, policy as dtype_policies
from deepglass.naming import to_snake_case, unique_name
from deepglass.utils import tree

# Placeholder sizes for unknown dimensions when a layer's output shape is found by running it: two runs with
# different sizes tell which output dimensions follow the unknown ones (those become None again).
_BATCH_PLACEHOLDERS = (2, 3)
_DIM_PLACEHOLDERS = (83, 89)
_compiling = [False]  # while True, torch.compile traces the model: built layers take the plain call path
_checking = [False]  # while True, every layer call validates its input against `input_spec` (see `checked_calls`)
_new_weights_device = [None]  # where weights made without a build device go (see `new_weights_on`)
_trainable_changes = [0]  # counts `trainable` assignments, so that one-batch training notices them cheaply


class checked_calls:
    """Context in which each layer call checks its input shape and names the layer at fault; used once before fit."""

    def __enter__(self):
        self._previous = _checking[0]
        _checking[0] = True

    def __exit__(self, *exc):
        _checking[0] = self._previous


class new_weights_on:
    """Context in which layers built from shapes alone (a Sequential's layers, built through its Input) make their
    weights on `device` rather than on the CPU; fit, evaluate and predict build lazy models in it."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        self._previous = _new_weights_device[0]
        _new_weights_device[0] = self.device

    def __exit__(self, *exc):
        _new_weights_device[0] = self._previous


class Layer(nn.Module):
    """Base class of layers: weights are created lazily by `build(input_shape)` on the first call.

    Subclasses implement `build(input_shape)` (creating weights with `add_weight`) and `call(inputs, training=None)`.
    A built layer's call is `torch.nn.Module.__call__` and nothing else. Layers start in inference mode, as Keras
    layers do outside `fit`; `model.train()` / `fit` switch dropout and batch statistics on.

    Arguments:
        name: unique name; by default the class name in snake_case, numbered (`dense`, `dense_1`, ...).
        trainable: whether the layer's weights are updated by training.
        dtype: the dtype policy: a name such as `"float32"` or `"mixed_float16"` (float32 weights, float16
            computation), or a `DTypePolicy`; default the global policy (`deepglass.mixed_precision`).
        autocast: whether a mixed policy computes this layer in its half type (False: float32, as given).
        activity_regularizer: a penalty on the layer's outputs, added to the loss.
        input_shape, input_dim, batch_input_shape, batch_size: legacy ways to declare the model's input on its
            first layer (`Dense(32, input_shape=(784,))`).
    """

    _mask_arguments = ()  # see `_mask_arguments(call)`: set for every subclass from its `call` signature
    _passes_masks = False  # class default of `supports_masking` for layers that keep the time axis as it is
    # Whether the layer can make a mask from unmasked inputs (Embedding with mask_zero, Masking), so that no call can
    # take the fast path; None: whenever `compute_mask` is overridden. Layers that only transform masks set False.
    _creates_masks = None
    # Whether the layer computes in float32 under a mixed policy (normalization statistics), returning half outputs.
    _computes_in_float32 = False

    _takes_strings = False  # True for layers that read NumPy string arrays themselves (text layers and models)
    # Class defaults of flags that the checks before each fit, evaluate and predict look for on every module: found
    # here, a look-up takes 0.2 us, where a miss goes through nn.Module.__getattr__ and takes 2 us.
    stateful = False  # recurrent layers set True: their states carry from batch to batch
    _checks_input_values = False  # True where the checks before a run read the values (Embedding's token ids)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Calling `call` directly from nn.Module saves a Python frame per layer call.
        if "call" in cls.__dict__ and "forward" not in cls.__dict__:
            cls.forward = cls.__dict__["call"]
        cls._mask_arguments = _mask_arguments(cls.call)

    def __init__(self, *, name=None, trainable=True, dtype=None, activity_regularizer=None, input_shape=None,
                 input_dim=None, batch_input_shape=None, batch_size=None, autocast=True, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments {sorted(kwargs)}.")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"Expected a non-empty layer name without '/'; got name={name!r}.")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype_policy = dtype_policies.get(dtype)
        self._dtype = config.standardize_dtype(self._dtype_policy.variable_dtype)  # the weights' dtype
        self.autocast = bool(autocast)
        policy_autocast.configure(self, explicit=dtype is not None)
        self._trainable = bool(trainable)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.built = False
        self.input_spec = None
        self._weight_entries = []  # (attribute name, layout or None, trainable at creation), in creation order
        self._penalties = []  # (attribute name, regularizer)
        self._constraints = []  # (attribute name, constraint)
        self._inbound_nodes = []
        self._losses = []
        self._uses_add_loss = False
        self._plain_call = False
        self._build_shapes = None
        self._weights_device = None  # where the weights live; eager calls bring their inputs there, as Keras does
        self._batch_input_shape = _legacy_input_shape(input_shape, input_dim, batch_input_shape, batch_size)
        self._supports_masking = self._passes_masks or type(self).compute_mask is not Layer.compute_mask
        self.train(False)

    # ----------------------------------------------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        if _compiling[0] and self._plain_call:
            return nn.Module.__call__(self, *args, **kwargs)
        if self._plain_call and args and not _checking[0]:
            first, device = args[0], self._weights_device
            # A tensor carrying a mask (`_keras_mask`), or one on another device, needs the full path.
            if plain_input(first, device) or (
                    type(first) is list and first and all(plain_input(t, device) for t in first)):
                return nn.Module.__call__(self, *args, **kwargs)
        if is_symbolic(args) or is_symbolic(kwargs):
            return self._symbolic_call(args, kwargs)
        return self._eager_call(args, kwargs)

    def _eager_call(self, args, kwargs):
        if self.built and self._weights_device is None:
            self._weights_device = _weights_device(self)  # weights a subclassed model's layers made in a call
        device = self._weights_device
        if args:
            convert = _keep_text if self._takes_strings else _to_tensor
            args = (tree.map_structure(lambda value: convert(value, device), args[0]),
                    *(_to_device(value, device) for value in args[1:]))
        if device is not None:
            kwargs = {name: _to_device(value, device) for name, value in kwargs.items()}
        inputs = args[0] if args else next(iter(kwargs.values()))
        shapes = tree.map_structure(lambda t: tuple(t.shape) if isinstance(t, (torch.Tensor, np.ndarray)) else None,
                                    inputs)
        built = self.built
        self._maybe_build(shapes, device=_first_device(inputs))
        if not built:
            policy_autocast.watch_inputs(self, inputs)
        if _checking[0] and self.input_spec is not None and torch.is_tensor(inputs):
            check_input_spec(self, self.input_spec, tuple(inputs.shape))
        if self._uses_add_loss:
            self._losses = []
        previous_mask = self._populate_masks(args, kwargs, inputs)
        outputs = nn.Module.__call__(self, *args, **kwargs)
        if self._supports_masking:
            self._attach_masks(inputs, outputs, previous_mask)
        elif any(m is not None for m in tree.flatten(previous_mask)):
            _warn_mask_dropped(self)
        if self.activity_regularizer is not None:
            for output in tree.flatten(outputs):
                # Divided by the batch size, as Keras 3 does, so the strength does not depend on it.
                penalty = self.activity_regularizer(output)
                self.add_loss(penalty / output.shape[0] if output.dim() > 0 else penalty)
        return outputs

    def _symbolic_call(self, args, kwargs):
        inputs = args[0] if args else next(iter(kwargs.values()))
        if not self._takes_strings and any(getattr(t, "dtype", None) == "string" for t in tree.flatten(inputs)):
            raise ValueError(f'{type(self).__name__} "{self.name}" expected numbers, got a string input '
                             '(Input(dtype="string")); only text layers (TextVectorization, StringLookup, Hashing) '
                             "take strings: put one between the input and this layer.")
        shapes = tree.map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else None, inputs)
        self._maybe_build(shapes)
        policy_autocast.watch_inputs(self, inputs)
        if self.input_spec is not None and isinstance(inputs, KerasTensor):
            check_input_spec(self, self.input_spec, inputs.shape)
        outputs = self.compute_output_spec(*args, **kwargs)
        Node(self, args, kwargs, outputs)
        return outputs

    def _maybe_build(self, shapes, device=None):
        if self.built:
            return
        self._build_device = device
        self.build(shapes)
        self._build_device = None
        self._build_shapes = shapes
        self.built = True
        self._weights_device = _weights_device(self)
        self._refresh_plain_call()

    def _refresh_plain_call(self):
        self._plain_call = self.built and self._call_is_plain()

    def _call_is_plain(self):
        """Whether a call needs nothing but `forward`: it makes no masks and adds no losses (then torch.compile
        can trace it too)."""
        creates_masks = self._creates_masks
        if creates_masks is None:
            creates_masks = type(self).compute_mask is not Layer.compute_mask
        # A mask on a later argument (`value_mask` for `value`) is not looked for on the fast path.
        later_masks = any(position > 0 for _, _, position in self._mask_arguments)
        return self.activity_regularizer is None and not self._uses_add_loss and not creates_masks and not later_masks

    # ------------------------------------------------------------------------------------------------------- masks
    @property
    def supports_masking(self):
        """Whether the layer passes masks on (by `compute_mask`); true by default when `compute_mask` is overridden."""
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self._supports_masking = bool(value)

    def compute_mask(self, inputs, previous_mask):
        """The mask of the outputs, given the inputs and their mask; by default the input mask passes unchanged."""
        return previous_mask

    def _populate_masks(self, args, kwargs, inputs):
        """Fill `mask=` (or `<argument>_mask=`) from the inputs' `_keras_mask`, as Keras does; returns the input mask."""
        for mask_name, argument, position in self._mask_arguments:
            if kwargs.get(mask_name) is not None:
                continue
            if argument is None:  # `mask`: the mask of the first argument
                value = inputs
            else:
                value = args[position] if position < len(args) else kwargs.get(argument)
            masks = _masks_of(value)
            if any(m is not None for m in tree.flatten(masks)):
                kwargs[mask_name] = masks
        if kwargs.get("mask") is not None:
            return kwargs["mask"]
        return _masks_of(inputs)

    def _attach_masks(self, inputs, outputs, previous_mask):
        flat_outputs = [t for t in tree.flatten(outputs) if torch.is_tensor(t)]
        if not flat_outputs or all(getattr(t, MASK_ATTR, None) is not None for t in flat_outputs):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for tensor, mask in zip(flat_outputs, tree.flatten(masks)):
            if mask is not None and getattr(tensor, MASK_ATTR, None) is None:
                setattr(tensor, MASK_ATTR, mask)

    def build(self, input_shape):
        """Create the layer's weights for inputs of `input_shape` (the batch axis is None). Default: no weights."""

    def call(self, inputs, *args, **kwargs):
        """The layer's computation on torch tensors; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs).")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def _channels_first_mode(self):
        """How a model may run this layer on channels-first views of its inputs (`deepglass.models.channels_first`),
        where `_call_channels_first(inputs, training)` takes `(batch, channels, *spatial)` inputs and returns its
        output so: "image" for a layer worth turning a channels-last input around for (a convolution), "follow"
        for one that costs as little in Keras's layout and takes the channels-first path only when its input comes
        that way (activations, dropout, Add, Concatenate), or None (the default): always Keras's layout."""
        return None

    def _apply(self, fn, *args, **kwargs):
        # `to`, `cuda`, `cpu` and `half` all end here, for this layer and for each layer inside it.
        result = super()._apply(fn, *args, **kwargs)
        self._weights_device = _weights_device(self)
        return result

    def _policy_forward(self, *args, **kwargs):
        """`forward` under the layer's dtype policy: the instance's `forward` where the policy needs one (see
        `deepglass.mixed_precision.autocast`); layers with the default policy never see it."""
        return policy_autocast.policy_forward(self, args, kwargs)

    # ------------------------------------------------------------------------------------------------------ shapes
    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape`; by default found by running the layer on placeholder data."""
        spec = map_shapes(lambda s: KerasTensor(s, self._dtype), input_shape)
        return tree.map_structure(lambda t: t.shape, self._run_on_placeholders((spec,), {}))

    def compute_output_spec(self, *args, **kwargs):
        """Symbolic outputs (shape and dtype) for symbolic inputs."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            inputs = args[0] if args else next(iter(kwargs.values()))
            shape = self.compute_output_shape(tree.map_structure(lambda t: t.shape, inputs))
            return map_shapes(lambda s: KerasTensor(s, self._compute), shape)
        return self._run_on_placeholders(args, kwargs)

    def _run_on_placeholders(self, args, kwargs):
        device = _first_device(list(self.parameters()) + list(self.buffers())) or torch.device("cpu")
        runs = []
        for batch, dim in zip(_BATCH_PLACEHOLDERS, _DIM_PLACEHOLDERS):
            def concrete(t):
                if not isinstance(t, KerasTensor):
                    return t
                size = [batch if i == 0 and d is None else (dim if d is None else d) for i, d in enumerate(t.shape)]
                return torch.zeros(size, dtype=t.dtype, device=device)
            with torch.no_grad():
                runs.append(nn.Module.__call__(self, *tree.map_structure(concrete, list(args)),
                                               **tree.map_structure(concrete, kwargs)))
        merged = [_merge_runs(a, b) for a, b in zip(tree.flatten(runs[0]), tree.flatten(runs[1]))]
        return tree.pack_like(runs[0], merged)

    @property
    def input(self):
        """The symbolic input of the layer's first call on symbolic data."""
        node = self._first_node("input")
        return node.call_args[0] if node.call_args else node.outputs  # an InputLayer's input is its output

    @property
    def output(self):
        """The symbolic output of the layer's first call on symbolic data."""
        return self._first_node("output").outputs

    @property
    def input_shape(self):
        """The shape of the inputs the layer was built for (the batch axis is None)."""
        if self._inbound_nodes:
            return tree.map_structure(lambda t: t.shape, self.input)
        if self._build_shapes is None:
            raise AttributeError(f'Layer "{self.name}" has not been called yet, so it has no input shape.')
        return _without_batch_size(self._build_shapes)

    @property
    def output_shape(self):
        """The shape of the layer's outputs (the batch axis is None)."""
        if self._inbound_nodes:
            return tree.map_structure(lambda t: t.shape, self.output)
        return self.compute_output_shape(self.input_shape)

    def _first_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f'Layer "{self.name}" has no {what} yet: it has not been called on an Input.')
        return self._inbound_nodes[0]

    def _input_hint(self, shape, spec):
        """A fix to suggest when `shape` does not satisfy `spec` (`"; add Flatten() before it"`); layers override
        it with what they know."""
        return ""

    # ----------------------------------------------------------------------------------------------------- weights
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None, layout=None):
        """Create a weight of Keras-layout `shape`, register it on this module, and return it.

        Trainable weights are `nn.Parameter`s; non-trainable ones are buffers (as torch keeps batch-norm
        statistics). `layout` is the permutation from Keras's layout to the stored one (Dense stores
        `(out, in)` as torch does: layout `(1, 0)`); `get_weights` undoes it.
        """
        shape = tuple(int(d) for d in (shape or ()))
        dtype = config.standardize_dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating_point else "zeros"
        name = name or _free_name(self, "variable")
        value = initializers.get(initializer)(shape, dtype=dtype)
        value = torch.as_tensor(value, dtype=dtype)
        if layout is not None:
            value = value.permute(layout)
        # Standard strides, also on axes of size 1 (which `contiguous()` leaves as they are): torch gives gradients
        # those strides, and DistributedDataParallel warns when a weight's differ from its gradient's.
        value = value.clone(memory_format=torch.contiguous_format)
        device = getattr(self, "_build_device", None) or _new_weights_device[0]
        if device is not None:
            value = value.to(device)
        if trainable:
            self.register_parameter(name, nn.Parameter(value, requires_grad=self._trainable))
        else:
            self.register_buffer(name, value)
        self._weight_entries.append((name, layout, bool(trainable)))
        if regularizer is not None:
            self._penalties.append((name, regularizers.get(regularizer)))
        if constraint is not None:
            from deepglass import constraints
            self._constraints.append((name, constraints.get(constraint)))
        return getattr(self, name)

    def __setattr__(self, name, value):
        # Layers (or torch modules) assigned in a list, tuple or dict are tracked, as Keras tracks them: held in a
        # ModuleList or ModuleDict, they are registered with torch (weights, device moves, saving, training).
        if type(value) in (list, tuple, dict) and value:
            value = _tracked(value)
        super().__setattr__(name, value)

    def _sublayers(self):
        """The layers this one holds: its attributes, and those in the lists and dicts it holds."""
        return [module for child in self.children() for module in _held(child) if isinstance(module, Layer)]

    def _plain_modules(self):
        """The torch modules other than layers that this one holds, as attributes or in lists and dicts."""
        return [module for child in self.children() for module in _held(child) if not isinstance(module, Layer)]

    def _own_entries(self, trainable=None):
        """This layer's own (owner module, attribute name, layout) triples, trainable-at-creation first (as Keras
        orders weights); `trainable` filters on how each weight was created."""
        ordered = [e for e in self._weight_entries if e[2]] + [e for e in self._weight_entries if not e[2]]
        return [(self, name, layout) for name, layout, made_trainable in ordered
                if trainable is None or made_trainable == trainable]

    def _weight_triples(self, which="all"):
        if which == "trainable" and not self.trainable:
            return []
        if which == "non_trainable" and not self.trainable:
            return self._weight_triples("all")
        flag = None if which == "all" else which == "trainable"
        own = self._own_entries(flag)
        for module in self._plain_modules():  # a plain torch module assigned in a subclassed model
            own = own + module_entries(module, flag)
        seen, result = set(), []
        for triple in own + [t for layer in self._sublayers() for t in layer._weight_triples(which)]:
            key = (id(triple[0]), triple[1])
            if key not in seen:
                seen.add(key)
                result.append(triple)
        return result

    @property
    def weights(self):
        """All weights (trainable first), as torch tensors in torch's layout."""
        return [getattr(layer, name) for layer, name, _ in self._weight_triples("all")]

    @property
    def trainable_weights(self):
        return [getattr(layer, name) for layer, name, _ in self._weight_triples("trainable")]

    @property
    def non_trainable_weights(self):
        return [getattr(layer, name) for layer, name, _ in self._weight_triples("non_trainable")]

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    def get_weights(self):
        """The weights as NumPy arrays in Keras's layouts (Dense kernel `(in, out)`), in Keras's order."""
        return [_to_keras(getattr(layer, name), layout) for layer, name, layout in self._weight_triples("all")]

    def set_weights(self, weights):
        """Set the weights from NumPy arrays in Keras's layouts; all shapes are checked before anything changes."""
        triples = self._weight_triples("all")
        weights = list(weights)
        expected = [_keras_shape(getattr(layer, name), layout) for layer, name, layout in triples]
        if len(weights) != len(triples):
            raise ValueError(f'Layer "{self.name}" expects {len(triples)} weights with shapes {expected}; '
                             f"got {len(weights)}.")
        given = [tuple(np.shape(w)) for w in weights]
        for index, (want, got) in enumerate(zip(expected, given)):
            if want != got:
                raise ValueError(f'Layer "{self.name}" expects weight {index} ({triples[index][1]}) of shape {want}; '
                                 f"got shape {got}. Expected shapes: {expected}.")
        with torch.no_grad():
            for (layer, name, layout), value in zip(triples, weights):
                target = getattr(layer, name)
                value = torch.as_tensor(np.asarray(value), dtype=target.dtype)
                target.copy_(value.permute(layout) if layout is not None else value)

    def count_params(self):
        """The number of scalars in all weights, trainable or not (as Keras counts)."""
        if not self.built:
            raise ValueError(f'Layer "{self.name}" is not built yet, so it has no weights to count; call it on '
                             "data or an Input first.")
        return sum(w.numel() for w in self.weights)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        _trainable_changes[0] += 1
        for owner, name, _ in self._own_entries(trainable=True):
            getattr(owner, name).requires_grad_(self._trainable)
        for layer in self._sublayers():
            layer.trainable = value
        for module in self._plain_modules():  # a plain torch module in a custom layer: its weights are this layer's
            module.requires_grad_(self._trainable)

    def train(self, mode=True):
        """`torch.nn.Module.train`: set training mode here and in every sublayer (what `fit`, `evaluate` and
        `predict` call at each run). The flag is written straight into the instance: `nn.Module.__setattr__` first
        looks through the parameters, buffers and modules, which made a small model's switch take 11 us, not 1."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean; got {mode!r}.")
        self.__dict__["training"] = mode
        for module in self._modules.values():
            if module is not None:
                module.train(mode)
        return self

    @property
    def dtype_policy(self):
        """The layer's `DTypePolicy`; set it to a policy or a name (weights already created keep their dtype)."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._dtype_policy = dtype_policies.get(value)
        self._dtype = config.standardize_dtype(self._dtype_policy.variable_dtype)
        policy_autocast.configure(self, explicit=True)

    @property
    def dtype(self):
        """The dtype of the layer's weights as a string, e.g. `"float32"` (Keras's alias of `variable_dtype`)."""
        return str(self._dtype).replace("torch.", "")

    @property
    def compute_dtype(self):
        """The dtype the layer computes in, e.g. `"float16"` under `"mixed_float16"`."""
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        """The dtype of the layer's weights."""
        return self._dtype_policy.variable_dtype

    @property
    def input_dtype(self):
        """The dtype float inputs are computed in (the compute dtype)."""
        return self.compute_dtype

    # ------------------------------------------------------------------------------------------------------ losses
    def add_loss(self, loss):
        """Add a scalar tensor to the training loss (collected in `losses` after each call)."""
        if not self._uses_add_loss:
            self._uses_add_loss = True
            self._refresh_plain_call()
        self._losses.append(loss)

    @property
    def losses(self):
        """Losses added during the last call (`add_loss`, activity regularizers) plus the weight penalties."""
        layers = [self] + [m for m in self.modules() if isinstance(m, Layer) and m is not self]
        added = [loss for layer in layers for loss in layer._losses]
        return added + [penalty(getattr(layer, name)) for layer in layers for name, penalty in layer._penalties]

    def apply_constraints(self):
        """Project every constrained weight that trains back onto its constraint (called after each optimizer step).
        A frozen weight is left as it is, as Keras constrains only the weights its optimizer updates: MaxNorm, say,
        would otherwise shrink it by a factor of `norm / (norm + 1e-7)` at every step."""
        with torch.no_grad():
            for layer in [m for m in self.modules() if isinstance(m, Layer)]:
                for name, constraint in layer._constraints:
                    weight = getattr(layer, name)
                    if not weight.requires_grad:
                        continue
                    layout = next(e[1] for e in layer._weight_entries if e[0] == name)
                    value = weight.permute(_inverse(layout)) if layout is not None else weight
                    value = constraint(value)
                    weight.copy_(value.permute(layout) if layout is not None else value)

    # ------------------------------------------------------------------------------------------------------ config
    def get_config(self):
        """JSON-safe arguments that rebuild this layer with `from_config`."""
        result = {"name": self.name, "trainable": self.trainable, "dtype": _dtype_config(self._dtype_policy)}
        if self.activity_regularizer is not None:
            result["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._batch_input_shape is not None:
            result["batch_input_shape"] = list(self._batch_input_shape)
        return result

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self):
        return f"name={self.name!r}"


def _dtype_config(policy):
    """A mixed policy in Keras's form (`{"module": "keras", "class_name": "DTypePolicy", ...}`), another one by its
    dtype name, which Keras reads as the same policy."""
    return dtype_policies.serialize(policy) if dtype_policies.is_mixed(policy) else policy.name


def _tracked(value):
    """`value` (a non-empty list, tuple or dict) as a ModuleList or ModuleDict when it holds only torch modules (and
    dict keys torch accepts), else as it is."""
    items = value.values() if type(value) is dict else value
    if not all(isinstance(item, nn.Module) for item in items):
        return value
    if type(value) is not dict:
        return nn.ModuleList(value)
    if all(isinstance(key, str) and key and "." not in key for key in value):
        return nn.ModuleDict(value)
    return value


def _held(module):
    """The modules `module` stands for: itself, or for a ModuleList or ModuleDict the modules in it (nested too)."""
    if isinstance(module, nn.ModuleDict):
        return [held for item in module.values() for held in _held(item)]
    if isinstance(module, nn.ModuleList):
        return [held for item in module for held in _held(item)]
    return [module]


def module_entries(module, trainable=None):
    """(owner, name, None) triples of a plain torch module: parameters are trainable weights, floating-point
    buffers (batch-norm statistics) non-trainable ones."""
    def owner_and_name(dotted):
        *path, name = dotted.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part)
        return owner, name, None

    entries = []
    if trainable in (None, True):
        entries += [owner_and_name(name) for name, _ in module.named_parameters()]
    if trainable in (None, False):
        entries += [owner_and_name(name) for name, b in module.named_buffers() if b.is_floating_point()]
    return entries


def _mask_arguments(call):
    """`(mask argument, tensor argument, position)` for each mask `call` accepts: `mask` (the first input's mask,
    tensor argument None) and `<name>_mask` for another argument `<name>` (e.g. `query_mask` for `query`)."""
    try:
        parameters = list(inspect.signature(call).parameters)[1:]  # without self
    except (TypeError, ValueError):
        return ()
    found = [("mask", None, 0)] if "mask" in parameters else []
    for position, name in enumerate(parameters):
        if f"{name}_mask" in parameters:
            found.append((f"{name}_mask", name, position))
    return tuple(found)


def _masks_of(value):
    """The `_keras_mask` of each tensor in `value` (a tensor or a structure of them), or None."""
    if torch.is_tensor(value):
        return getattr(value, MASK_ATTR, None)
    if isinstance(value, (list, tuple)):
        masks = [_masks_of(v) for v in value]
        return None if all(m is None for m in masks) else masks
    return None


def _warn_mask_dropped(layer):
    if not getattr(layer, "_warned_mask_dropped", False):
        layer._warned_mask_dropped = True
        warnings.warn(f"Layer '{layer.name}' ({type(layer).__name__}) received an input with a mask but does not "
                      f"support masking, so the mask stops here and later layers will not see it.", stacklevel=3)


def _legacy_input_shape(input_shape, input_dim, batch_input_shape, batch_size):
    if batch_input_shape is not None:
        return tuple(batch_input_shape)
    if input_shape is not None:
        return (batch_size,) + tuple(input_shape)
    if input_dim is not None:
        return (batch_size, int(input_dim))
    return None


def _keep_text(value, device=None):
    return value if isinstance(value, np.ndarray) and value.dtype.kind in "USO" else _to_tensor(value, device)


def _to_tensor(value, device=None):
    """A NumPy array as a tensor (floats in the default float type), on `device` when given, as are tensors."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "USO":
        raise ValueError(f"Expected numbers, got strings (a NumPy array of dtype {value.dtype}); only text layers "
                         "(TextVectorization, StringLookup, Hashing) take strings: put one first in the model, or "
                         "map the strings to numbers first.")
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(value)
        dtype = config.standardize_dtype() if tensor.is_floating_point() else tensor.dtype
        return tensor.to(device=device, dtype=dtype)
    return _to_device(value, device)


def hooked(module):
    """Whether torch hooks are set on `module` itself (forward, forward-pre, backward or backward-pre)."""
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks or
                module._backward_pre_hooks)


def global_hooks_set():
    """Whether torch's global module hooks, which every module's call runs, are set."""
    return bool(nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks or
                nn.modules.module._global_backward_hooks or nn.modules.module._global_backward_pre_hooks)


def plain_input(x, device):
    """Whether a layer whose weights are on `device` (None: none yet) can take `x` as it is: a plain tensor with no
    mask, on that device. (The mask is looked up with getattr: torch.compile cannot read a tensor's `__dict__`.)"""
    return type(x) is torch.Tensor and getattr(x, MASK_ATTR, None) is None and (device is None or x.device == device)


def _to_device(value, device):
    if device is not None and type(value) is torch.Tensor and value.device != device:
        moved = value.to(device)
        mask = getattr(value, MASK_ATTR, None)
        if mask is not None:
            setattr(moved, MASK_ATTR, _to_device(mask, device))
        return moved
    return value


def _weights_device(module):
    """The device of the module's first weight or buffer; None for a module that holds none."""
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        return tensor.device
    return None


def _first_device(structure):
    for leaf in tree.flatten(structure):
        if torch.is_tensor(leaf):
            return leaf.device
    return None


def _is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def map_shapes(fn, shapes):
    """Apply `fn` to every shape (a tuple of ints and Nones) inside a nested structure of shapes."""
    if _is_shape(shapes):
        return fn(shapes)
    if isinstance(shapes, (list, tuple)):
        return type(shapes)(map_shapes(fn, s) for s in shapes)
    if isinstance(shapes, dict):
        return {key: map_shapes(fn, s) for key, s in shapes.items()}
    return shapes


def _merge_runs(first, second):
    """The symbolic tensor for two placeholder runs: dimensions that changed with the placeholders are None."""
    shape = tuple(a if a == b else None for a, b in zip(first.shape, second.shape))
    return KerasTensor(shape, first.dtype)


def _without_batch_size(shapes):
    return map_shapes(lambda s: (None,) + tuple(s[1:]), shapes)


def _free_name(layer, base):
    name, index = base, 0
    while hasattr(layer, name):
        index += 1
        name = f"{base}_{index}"
    return name


def _inverse(layout):
    return tuple(int(i) for i in np.argsort(layout))


def _to_keras(tensor, layout):
    value = tensor.detach()
    if layout is not None:
        value = value.permute(_inverse(layout))
    return value.cpu().numpy().copy()


def _keras_shape(tensor, layout):
    return tuple(tensor.shape) if layout is None else tuple(tensor.shape[i] for i in _inverse(layout))
