"""FTRL-Proximal: follow the regularized leader (McMahan et al. 2013). torch.optim has no FTRL, so `TorchFtrl` is one,
on torch's multi-tensor ops."""
import torch

from deepglass.optimizers.arguments import check_number
from deepglass.optimizers.optimizer import Optimizer


class TorchFtrl(torch.optim.Optimizer):
    """FTRL as a `torch.optim.Optimizer`, with Keras's rule (see `Ftrl`).

    Arguments:
        params: the tensors to optimise, or parameter groups.
        lr: the learning rate.
        lr_power: the power of the accumulator in the per-weight rate, <= 0.
        initial_accumulator_value: the starting value of the squared-gradient sums, >= 0.
        l1, l2: the strengths of the L1 and the (stabilising) L2 regularisation.
        l2_shrinkage: the strength of the L2 penalty added to the gradient (`g + 2 * l2_shrinkage * w`).
        beta: the `beta` of the paper's per-weight rate (`(beta + sqrt(n)) / lr`).
        foreach: update all tensors of a group with torch's multi-tensor (`_foreach_*`) kernels.

    Example:
        >>> optimizer = TorchFtrl(model.parameters(), lr=0.1, l1=0.01)
    """

    def __init__(self, params, lr=1e-3, lr_power=-0.5, initial_accumulator_value=0.1, l1=0.0, l2=0.0,
                 l2_shrinkage=0.0, beta=0.0, foreach=None):
        super().__init__(params, {"lr": lr, "lr_power": lr_power, "l1": l1, "l2": l2, "l2_shrinkage": l2_shrinkage,
                                  "initial_accumulator_value": initial_accumulator_value, "beta": beta,
                                  "foreach": foreach})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self._state(p, group["initial_accumulator_value"]) for p in params]
            update = _foreach_update if group["foreach"] else _single_tensor_update
            update(params, [p.grad for p in params], [s["accumulator"] for s in states],
                   [s["linear"] for s in states], group)
        return loss

    def _state(self, param, initial_accumulator_value):
        state = self.state[param]
        if not state:
            state["accumulator"] = torch.full_like(param, initial_accumulator_value,
                                                   memory_format=torch.preserve_format)
            state["linear"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state


def _foreach_update(params, grads, accumulators, linears, group):
    lr, power, l1 = group["lr"], -group["lr_power"], group["l1"]
    l2 = group["l2"] + group["beta"] / (2.0 * lr)
    shrunk = torch._foreach_add(grads, params, alpha=2.0 * group["l2_shrinkage"]) if group["l2_shrinkage"] else grads
    new_accumulators = torch._foreach_addcmul(accumulators, grads, grads)
    new_powers = torch._foreach_pow(new_accumulators, power)
    sigmas = torch._foreach_sub(new_powers, torch._foreach_pow(accumulators, power))
    torch._foreach_div_(sigmas, lr)
    torch._foreach_add_(linears, shrunk)
    torch._foreach_addcmul_(linears, sigmas, params, value=-1.0)
    quadratics = torch._foreach_div(new_powers, lr)
    torch._foreach_add_(quadratics, 2.0 * l2)
    weights = torch._foreach_clamp_max(torch._foreach_clamp_min(linears, -l1), l1)
    torch._foreach_sub_(weights, linears)
    torch._foreach_div_(weights, quadratics)
    torch._foreach_copy_(params, weights)
    torch._foreach_copy_(accumulators, new_accumulators)


def _single_tensor_update(params, grads, accumulators, linears, group):
    lr, power, l1 = group["lr"], -group["lr_power"], group["l1"]
    l2 = group["l2"] + group["beta"] / (2.0 * lr)
    for param, grad, accumulator, linear in zip(params, grads, accumulators, linears):
        shrunk = grad + 2.0 * group["l2_shrinkage"] * param if group["l2_shrinkage"] else grad
        new_accumulator = accumulator.addcmul(grad, grad)
        new_power = new_accumulator.pow(power)
        linear.add_(shrunk).sub_((new_power - accumulator.pow(power)).div_(lr).mul_(param))
        param.copy_((linear.clamp(-l1, l1) - linear).div_(new_power.div_(lr).add_(2.0 * l2)))
        accumulator.copy_(new_accumulator)


class Ftrl(Optimizer):
    """FTRL-Proximal: follow the regularized leader (McMahan et al. 2013), for wide, sparse linear models.

    With `n` the sum of squared gradients (from `initial_accumulator_value`), `p = learning_rate_power` and
    `g' = g + 2 * l2_shrinkage_regularization_strength * w`:
    `sigma = ((n + g**2)**(-p) - n**(-p)) / lr`, `n = n + g**2`, `z = z + g' - sigma * w`, then
    `w = (clip(z, -l1, l1) - z) / (n**(-p) / lr + 2 * (l2 + beta / (2 * lr)))`: zero where `|z| <= l1`, which is
    what makes FTRL's weights sparse.

    Arguments:
        learning_rate: a float > 0, a schedule or a callable (default 0.001).
        learning_rate_power: how fast the per-weight rates fall as gradients accumulate, <= 0 (0: fixed rates).
        initial_accumulator_value: the starting value of `n`, >= 0.
        l1_regularization_strength: `l1` above, >= 0.
        l2_regularization_strength: `l2` above (a stabilising penalty), >= 0.
        l2_shrinkage_regularization_strength: an L2 penalty on the weights' magnitude, added to the gradient, >= 0.
        beta: the paper's `beta`, >= 0.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Ftrl(learning_rate=0.1, l1_regularization_strength=0.01)
    """

    torch_class = TorchFtrl

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.learning_rate_power = check_number("learning_rate_power", learning_rate_power, high=0.0)
        self.initial_accumulator_value = check_number("initial_accumulator_value", initial_accumulator_value, 0.0)
        self.l1_regularization_strength = check_number("l1_regularization_strength", l1_regularization_strength, 0.0)
        self.l2_regularization_strength = check_number("l2_regularization_strength", l2_regularization_strength, 0.0)
        self.l2_shrinkage_regularization_strength = check_number(
            "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, 0.0)
        self.beta = check_number("beta", beta, 0.0)

    def _torch_arguments(self):
        return {"lr_power": self.learning_rate_power, "initial_accumulator_value": self.initial_accumulator_value,
                "l1": self.l1_regularization_strength, "l2": self.l2_regularization_strength,
                "l2_shrinkage": self.l2_shrinkage_regularization_strength, "beta": self.beta}

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
