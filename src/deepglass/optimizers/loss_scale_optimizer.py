"""LossScaleOptimizer: Keras's dynamic loss scaling for float16 training, on the device with torch's AMP kernels.

The loss is multiplied by the scale before the backward pass, so that small float16 gradients do not underflow to
zero; the gradients are divided by it again before the update. The rule is Keras's (and torch's GradScaler's): a
step whose gradients hold an infinity or a NaN is skipped and halves the scale; `dynamic_growth_steps` good steps in
a row double it. Every part of it runs on the device (`torch._amp_foreach_non_finite_check_and_unscale_` and
`torch._amp_update_scale_`, GradScaler's kernels), so no step waits for the host to learn whether it was skipped.
"""
import math

import torch

from deepglass.optimizers.optimizer import Optimizer

# Arguments Keras's LossScaleOptimizer once wrote into its config with these values and still accepts so.
_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                  "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None}


class LossScaleOptimizer(Optimizer):
    """An optimizer that scales the loss dynamically so that float16 gradients do not underflow (Keras's).

    `scale_loss(loss)` multiplies the loss by the current scale; `step()` divides the gradients by it, skips the
    update when any gradient is infinite or NaN (and halves the scale), and doubles the scale after
    `dynamic_growth_steps` updates in a row with finite gradients. `compile` wraps the optimizer in one by itself
    when the model's dtype policy is `"mixed_float16"`.

    Arguments:
        inner_optimizer: the optimizer that updates the weights (an instance, or a name such as `"adam"`).
        initial_scale: the first loss scale; better too high than too low, since a high scale falls in a few
            steps while a low one takes `dynamic_growth_steps` steps to double.
        dynamic_growth_steps: how many updates with finite gradients double the scale.
        name: the optimizer's name.

    With `gradient_accumulation_steps` on the inner optimizer, the check and the scale's update happen once per
    update, over the gradients of all its steps: an update with a non-finite gradient anywhere in its window is
    skipped whole. A skipped step still counts in `iterations` (knowing which steps were skipped would need reading
    a value from the device at every step).

    Example:
        >>> optimizer = deepglass.optimizers.LossScaleOptimizer(deepglass.optimizers.Adam(1e-3))
        >>> optimizer.build(list(model.parameters()))
        >>> optimizer.scale_loss(loss).backward(); optimizer.step(); optimizer.zero_grad()
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000, name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                             "`loss_scale_factor` directly on the `inner_optimizer`.")
        for argument, default in _BASE_DEFAULTS.items():
            if argument in kwargs and kwargs.pop(argument) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{argument}`. Instead, set `{argument}` on "
                                 "the `inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if not isinstance(initial_scale, (int, float)) or not 0 < initial_scale < math.inf:
            raise ValueError(f"Received an invalid value for `initial_scale`, expected a positive finite number. "
                             f"Received: initial_scale={initial_scale!r}")
        if not isinstance(dynamic_growth_steps, int) or dynamic_growth_steps < 1:
            raise ValueError(f"Received an invalid value for `dynamic_growth_steps`, expected a positive integer. "
                             f"Received: dynamic_growth_steps={dynamic_growth_steps!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = _inner(inner_optimizer)
        self.inner_optimizer.loss_scale_factor = None  # the gradients are unscaled here, not twice
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.dynamic_scale = None  # device tensors once built: the scale and the count of good updates since
        self.step_counter = None  # it last changed (Keras's variable names)
        self._found_inf = None  # 1.0 once a non-finite gradient was seen in the current update's window
        self._snapshot_for, self._snapshot = (), []

    # ----- delegation to the inner optimizer -----

    @property
    def learning_rate(self):
        """The inner optimizer's learning rate."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def iterations(self):
        """The inner optimizer's step count."""
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):
        self.inner_optimizer.iterations = value

    def zero_grad(self, set_to_none=True):
        self.inner_optimizer.zero_grad(set_to_none)

    def finalize_variable_values(self, var_list=None):
        self.inner_optimizer.finalize_variable_values(var_list)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        self.inner_optimizer.exclude_from_weight_decay(var_list, var_names)

    def build(self, params):
        """Build the inner optimizer on `params` and create the scale on their device."""
        inner = self.inner_optimizer
        inner.build(params)
        self._params, self._names = inner._params, inner._names
        self.torch_optimizer, self.kernel = inner.torch_optimizer, inner.kernel
        device = self._params[0].device
        if self.dynamic_scale is None:
            self.dynamic_scale = torch.full((), self.initial_scale, dtype=torch.float32, device=device)
            self.step_counter = torch.zeros((), dtype=torch.int32, device=device)
            self._found_inf = torch.zeros((), dtype=torch.float32, device=device)
        elif self.dynamic_scale.device != device:
            self.dynamic_scale, self.step_counter, self._found_inf = (
                t.to(device) for t in (self.dynamic_scale, self.step_counter, self._found_inf))
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self.load_state_dict(state)

    def follow_weights(self):
        """The inner optimizer's `follow_weights`, then the scale and its counters to the weights' device."""
        self.inner_optimizer.follow_weights()
        if self.built:
            self.build(self._params)

    # ----- the step -----

    def scale_loss(self, loss):
        """`loss` times the current loss scale (`initial_scale` before the optimizer is built)."""
        return loss * (self.initial_scale if self.dynamic_scale is None else self.dynamic_scale)

    @torch.no_grad()
    def step(self):
        """Unscale the gradients, then update with them unless one is infinite or NaN, and adjust the scale."""
        if not self.built:
            raise RuntimeError(f"Optimizer '{self.name}' is not built; call `optimizer.build(model.trainable_weights)` "
                               "before `step()` (fit does this for you).")
        inner = self.inner_optimizer
        grads = [p.grad for p in inner._params if p.grad is not None]
        if grads:
            self._unscale(grads)
        steps = inner.gradient_accumulation_steps
        if steps and (inner._iterations + 1) % steps:
            inner.step()  # only adds to the gradient sums; the check waits for the update at the window's end
            return
        self._step_unless_non_finite()
        torch._amp_update_scale_(self.dynamic_scale, self.step_counter, self._found_inf, 2.0, 0.5,
                                 self.dynamic_growth_steps)
        self._found_inf.zero_()

    def _unscale(self, grads):
        """Divide `grads` by the scale in place and note in `_found_inf` whether any holds an inf or a NaN."""
        inverse = self.dynamic_scale.double().reciprocal().float()
        by_device = {}
        for grad in grads:
            by_device.setdefault(grad.device, []).append(grad)
        for device, group in by_device.items():
            if device == self._found_inf.device:
                torch._amp_foreach_non_finite_check_and_unscale_(group, self._found_inf, inverse)
                continue
            found = torch.zeros((), device=device)  # weights spread over devices: one flag each, then combined
            torch._amp_foreach_non_finite_check_and_unscale_(group, found, inverse.to(device))
            torch.maximum(self._found_inf, found.to(self._found_inf.device), out=self._found_inf)

    def _step_unless_non_finite(self):
        """The inner optimizer's update, undone on the device where `_found_inf` is set."""
        inner = self.inner_optimizer
        optimizer = inner.torch_optimizer
        if self._skips_natively():
            optimizer.found_inf = self._found_inf  # torch's fused kernels skip the update themselves
            try:
                inner.step()
            finally:
                del optimizer.found_inf
            return
        tensors, existing = self._take_snapshot()
        inner.step()
        skip = self._found_inf.bool()
        for tensor, saved in zip(tensors, self._snapshot):
            torch.where(skip, saved, tensor, out=tensor)
        # State torch creates at an optimizer's first update (Adam's moments, SGD's momentum) would keep the
        # non-finite values of a skipped one: it goes back to zero, the value torch's optimizers start from.
        state = optimizer.state
        for p in inner._params:
            for key, value in state.get(p, {}).items():
                if (id(p), key) not in existing and _same_device(value, skip):
                    value.masked_fill_(skip, 0)

    def _skips_natively(self):
        """Whether torch's fused kernel can skip the whole update: nothing else changes state around it (Keras's
        weight decay and moving averages are applied outside torch's kernel)."""
        inner, optimizer = self.inner_optimizer, self.inner_optimizer.torch_optimizer
        return (inner.kernel == "fused" and getattr(optimizer, "_step_supports_amp_scaling", False)
                and type(optimizer).__module__.startswith("torch.optim") and not inner.use_ema
                and not (inner.weight_decay and not inner._torch_weight_decay)
                and not _new_momentum(optimizer, inner._params))

    def _take_snapshot(self):
        """Copy what an update may change (weights, optimizer state on the weights' device, moving averages) into
        `_snapshot`; returns the tensors copied and the `(weight, key)` pairs of the state that existed."""
        inner = self.inner_optimizer
        state = inner.torch_optimizer.state
        device_state = [value for p in inner._params for value in state.get(p, {}).values()
                        if _same_device(value, self._found_inf)]
        tensors = list(inner._params) + device_state + list(inner._ema or [])
        if len(tensors) != len(self._snapshot_for) or any(a is not b for a, b in zip(tensors, self._snapshot_for)):
            self._snapshot_for, self._snapshot = tuple(tensors), [torch.empty_like(t) for t in tensors]
        torch._foreach_copy_(self._snapshot, tensors)
        return tensors, {(id(p), key) for p in inner._params for key in state.get(p, {})}

    # ----- state and configuration -----

    @property
    def variables(self):
        """The step counter and the scale, then the inner optimizer's variables."""
        own = [self.step_counter, self.dynamic_scale] if self.dynamic_scale is not None else []
        return own + self.inner_optimizer.variables

    def state_dict(self):
        """The inner optimizer's state, with the current scale and step counter added."""
        return {**self.inner_optimizer.state_dict(),
                "dynamic_scale": self.initial_scale if self.dynamic_scale is None else self.dynamic_scale.clone(),
                "step_counter": 0 if self.step_counter is None else self.step_counter.clone()}

    @torch.no_grad()
    def load_state_dict(self, state):
        """Restore `state_dict()`'s output (kept until `build` when the optimizer is not built yet)."""
        if not self.built:
            self._pending_state = state
            return
        state = dict(state)
        self.dynamic_scale.copy_(torch.as_tensor(state.pop("dynamic_scale", self.initial_scale)))
        self.step_counter.copy_(torch.as_tensor(state.pop("step_counter", 0)))
        self.inner_optimizer.load_state_dict(state)

    def get_config(self):
        from deepglass.saving.serialization import serialize_keras_object
        return {"name": self.name, "inner_optimizer": serialize_keras_object(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from deepglass import optimizers
        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, (dict, str)):
            inner = optimizers.deserialize(inner, custom_objects)
        return cls(inner, **config)


def _inner(optimizer):
    if isinstance(optimizer, LossScaleOptimizer):
        raise ValueError("The inner optimizer of a LossScaleOptimizer cannot be a LossScaleOptimizer; pass the "
                         "optimizer it wraps.")
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        from deepglass import optimizers
        return optimizers.get(optimizer)
    raise ValueError("LossScaleOptimizer expects an optimizer as `inner_optimizer`, e.g. "
                     f"LossScaleOptimizer(deepglass.optimizers.Adam()). Received: inner_optimizer={optimizer!r}")


def _new_momentum(optimizer, params):
    """Whether torch's fused SGD is about to create momentum buffers: it makes them empty and fills them in its
    kernel, so a skipped first update would leave them holding garbage."""
    return isinstance(optimizer, torch.optim.SGD) and any(group["momentum"] for group in optimizer.param_groups) and \
        any(optimizer.state.get(p, {}).get("momentum_buffer") is None for p in params if p.grad is not None)


def _same_device(value, reference):
    return isinstance(value, torch.Tensor) and value.device == reference.device
