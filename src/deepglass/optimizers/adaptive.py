"""Per-weight adaptive rates from squared gradients: RMSprop, Adagrad, Adadelta and Adafactor, on their `torch.optim`
namesakes."""
import math

import torch

from deepglass.optimizers.arguments import check_epsilon, check_number, require_torch_optimizer
from deepglass.optimizers.optimizer import Optimizer


def _scalar_dtype():
    # The dtype torch's optimizers give their step counters.
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients (Hinton 2012).

    `v = rho * v + (1 - rho) * g**2`; `increment = lr * g / sqrt(v + epsilon)` (centered: `v - mean(g)**2 + epsilon`
    under the root, with `mean(g) = rho * mean(g) + (1 - rho) * g`); `w -= increment`, or with momentum
    `m = momentum * m + increment; w -= m`.

    Keras puts `epsilon` inside the square root, torch outside; torch is given `epsilon=0` and keeps `v + epsilon`
    as its state (it starts at `epsilon`, and `epsilon * (1 - rho) / rho` is added before each update), which is
    Keras's update exactly. Momentum is kept equal to Keras's as in `SGD` when the rate changes. With `rho=0` there
    is no state to shift: the denominator is then torch's `|g| + epsilon` instead of `sqrt(g**2 + epsilon)`.

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        rho: the decay of the squared-gradient average, in [0, 1].
        momentum: a float in [0, 1].
        epsilon: a small constant for numerical stability.
        centered: normalise by the estimated variance of the gradient instead of its second moment.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = RMSprop(learning_rate=1e-3, rho=0.9)
    """

    torch_class = torch.optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = check_number("rho", rho, 0.0, 1.0)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_epsilon(epsilon)
        self.centered = bool(centered)

    def _torch_arguments(self):
        return {"alpha": self.rho, "eps": 0.0 if self.rho > 0 else self.epsilon, "momentum": self.momentum,
                "centered": self.centered}

    def _init_torch_state(self):
        if self.rho == 0:
            return
        for p in self._params:
            state = {"step": torch.zeros((), dtype=_scalar_dtype()),
                     "square_avg": torch.full_like(p, self.epsilon, memory_format=torch.preserve_format)}
            if self.momentum > 0:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if self.centered:
                state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            self.torch_optimizer.state[p] = state

    def _prepare_step(self, params, lr):
        if self.rho > 0:
            self._shift_state(params, "square_avg", self.epsilon * (1.0 - self.rho) / self.rho)
        if self.momentum:
            self._rescale_momentum(lr)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad: per-weight rates that shrink with the sum of that weight's squared gradients (Duchi et al. 2011).

    `a = a + g**2` (from `a = initial_accumulator_value`), `w -= lr * g / sqrt(a + epsilon)`. Torch adds its epsilon
    outside the root, so it is given `epsilon=0` and an accumulator that starts at
    `initial_accumulator_value + epsilon`: Keras's update exactly.

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        initial_accumulator_value: the starting value of the accumulators, >= 0.
        epsilon: a small constant for numerical stability.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Adagrad(learning_rate=0.01)
    """

    torch_class = torch.optim.Adagrad
    fused_torch_class = torch.optim.Adagrad

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = check_number("initial_accumulator_value", initial_accumulator_value, 0.0)
        self.epsilon = check_epsilon(epsilon)

    def _torch_arguments(self):
        return {"initial_accumulator_value": self.initial_accumulator_value + self.epsilon, "eps": 0.0}

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta: rates from running averages of squared gradients and squared updates (Zeiler 2012).

    `v = rho * v + (1 - rho) * g**2`, `delta = -sqrt(d + epsilon) / sqrt(v + epsilon) * g`,
    `d = rho * d + (1 - rho) * delta**2`, `w += lr * delta` (torch's rule with the same arguments).

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001; Keras 2 and the paper used 1.0).
        rho: the decay rate, in [0, 1].
        epsilon: a small constant for numerical stability.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Adadelta(learning_rate=1.0, rho=0.95)
    """

    torch_class = torch.optim.Adadelta

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = check_number("rho", rho, 0.0, 1.0)
        self.epsilon = check_epsilon(epsilon)

    def _torch_arguments(self):
        return {"rho": self.rho, "eps": self.epsilon}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adafactor(Optimizer):
    """Adafactor: Adam-like rates from factored second moments, in memory linear in the rows plus the columns
    (Shazeer & Stern 2018).

    At step `t`, with `beta_2_t = 1 - t**beta_2_decay`, `rho_t = min(lr, 1 / sqrt(t))` and
    `alpha_t = max(epsilon_2, rms(w)) * rho_t`: for a weight of 2 or more axes (factored over the last two),
    `r = beta_2_t * r + (1 - beta_2_t) * mean(g**2 + epsilon_1, axis=-1)`,
    `c = beta_2_t * c + (1 - beta_2_t) * mean(g**2 + epsilon_1, axis=-2)`, `v = outer(r / mean(r), c)`; for a vector,
    `v = beta_2_t * v + (1 - beta_2_t) * (g**2 + epsilon_1)`. Then `u = g / sqrt(v)`,
    `w -= alpha_t * u / max(1, rms(u) / clip_threshold)` (`rms(x) = sqrt(mean(x**2))`).

    Torch floors the estimate `v` at `eps1**2` (and `mean(r)` at `eps1`) instead of adding `epsilon_1` to `g**2`;
    it is given `eps1 = sqrt(epsilon_1)`, so the floor is `epsilon_1` and the two rules agree wherever the mean
    squared gradient of a row exceeds `sqrt(epsilon_1)` (1e-15 by default). Torch's Adafactor reads each weight's
    norm to the host at every step, so it synchronises with the device once per weight tensor.

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        beta_2_decay: the exponent of the second-moment decay schedule, <= 0.
        epsilon_1: the regularisation added to the squared gradients, >= 0.
        epsilon_2: the smallest weight scale `alpha_t` uses, >= 0.
        clip_threshold: the largest root mean square of an update, >= 1 (torch's limit).
        relative_step: kept for Keras's API and configs; as in Keras 3 the step is `min(lr, 1 / sqrt(t))` either way.
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Adafactor(learning_rate=1e-2)
    """

    torch_class = getattr(torch.optim, "Adafactor", None)  # torch >= 2.5

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_2_decay = check_number("beta_2_decay", beta_2_decay, high=0.0)
        self.epsilon_1 = check_number("epsilon_1", epsilon_1, 0.0)
        self.epsilon_2 = check_number("epsilon_2", epsilon_2, 0.0)
        self.clip_threshold = check_number("clip_threshold", clip_threshold, 1.0)
        self.relative_step = bool(relative_step)

    def _check_torch_support(self):
        require_torch_optimizer("Adafactor")

    def _torch_arguments(self):
        return {"beta2_decay": self.beta_2_decay, "eps": (math.sqrt(self.epsilon_1), self.epsilon_2),
                "d": self.clip_threshold}

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}
