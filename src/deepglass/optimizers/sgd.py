"""SGD: gradient descent with optional (Nesterov) momentum, on `torch.optim.SGD`."""
import torch

from deepglass.optimizers.arguments import check_number
from deepglass.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent with momentum: `m = momentum * m - lr * g`, then `w += m`
    (Nesterov: `w += momentum * m - lr * g`; without momentum: `w -= lr * g`).

    Torch keeps the velocity without the rate (`b = momentum * b + g`, `w -= lr * b`), which is the same update
    while the rate is constant; when the rate changes, the velocity is rescaled by `old_lr / new_lr` so that the
    update stays Keras's. (A rate of exactly 0 after a non-zero one is the exception: Keras keeps moving the
    weights by the remaining momentum, torch does not move them.)

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.01).
        momentum: a float in [0, 1] that accelerates descent along consistent directions and damps oscillations.
        nesterov: use Nesterov momentum.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    """

    torch_class = torch.optim.SGD
    fused_torch_class = torch.optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _torch_arguments(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov and self.momentum > 0}

    def _prepare_step(self, params, lr):
        if self.momentum:
            self._rescale_momentum(lr)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
