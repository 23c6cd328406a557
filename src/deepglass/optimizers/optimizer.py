"""Optimizer: Keras's optimizer API, with a `torch.optim` optimizer doing the update.

The fit loop drives an optimizer with `build(params)`, `zero_grad()` and `step()`. `step` does what Keras's
`apply` does, in Keras's order: undo the loss scale, accumulate gradients, clip, decay the weights, update (torch's
fused or foreach kernel where there is one), average the weights, count the step. The learning rate of each step
is computed in Python from the integer step count, so nothing is read back from the device.
"""
import functools
import inspect
import math
import re

import torch
from torch.optim import optimizer as torch_optimizer_base

from deepglass import naming, schedules
from deepglass.optimizers.arguments import check_number, unpack_parameters, warn_legacy
from deepglass.serialization import Configurable

try:
    from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices
except ImportError:  # older torch: the devices its foreach kernels have always covered
    def _get_foreach_kernels_supported_devices():
        return ["cuda", "xpu"]

_FUSED_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


def _devices_of(params):
    return {p.device for p in params}


@functools.cache
def _fused_runs(torch_class, device_type):
    """Whether torch's `torch_class(fused=True)` steps on `device_type` in this build: one step on one number, once
    per class and device. Fused kernels come and go by version and device (torch 2.11 refuses a fused Adagrad on
    CUDA, 2.13 runs it), so a fixed list would be wrong somewhere."""
    try:
        weight = torch.zeros(1, device=device_type, requires_grad=True)
        weight.grad = torch.zeros(1, device=device_type)
        torch_class([weight], fused=True).step()
        return True
    except (RuntimeError, ValueError, TypeError, NotImplementedError):
        return False
# Keys that tf.keras 2.11+ wrote into optimizer configs and that mean nothing here.
_IGNORED_CONFIG_KEYS = ("jit_compile", "is_legacy_optimizer")


# The code of the two wrappers torch puts around an optimizer's `step`: the profiler scope and hook loops
# (`profile_hook_step`), and the grad-mode switch (`_use_grad_for_differentiable`).
_TORCH_STEP_WRAPPERS = {torch.optim.Optimizer.profile_hook_step(lambda self: None).__code__,
                        torch_optimizer_base._use_grad_for_differentiable(lambda self: None).__code__}


@functools.cache
def _bare_step(step):
    """`step` (a class's, as it is now) with torch's own wrappers taken off, or None where nothing of torch's wraps
    it (a class of another library, or a step someone else wrapped over torch's): then `step()` runs as it is."""
    bare = step
    while getattr(bare, "__code__", None) in _TORCH_STEP_WRAPPERS:
        bare = bare.__wrapped__
    return None if bare is step else bare


def step_hooks_set(optimizer):
    """Whether step hooks are set on `optimizer` or on every torch optimizer: they run only in torch's wrapper of
    `step`."""
    return bool(optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks or
                getattr(torch_optimizer_base, "_global_optimizer_pre_hooks", None) or
                getattr(torch_optimizer_base, "_global_optimizer_post_hooks", None))


class Optimizer(Configurable):
    """Base class of optimizers: Keras's arguments and API, with `torch_class` (a `torch.optim` optimizer) updating
    the weights. Subclasses set `torch_class`, `fused_torch_class` and `_torch_arguments()`, and correct torch's rule to
    Keras's in `_prepare_step()` where the two differ.

    Arguments (every optimizer takes these):
        learning_rate: a float >= 0, a `LearningRateSchedule`, or a callable `f(step) -> float` (or `f() -> float`).
        weight_decay: if set, the weights decay before each update: `w -= learning_rate * weight_decay * w`.
        clipnorm: if set, each gradient is rescaled so that its L2 norm is at most this value.
        clipvalue: if set, each gradient element is clipped to `[-clipvalue, clipvalue]`.
        global_clipnorm: if set, all gradients are rescaled together so that their joint L2 norm is at most this.
        use_ema: keep an exponential moving average of the weights (copied into them by
            `finalize_variable_values()` or every `ema_overwrite_frequency` steps).
        ema_momentum: the average's momentum: `average = ema_momentum * average + (1 - ema_momentum) * w`.
        ema_overwrite_frequency: copy the average into the weights every this many steps (None: never).
        loss_scale_factor: the factor the loss was multiplied by (`scale_loss`); gradients are divided by it.
        gradient_accumulation_steps: update every this many steps (>= 2), with the mean of the gradients since the
            last update; learning-rate schedules still see every step.
        name: the optimizer's name.

    The Keras 1/2 spellings `lr=` (for `learning_rate`) and `decay=` (the applied rate becomes
    `learning_rate / (1 + decay * iterations)`) are accepted and warn once.

    Example:
        >>> optimizer = deepglass.optimizers.Adam(learning_rate=1e-3)
        >>> optimizer.build(list(model.parameters()))
        >>> loss.backward(); optimizer.step(); optimizer.zero_grad()
    """

    torch_class = None
    # The torch optimizer whose `fused=True` kernel this optimizer uses, where it runs on the parameters' device.
    fused_torch_class = None
    # True where torch's own `weight_decay` is Keras's decoupled decay (AdamW); else the decay is applied here.
    _torch_weight_decay = False
    # Keras 1/2 arguments that `get_config` writes when set, and `from_config` restores without a warning.
    _legacy_names = ("decay",)

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        learning_rate = self._pop_legacy_rate(learning_rate, kwargs)
        self._legacy = {}
        decay = kwargs.pop("decay", None)
        if decay is not None:
            warn_legacy("decay", "`decay` is the Keras 2 time-based decay `lr / (1 + decay * iterations)`; use "
                                 "`learning_rate=keras.optimizers.schedules.InverseTimeDecay(lr, 1, decay)` instead.")
            self._legacy["decay"] = check_number("decay", decay, 0.0)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}. Check the spelling against "
                             f"{type(self).__name__}'s arguments.")
        self.name = name or naming.unique_name(naming.to_snake_case(type(self).__name__))
        self.weight_decay = check_number("weight_decay", weight_decay, 0.0, allow_none=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.clipnorm = check_number("clipnorm", clipnorm, 0.0, allow_none=True)
        self.clipvalue = check_number("clipvalue", clipvalue, 0.0, allow_none=True)
        self.global_clipnorm = check_number("global_clipnorm", global_clipnorm, 0.0, allow_none=True)
        self.use_ema = bool(use_ema)
        self.ema_momentum = check_number("ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (not isinstance(ema_overwrite_frequency, int)
                                                    or ema_overwrite_frequency < 1):
            raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                             f"Received: ema_overwrite_frequency={ema_overwrite_frequency!r}")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = check_number("loss_scale_factor", loss_scale_factor, 0.0, low_open=True,
                                              allow_none=True)
        if gradient_accumulation_steps is not None and (not isinstance(gradient_accumulation_steps, int)
                                                        or gradient_accumulation_steps < 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. "
                             f"Received: gradient_accumulation_steps={gradient_accumulation_steps!r}")
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._set_learning_rate(learning_rate)
        self._iterations = 0
        self._last_lr = None
        self.torch_optimizer = None
        self.kernel = None
        self._params, self._names = [], {}
        self._ema = self._accumulators = self._pending_state = None
        self._excluded, self._exclude_pattern = set(), None

    def _pop_legacy_rate(self, learning_rate, kwargs):
        if "lr" not in kwargs:
            return learning_rate
        warn_legacy("lr", "`lr` is the Keras 1/2 spelling of `learning_rate`; use `learning_rate=` instead.")
        default = inspect.signature(type(self).__init__).parameters.get("learning_rate")
        if default is not None and default.default is not inspect.Parameter.empty and learning_rate != default.default:
            raise ValueError(f"Received both `learning_rate={learning_rate}` and its old spelling "
                             f"`lr={kwargs['lr']}`; pass only `learning_rate`.")
        return kwargs.pop("lr")

    # ----- learning rate and step count -----

    def _set_learning_rate(self, value):
        if isinstance(value, schedules.LearningRateSchedule):
            self._lr_takes_step = True
        elif callable(value):
            self._lr_takes_step = _takes_positional_argument(value)
        else:
            try:
                value = check_number("learning_rate", value, 0.0)
            except ValueError:
                raise ValueError(
                    "Received an invalid value for `learning_rate`, expected a float >= 0, a LearningRateSchedule "
                    f"or a callable `f(step) -> float`. Received: learning_rate={value!r}") from None
        self._learning_rate = value

    @property
    def learning_rate(self):
        """The learning rate at the current step, a Python float; set it to a float, a schedule or a callable.

        With the legacy `decay=`, this is the undecayed rate (as Keras 2 reported it); the rate applied is
        `learning_rate / (1 + decay * iterations)`.
        """
        return self._rate_at(self._iterations)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, schedules.LearningRateSchedule) and not callable(value):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` as its `learning_rate`, hence "
                            "its learning rate is not settable. Create the optimizer with a float `learning_rate` "
                            "to set the rate during training.")
        self._set_learning_rate(value)
        if self.torch_optimizer is not None:
            self._set_torch_rate(self._applied_rate(self._iterations))

    lr = learning_rate  # Keras 1/2 name

    @property
    def iterations(self):
        """The number of updates so far, a Python int (with gradient accumulation: steps // accumulation steps)."""
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations = int(value) * (self.gradient_accumulation_steps or 1)

    def _set_torch_rate(self, lr):
        for group in self.torch_optimizer.param_groups:
            group["lr"] = lr

    def _rate_at(self, step):
        rate = self._learning_rate
        if isinstance(rate, float):
            return rate
        return float(rate(step) if self._lr_takes_step else rate())

    def _applied_rate(self, step):
        rate = self._rate_at(step)
        if self._legacy.get("decay"):
            rate = rate / (1.0 + self._legacy["decay"] * step)
        if not 0.0 <= rate < math.inf:
            raise ValueError(f"The learning rate {self._learning_rate!r} gave {rate} at step {step}; expected a "
                             "finite number >= 0. Check the schedule's arguments.")
        return rate

    # ----- building -----

    def build(self, params):
        """Create the torch optimizer for `params` (trainable tensors, or `(name, tensor)` pairs).

        The fastest kernel torch has is chosen: `fused` where this optimizer has one for the parameters' device and
        dtype, else `foreach` on devices with foreach kernels (`self.kernel` says which). Building again with the
        same parameters does nothing; with others, the optimizer starts afresh on them, from step 0.
        """
        self._check_torch_support()
        if self.torch_class is None:
            raise NotImplementedError(f"{type(self).__name__} must set `torch_class`, the torch.optim optimizer that "
                                      "performs its update.")
        params, names = unpack_parameters(params)
        if self.torch_optimizer is not None and len(params) == len(self._params) and all(
                a is b for a, b in zip(params, self._params)):
            return
        if self.torch_optimizer is not None:
            # Torch's per-weight state (Adam's bias-correction count) restarts, so the step count restarts with it.
            self._iterations = 0
        if not params:
            raise ValueError("The optimizer received no parameters to train; pass the model's trainable weights "
                             "(`model.trainable_weights`) after the model is built, with at least one trainable layer.")
        rate = self._applied_rate(self._iterations)
        if self._excluded:  # exempted from decay by tensor: the exemption follows a weight replaced by a new tensor
            excluded_names = {self._names[i] for i in self._excluded if i in self._names}
            self._excluded = {id(p) for p in params if id(p) in self._excluded or names.get(id(p)) in excluded_names}
        self._params, self._names = params, names
        self._devices = _devices_of(params)
        self.kernel = self._choose_kernel(params)
        flags = {"fused": {"fused": True}, "foreach": {"foreach": True}}.get(self.kernel, {})
        self.torch_optimizer = self.torch_class(self._param_groups(params), lr=rate, **self._torch_arguments(),
                                                **flags)
        self._last_lr = None
        self._init_torch_state()
        self._accumulators = [torch.zeros_like(p) for p in params] if self.gradient_accumulation_steps else None
        self._ema = [p.detach().clone() for p in params] if self.use_ema else None
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self.load_state_dict(state)

    @property
    def built(self):
        """Whether `build` has created the torch optimizer."""
        return self.torch_optimizer is not None

    def follow_weights(self):
        """After the weights moved to another device (`model.to(...)`, or a fit on another device), build the torch
        optimizer again there, with the state it had: torch's optimizers leave their state where it was made, and the
        kernel chosen for the old device may not run on the new one. Does nothing while the weights stay put."""
        if not self.built or self._devices == _devices_of(self._params):
            return
        state = self.state_dict()
        self.torch_optimizer = None  # so that `build` builds again on the same weights, keeping the step count
        self.build([(self._names[id(p)], p) if id(p) in self._names else p for p in self._params])
        self.load_state_dict(state)

    @property
    def updated_weights(self):
        """The tensors this optimizer updates, in the order it was built with (none before `build`)."""
        return list(self._params)

    def _choose_kernel(self, params):
        if self.fused_torch_class and all(p.dtype in _FUSED_DTYPES and _fused_runs(self.fused_torch_class,
                                                                                   p.device.type) for p in params):
            return "fused"
        devices = _get_foreach_kernels_supported_devices()
        if all(p.device.type in devices for p in params):
            return "foreach"
        return "for-loop"

    def _param_groups(self, params):
        if not (self._torch_weight_decay and self.weight_decay):
            return [{"params": params}]
        decayed = [p for p in params if self._uses_weight_decay(p)]
        excluded = [p for p in params if not self._uses_weight_decay(p)]
        return ([{"params": decayed}] if decayed else []) + (
            [{"params": excluded, "weight_decay": 0.0}] if excluded else [])

    def _check_torch_support(self):
        """Raise if the installed torch lacks what this optimizer needs (the base needs nothing more)."""

    def _torch_arguments(self):
        """The torch optimizer's hyper-parameters, other than the parameters, `lr` and the kernel choice."""
        return {}

    def _init_torch_state(self):
        """Set torch's initial state where Keras's differs from it (after `build` creates the torch optimizer)."""

    def _prepare_step(self, params, lr):
        """Adjust torch's state or hyper-parameters before its update, so that the update equals Keras's."""

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt weights from `weight_decay`: those in `var_list`, and those whose name contains one of
        `var_names` (names come from `(name, tensor)` pairs given to `build`). Call it before `build`.

        Example:
            >>> optimizer = AdamW(weight_decay=0.01)
            >>> optimizer.exclude_from_weight_decay(var_names=["bias"])
            >>> optimizer.build(model.named_parameters())
        """
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._excluded = {id(v) for v in var_list or ()}
        self._exclude_pattern = re.compile("|".join(map(re.escape, set(var_names)))) if var_names else None

    def _uses_weight_decay(self, param):
        if id(param) in self._excluded:
            return False
        name = self._names.get(id(param))
        return not (self._exclude_pattern is not None and name is not None and self._exclude_pattern.search(name))

    # ----- the training step -----

    def zero_grad(self, set_to_none=True):
        """Clear the parameters' gradients (to None, the fast way)."""
        if self.torch_optimizer is None:
            return
        if not set_to_none:
            self.torch_optimizer.zero_grad(set_to_none=False)
            return
        # What torch's zero_grad does for set_to_none, without its profiler scope, which costs more than the
        # assignments themselves in a small model's step.
        for group in self.torch_optimizer.param_groups:
            for param in group["params"]:
                param.grad = None

    def step(self):
        """Apply the parameters' gradients (`param.grad`): Keras's `apply`, then count the step."""
        if self.torch_optimizer is None:
            raise RuntimeError(f"Optimizer '{self.name}' is not built; call `optimizer.build(model.trainable_weights)` "
                               "before `step()` (fit does this for you).")
        # Grad mode off, as `torch.no_grad()` would, without its decorator's per-call objects.
        enabled = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)
        try:
            self._apply_gradients()
        finally:
            torch._C._set_grad_enabled(enabled)

    def _apply_gradients(self):
        params = [p for p in self._params if p.grad is not None]
        if params:
            grads = [p.grad for p in params]
            if self.loss_scale_factor is not None:
                torch._foreach_div_(grads, self.loss_scale_factor)
            if self._accumulate(grads):
                self._update(params, grads)
            if self._ema is not None:
                self._update_ema()
        self._iterations += 1

    def _accumulate(self, grads):
        """Keras's gradient accumulation: add to the sums, or (every N-th step) turn the gradients into the mean of
        the last N and return True to update."""
        steps = self.gradient_accumulation_steps
        if not steps:
            return True
        sums = [s for p, s in zip(self._params, self._accumulators) if p.grad is not None]
        if (self._iterations + 1) % steps:
            torch._foreach_add_(sums, grads)
            return False
        torch._foreach_add_(grads, sums)
        torch._foreach_div_(grads, steps)
        torch._foreach_zero_(self._accumulators)
        return True

    def _update(self, params, grads):
        if self.clipnorm:
            # Keras's per-tensor clip: g * clipnorm / max(||g||, clipnorm).
            norms = torch._foreach_maximum(torch._foreach_norm(grads), self.clipnorm)
            torch._foreach_mul_(grads, self.clipnorm)
            torch._foreach_div_(grads, norms)
        elif self.global_clipnorm:
            torch.nn.utils.clip_grad_norm_(params, self.global_clipnorm)
        elif self.clipvalue:
            torch.nn.utils.clip_grad_value_(params, self.clipvalue)
        lr = self._applied_rate(self._iterations)
        self._set_torch_rate(lr)
        if not self._torch_weight_decay:
            self._decay_weights(params, lr)
        self._prepare_step(params, lr)
        self._torch_update()
        self._last_lr = lr

    def _torch_update(self):
        """The torch optimizer's update of the parameters that have gradients (Adam calls torch's functional form
        of it directly). The torch optimizer class's own `step` runs without the wrappers torch puts around it: a
        profiler scope, the loops over step hooks and a switch of grad mode (off already: see `step`), which take
        40 us a call on the CPU, a tenth of a small MLP's training step. `step()` runs where a hook is set or
        the instance has a `step` of its own (as torch's learning-rate schedulers give it)."""
        optimizer = self.torch_optimizer
        bare = _bare_step(type(optimizer).step)
        if bare is None or step_hooks_set(optimizer) or "step" in optimizer.__dict__ or \
                optimizer.defaults.get("differentiable"):
            optimizer.step()
        else:
            bare(optimizer)

    def _decay_weights(self, params, lr):
        """Keras's decoupled weight decay, before the update: `w -= lr * weight_decay * w`."""
        if not self.weight_decay:
            return
        decayed = [p for p in params if self._uses_weight_decay(p)] if (
            self._excluded or self._exclude_pattern) else params
        if decayed:
            torch._foreach_mul_(decayed, 1.0 - lr * self.weight_decay)

    def _rescale_momentum(self, lr, key="momentum_buffer"):
        """Keras's momentum holds `lr * velocity`, torch's holds the velocity and multiplies it by the rate of the
        step; when the rate changes, rescaling torch's buffers by `old_lr / new_lr` keeps the two equal."""
        if self._last_lr is None or lr == 0.0 or lr == self._last_lr:
            return
        buffers = [s[key] for s in self.torch_optimizer.state.values() if s.get(key) is not None]
        if buffers:
            torch._foreach_mul_(buffers, self._last_lr / lr)

    def _shift_state(self, params, key, amount):
        """Add `amount` to the state `key` of the parameters about to be updated (those that have it)."""
        state = self.torch_optimizer.state
        buffers = [state[p][key] for p in params if key in state.get(p, ())]
        if buffers:
            torch._foreach_add_(buffers, amount)

    def _update_ema(self):
        iteration = self.iterations
        if iteration == 0:
            torch._foreach_copy_(self._ema, self._params)
        else:
            torch._foreach_lerp_(self._ema, self._params, 1.0 - self.ema_momentum)
        if self.ema_overwrite_frequency and (iteration + 1) % self.ema_overwrite_frequency == 0:
            torch._foreach_copy_(self._params, self._ema)

    @torch.no_grad()
    def finalize_variable_values(self, var_list=None):
        """With `use_ema`, copy the moving averages into the weights (`var_list`, or those of the weights built with
        that are trainable now: a layer frozen since keeps its weights, as Keras finalizes the trainable ones)."""
        if self._ema is None:
            return
        targets = self._params if var_list is None else list(var_list)
        if len(targets) != len(self._ema):
            raise ValueError(f"The optimizer averages {len(self._ema)} weights, but {len(targets)} were given to "
                             "finalize_variable_values(); pass the weights the optimizer was built with.")
        pairs = [(t, e) for t, e in zip(targets, self._ema) if var_list is not None or t.requires_grad]
        if pairs:
            torch._foreach_copy_([t for t, _ in pairs], [e for _, e in pairs])

    def scale_loss(self, loss):
        """The loss multiplied by `loss_scale_factor` (unchanged when it is None)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def apply_gradients(self, grads_and_vars):
        """Keras's custom-loop API: apply `(gradient, weight)` pairs; returns the step count."""
        grads, variables = zip(*grads_and_vars)
        self.apply(grads, variables)
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        """Apply `grads` to `trainable_variables` (built on them the first time; default: the weights built with).
        The gradients given are not modified, and the weights' own `.grad` are left as they were."""
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built; call "
                                 "`optimizer.build(trainable_variables)` first.")
            variables = self._params
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
            known = {id(p) for p in self._params}
            unknown = [v for v in variables if id(v) not in known]
            if unknown:
                raise ValueError(f"Unknown variable of shape {tuple(unknown[0].shape)}: this optimizer can only update "
                                 "the variables it was built with; create a new optimizer for new variables.")
        if len(grads) != len(variables):
            raise ValueError(f"Received {len(grads)} gradients for {len(variables)} variables; pass one per variable.")
        saved = {id(p): p.grad for p in self._params}
        for p in self._params:
            p.grad = None
        for g, v in zip(grads, variables):
            v.grad = None if g is None else torch.as_tensor(g, dtype=v.dtype, device=v.device).detach().clone()
        try:
            self.step()
        finally:
            for p in self._params:
                p.grad = saved[id(p)]

    # ----- state and configuration -----

    @property
    def variables(self):
        """The optimizer's state as tensors: the step count, the learning rate, then torch's per-weight state (in
        weight order), the weight averages and the gradient sums. Torch's tensors are the live ones."""
        tensors = [torch.tensor(self._iterations), torch.tensor(self.learning_rate)]
        if self.built:
            for p in self._params:
                state = self.torch_optimizer.state.get(p, {})
                tensors += [v for k, v in state.items() if k != "step" and isinstance(v, torch.Tensor)]
        return tensors + list(self._ema or []) + list(self._accumulators or [])

    def state_dict(self):
        """Everything needed to resume: torch's state, the step count, the learning rate, averages and sums."""
        rate = self._learning_rate
        return {
            "iterations": self._iterations,
            "learning_rate": schedules.serialize(rate) if isinstance(rate, schedules.LearningRateSchedule)
            else self._rate_at(self._iterations),
            "last_learning_rate": self._last_lr,
            "torch": self.torch_optimizer.state_dict() if self.built else None,
            "ema": list(self._ema) if self._ema is not None else None,
            "accumulators": list(self._accumulators) if self._accumulators is not None else None,
        }

    @torch.no_grad()
    def load_state_dict(self, state):
        """Restore `state_dict()`'s output. Before `build`, the state is kept and restored when `build` runs."""
        if not self.built:
            self._pending_state = state
            return
        if state.get("torch") is not None:
            saved = dict(state["torch"])
            # Keep the kernel chosen for this machine: torch would take the saved run's, and place state for it.
            saved["param_groups"] = [{**g, **{k: mine[k] for k in ("fused", "foreach") if k in mine}}
                                     for g, mine in zip(saved["param_groups"], self.torch_optimizer.param_groups)]
            self.torch_optimizer.load_state_dict(saved)
        self._iterations = int(state["iterations"])
        self._last_lr = state.get("last_learning_rate")
        rate = state.get("learning_rate")
        if isinstance(rate, dict):
            if not isinstance(self._learning_rate, schedules.LearningRateSchedule):
                self._set_learning_rate(schedules.deserialize(rate))
        elif rate is not None and not callable(self._learning_rate):
            self._set_learning_rate(rate)
        for name, mine in (("ema", self._ema), ("accumulators", self._accumulators)):
            theirs = state.get(name)
            if mine is not None and theirs is not None:
                if len(theirs) != len(mine):
                    raise ValueError(f"The saved optimizer state has {len(theirs)} {name} tensors; this optimizer "
                                     f"has {len(mine)}. Load it into an optimizer built on the same weights.")
                torch._foreach_copy_(mine, [t.to(m.device) for t, m in zip(theirs, mine)])
        self._set_torch_rate(self._applied_rate(self._iterations))

    def get_config(self):
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            rate = schedules.serialize(rate)
        elif not isinstance(rate, float):
            rate = self._rate_at(self._iterations)  # a plain function cannot be written as JSON: keep its value
        config = {
            "name": self.name, "learning_rate": rate, "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue, "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum, "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        config.update(self._legacy)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = {k: v for k, v in config.items() if k not in _IGNORED_CONFIG_KEYS}
        if "lr" in config:  # configs written by Keras 2.0-2.2
            config.setdefault("learning_rate", config.pop("lr"))
        legacy = {k: config.pop(k) for k in cls._legacy_names if k in config}
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        optimizer = cls(**config)
        optimizer._legacy.update({k: check_number(k, v, 0.0) for k, v in legacy.items() if v is not None})
        return optimizer


def _takes_positional_argument(fn):
    """Whether `fn` can be called with the step (Keras 3 calls plain callables with no argument)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters)
