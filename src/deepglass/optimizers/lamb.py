"""Lamb: Adam's step rescaled per weight tensor by a trust ratio (You et al. 2019). torch.optim has no Lamb, so
`TorchLamb` is one, on torch's multi-tensor ops."""
import torch

from deepglass.optimizers.arguments import check_epsilon, check_number
from deepglass.optimizers.optimizer import Optimizer


class TorchLamb(torch.optim.Optimizer):
    """Lamb as a `torch.optim.Optimizer`, with Keras's rule (see `Lamb`).

    Arguments:
        params: the tensors to optimise, or parameter groups.
        lr: the learning rate.
        betas: `(beta_1, beta_2)`, the decays of the first and second moments.
        eps: added to the root of the bias-corrected second moment.
        foreach: update all tensors of a group with torch's multi-tensor (`_foreach_*`) kernels.

    Example:
        >>> optimizer = TorchLamb(model.parameters(), lr=1e-3)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, foreach=None):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "foreach": foreach})

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
            states = [self._state(p) for p in params]
            for state in states:
                state["step"] += 1  # a CPU counter, like torch's optimizers keep: reading it does not synchronise
            steps = [state["step"].item() for state in states]
            update = _foreach_update if group["foreach"] else _single_tensor_update
            update(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                   [s["exp_avg_sq"] for s in states], steps, group["lr"], *group["betas"], group["eps"])
        return loss

    def _state(self, param):
        state = self.state[param]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state


def _trust_ratio(weight_norm, update_norm):
    # ||w|| / ||update||, or 1 where either norm is 0 (a new zero weight, or no update), computed on the device.
    usable = (weight_norm > 0) & (update_norm > 0)
    return torch.where(usable, weight_norm / torch.where(usable, update_norm, 1.0), 1.0)


def _foreach_update(params, grads, averages, squares, steps, lr, beta_1, beta_2, eps):
    torch._foreach_lerp_(averages, grads, 1.0 - beta_1)
    torch._foreach_mul_(squares, beta_2)
    torch._foreach_addcmul_(squares, grads, grads, 1.0 - beta_2)
    denominators = torch._foreach_div(squares, [1.0 - beta_2 ** t for t in steps])
    torch._foreach_sqrt_(denominators)
    torch._foreach_add_(denominators, eps)
    updates = torch._foreach_div(averages, [1.0 - beta_1 ** t for t in steps])
    torch._foreach_div_(updates, denominators)
    ratios = [_trust_ratio(w, u) for w, u in zip(torch._foreach_norm(params), torch._foreach_norm(updates))]
    torch._foreach_mul_(updates, ratios)
    torch._foreach_add_(params, updates, alpha=-lr)


def _single_tensor_update(params, grads, averages, squares, steps, lr, beta_1, beta_2, eps):
    for param, grad, average, square, t in zip(params, grads, averages, squares, steps):
        average.lerp_(grad, 1.0 - beta_1)
        square.mul_(beta_2).addcmul_(grad, grad, value=1.0 - beta_2)
        update = (average / (1.0 - beta_1 ** t)).div_((square / (1.0 - beta_2 ** t)).sqrt_().add_(eps))
        param.add_(update.mul_(_trust_ratio(param.norm(), update.norm())), alpha=-lr)


class Lamb(Optimizer):
    """Lamb: layer-wise adaptive moments, for large batches (You et al. 2019).

    Adam's moments and bias corrections, `m = beta_1 * m + (1 - beta_1) * g`, `v = beta_2 * v + (1 - beta_2) * g**2`,
    `u = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)`; then each weight tensor moves by
    `w -= lr * r * u`, with the trust ratio `r = ||w|| / ||u||` (L2 norms of the whole tensor; `r = 1` where either
    norm is 0).

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        beta_1: the decay of the first-moment average, in [0, 1).
        beta_2: the decay of the second-moment average, in [0, 1).
        epsilon: a small constant for numerical stability.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Lamb(learning_rate=1e-3, weight_decay=0.01)
    """

    torch_class = TorchLamb

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_number("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_number("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_epsilon(epsilon)

    def _torch_arguments(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
