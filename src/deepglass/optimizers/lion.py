"""Lion: sign momentum (Chen et al. 2023). torch.optim has no Lion, so `TorchLion` is one, on torch's ops."""
import torch

from deepglass.optimizers.arguments import check_number
from deepglass.optimizers.optimizer import Optimizer


class TorchLion(torch.optim.Optimizer):
    """Lion as a `torch.optim.Optimizer`: `w -= lr * sign(beta_1 * m + (1 - beta_1) * g)`, then
    `m = beta_2 * m + (1 - beta_2) * g`.

    Arguments:
        params: the tensors to optimise, or parameter groups.
        lr: the learning rate.
        betas: `(beta_1, beta_2)`.
        foreach: update all tensors of a group with torch's multi-tensor (`_foreach_*`) kernels.

    Example:
        >>> optimizer = TorchLion(model.parameters(), lr=1e-4)
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), foreach=None):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "foreach": foreach})

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
            grads = [p.grad for p in params]
            averages = []
            for p in params:
                if "exp_avg" not in self.state[p]:
                    self.state[p]["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                averages.append(self.state[p]["exp_avg"])
            update = _foreach_update if group["foreach"] else _single_tensor_update
            update(params, grads, averages, group["lr"], *group["betas"])
        return loss


def _foreach_update(params, grads, averages, lr, beta_1, beta_2):
    directions = torch._foreach_lerp(averages, grads, 1.0 - beta_1)
    torch._foreach_sign_(directions)
    torch._foreach_add_(params, directions, alpha=-lr)
    torch._foreach_lerp_(averages, grads, 1.0 - beta_2)


def _single_tensor_update(params, grads, averages, lr, beta_1, beta_2):
    for param, grad, average in zip(params, grads, averages):
        param.add_(torch.lerp(average, grad, 1.0 - beta_1).sign_(), alpha=-lr)
        average.lerp_(grad, 1.0 - beta_2)


class Lion(Optimizer):
    """Lion: update by the sign of an interpolation of momentum and gradient (Chen et al. 2023).

    `w -= lr * sign(beta_1 * m + (1 - beta_1) * g)`, then `m = beta_2 * m + (1 - beta_2) * g`. Its steps are larger
    than Adam's for the same rate: use a rate 3-10 times smaller (and a weight decay as many times larger).

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        beta_1: the interpolation weight of the momentum in the update, in (0, 1].
        beta_2: the decay of the momentum, in [0, 1].
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Lion(learning_rate=1e-4, weight_decay=0.1)
    """

    torch_class = TorchLion

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_number("beta_1", beta_1, 0.0, 1.0, low_open=True)
        self.beta_2 = check_number("beta_2", beta_2, 0.0, 1.0)

    def _torch_arguments(self):
        return {"betas": (self.beta_1, self.beta_2)}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
