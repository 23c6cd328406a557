"""The Adam family: Adam, AdamW, Adamax and Nadam, on `torch.optim`'s Adam, AdamW, Adamax and NAdam."""
import math

import torch
from torch.optim.adam import adam as functional_adam

from deepglass.optimizers.arguments import check_epsilon, check_number, warn_legacy
from deepglass.optimizers.optimizer import Optimizer, step_hooks_set


class _Moments(Optimizer):
    """What the Adam family shares: `beta_1`, `beta_2` in [0, 1) and `epsilon` >= 0."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_number("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_number("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_epsilon(epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adam(_Moments):
    """Adam: adaptive moment estimation (Kingma & Ba 2014).

    `m = beta_1 * m + (1 - beta_1) * g`, `v = beta_2 * v + (1 - beta_2) * g**2`, and with `t` the update count,
    `w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)`. With `amsgrad`, `v` is replaced by
    its running maximum. Keras adds `epsilon` before the bias correction of `v` and torch after, so torch is given
    `epsilon / sqrt(1 - beta_2**t)` at each step: the update is Keras's exactly.

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        beta_1: the decay of the first-moment average, in [0, 1).
        beta_2: the decay of the second-moment average, in [0, 1).
        epsilon: a small constant for numerical stability.
        amsgrad: use the AMSGrad variant (Reddi et al. 2018).
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Adam(learning_rate=3e-4, amsgrad=True)
    """

    torch_class = torch.optim.Adam
    fused_torch_class = torch.optim.Adam
    _torch_weight_decay = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = bool(amsgrad)

    def _torch_arguments(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "amsgrad": self.amsgrad,
                "weight_decay": self.weight_decay or 0.0, "decoupled_weight_decay": True}

    def _prepare_step(self, params, lr):
        eps = self.epsilon / math.sqrt(1.0 - self.beta_2 ** (self.iterations + 1))
        for group in self.torch_optimizer.param_groups:
            group["eps"] = eps

    def _torch_update(self):
        # torch's functional `adam` on the lists `torch.optim.Adam.step()` would gather: the same update, without
        # step()'s hooks, profiler scope and per-step gathering, which cost more than the kernel in a small model's
        # step (66 us against 46 us for a 3-layer MLP on the CPU). torch's own step runs where the two could differ.
        calls = _functional_adam_calls(self.torch_optimizer)
        if calls is None:
            super()._torch_update()
            return
        for arguments in calls:
            functional_adam(**arguments)

    def get_config(self):
        return {**super().get_config(), "amsgrad": self.amsgrad}


def _functional_adam_calls(optimizer):
    """The arguments of torch's functional `adam`, one set per parameter group, as `torch.optim.Adam.step()` passes
    them; None where that step must run itself: the first update (it creates the state), hooks on the optimizer
    (its own or global ones), torch's GradScaler (`grad_scale`, `found_inf`) or a differentiable optimizer."""
    if step_hooks_set(optimizer) or getattr(optimizer, "grad_scale", None) is not None or \
            getattr(optimizer, "found_inf", None) is not None:
        return None
    state, calls = optimizer.state, []
    for group in optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        states = [state.get(p) for p in params]
        if not all(states) or group["differentiable"]:
            return None
        beta_1, beta_2 = group["betas"]
        calls.append({
            "params": params, "grads": [p.grad for p in params], "exp_avgs": [s["exp_avg"] for s in states],
            "exp_avg_sqs": [s["exp_avg_sq"] for s in states],
            "max_exp_avg_sqs": [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [],
            "state_steps": [s["step"] for s in states], "has_complex": any(p.is_complex() for p in params),
            "amsgrad": group["amsgrad"], "beta1": beta_1, "beta2": beta_2, "lr": group["lr"],
            "weight_decay": group["weight_decay"], "eps": group["eps"], "maximize": group["maximize"],
            "foreach": group["foreach"], "capturable": group["capturable"], "differentiable": False,
            "fused": group["fused"], "decoupled_weight_decay": group["decoupled_weight_decay"]})
    return calls


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): `w -= lr * weight_decay * w`, then Adam's update.

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        weight_decay: the decay rate (required; default 0.004).
        beta_1, beta_2, epsilon, amsgrad: as in `Adam`.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = AdamW(learning_rate=1e-3, weight_decay=0.01)
    """

    torch_class = torch.optim.AdamW
    fused_torch_class = torch.optim.AdamW

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")

    def _torch_arguments(self):
        arguments = super()._torch_arguments()
        del arguments["decoupled_weight_decay"]  # AdamW's decay is always decoupled
        return arguments


class Adamax(_Moments):
    """Adamax: Adam with the infinity norm (Kingma & Ba 2014, section 7).

    `m = beta_1 * m + (1 - beta_1) * g`, `u = max(beta_2 * u, |g|)`,
    `w -= lr / (1 - beta_1**t) * m / (u + epsilon)`. Torch keeps `u + epsilon` as its state and takes the maximum
    with `|g| + epsilon`; adding `epsilon * (1 - beta_2) / beta_2` to that state before each update makes it equal
    Keras's `u + epsilon` exactly.

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        beta_1: the decay of the first-moment average, in [0, 1).
        beta_2: the decay of the infinity norm, in [0, 1).
        epsilon: a small constant for numerical stability.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Adamax(learning_rate=0.002)
    """

    torch_class = torch.optim.Adamax

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)

    def _torch_arguments(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}

    def _prepare_step(self, params, lr):
        if self.beta_2 > 0:
            self._shift_state(params, "exp_inf", self.epsilon * (1.0 - self.beta_2) / self.beta_2)


class Nadam(_Moments):
    """Nadam: Adam with Nesterov momentum (Dozat 2016).

    With `u_t = beta_1 * (1 - 0.5 * 0.96**t)` and `P_t = u_1 * ... * u_t`:
    `m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) + (1 - u_t) * g / (1 - P_t)`,
    `w -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)` (torch's NAdam with `momentum_decay=1`).

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        beta_1: the decay of the first-moment average, in [0, 1).
        beta_2: the decay of the second-moment average, in [0, 1).
        epsilon: a small constant for numerical stability.
        **kwargs: the arguments common to every optimizer (see `Optimizer`). Keras 2's `schedule_decay=` is
            accepted (it replaces the 1 in `0.96**(t * 1)`) and warns once.

    Example:
        >>> optimizer = Nadam(learning_rate=0.002)
    """

    torch_class = torch.optim.NAdam
    _torch_weight_decay = True
    _legacy_names = ("decay", "schedule_decay")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        schedule_decay = kwargs.pop("schedule_decay", None)
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        if schedule_decay is not None:
            warn_legacy("schedule_decay", "`schedule_decay` is a Keras 2 argument of Nadam (Keras 3 fixes it to 1); "
                                          "remove it to get Keras 3's Nadam.")
            self._legacy["schedule_decay"] = check_number("schedule_decay", schedule_decay, 0.0)

    def _torch_arguments(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon,
                "momentum_decay": self._legacy.get("schedule_decay", 1.0),
                "weight_decay": self.weight_decay or 0.0, "decoupled_weight_decay": True}
