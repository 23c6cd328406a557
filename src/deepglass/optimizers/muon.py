"""Muon: momentum orthogonalised by Newton-Schulz iterations for matrices, Adam for the other weights; on
`torch.optim.Muon` and `torch.optim.Adam`."""
import math
import re

import torch

from deepglass.optimizers.arguments import check_epsilon, check_number, require_torch_optimizer
from deepglass.optimizers.optimizer import Optimizer

# torch's "match_rms_adamw" rate adjustment is 0.2 * sqrt(max(rows, columns)); Keras's `rms_rate` replaces the 0.2.
_TORCH_RMS_RATE = 0.2


class TorchMuonAdam(torch.optim.Optimizer):
    """`torch.optim.Muon` on the parameter groups marked `"muon": True` and `torch.optim.Adam` on the others, as one
    torch optimizer: one `param_groups` list, one `state`, one `state_dict`.

    Arguments:
        params: parameter groups, each with a `"muon"` flag (Muon's groups hold only matrices).
        lr: the learning rate.
        momentum, nesterov, ns_coefficients, ns_steps: Muon's (see `torch.optim.Muon`).
        betas, eps: Adam's.
        fused, foreach: Adam's kernel choice (torch's Muon has only its for-loop).

    Example:
        >>> optimizer = TorchMuonAdam([{"params": matrices, "muon": True}, {"params": vectors, "muon": False}])
    """

    def __init__(self, params, lr=1e-3, momentum=0.95, nesterov=True, ns_coefficients=(3.4445, -4.775, 2.0315),
                 ns_steps=5, betas=(0.9, 0.999), eps=1e-7, fused=None, foreach=None):
        super().__init__(params, {"lr": lr, "muon": True})
        muon = [g for g in self.param_groups if g["muon"]]
        adam = [g for g in self.param_groups if not g["muon"]]
        # The children share this optimizer's group dicts and state, so what torch's state_dict saves is theirs.
        self._children = [(True, torch.optim.Muon(
            muon, lr=lr, weight_decay=0.0, momentum=momentum, nesterov=nesterov,
            ns_coefficients=tuple(ns_coefficients), ns_steps=ns_steps))] if muon else []
        self._children += [(False, torch.optim.Adam(adam, lr=lr, betas=tuple(betas), eps=eps, fused=fused,
                                                    foreach=foreach))] if adam else []
        self._link()

    def _link(self):
        for is_muon, child in self._children:
            child.param_groups = [g for g in self.param_groups if bool(g["muon"]) is is_muon]
            child.state = self.state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._link()  # torch's load replaces the group dicts and the state

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for _, child in self._children:
            child.step()
        return loss


class Muon(Optimizer):
    """Muon: momentum orthogonalised by Newton-Schulz iterations, for the weight matrices of hidden layers (Jordan
    et al. 2024; Liu et al. 2025); the other weights get Adam.

    For a matrix: `m = momentum * m + g`, `b = g + momentum * m` (Nesterov) or `b = m`, `O = NS5(b / ||b||)`, five
    (`ns_steps`) iterations of `X = a * X + (b * A + c * A @ A) @ X` with `A = X @ X.T` (`a, b, c = muon_a, muon_b,
    muon_c`), which push the singular values of `X` towards 1; then `w -= lr * rms_rate * sqrt(max(rows, columns)) *
    O` (without `rms_rate` when it is None). Weights that are not matrices, embeddings (with `exclude_embeddings`, by
    name) and weights whose name matches a pattern in `exclude_layers` take Adam's step (see `Adam`) with rate
    `lr * adam_lr_ratio`, betas `adam_beta_1`, `adam_beta_2` and `epsilon`. Weight decay, `w -= lr * decay * w`,
    uses `weight_decay` for Muon's matrices and `adam_weight_decay` for Adam's weights.

    Torch's Newton-Schulz iterations run in bfloat16 (as the reference implementation does), Keras's in the weights'
    dtype: the orthogonalised step agrees with Keras's to about 1% (bfloat16 has 8 bits of precision). Names come
    from the `(name, tensor)` pairs given to `build`.

    Arguments:
        learning_rate: a float >= 0, a schedule or a callable (default 0.001).
        adam_beta_1, adam_beta_2: the moment decays of Adam's step, in [0, 1).
        adam_weight_decay: the weight decay of Adam's weights (None: none).
        epsilon: Adam's epsilon.
        weight_decay: the weight decay of Muon's matrices (None: none).
        exclude_layers: regular expressions; weights whose name matches one take Adam's step.
        exclude_embeddings: give weights whose name contains "embedding" Adam's step.
        muon_a, muon_b, muon_c: the Newton-Schulz coefficients.
        adam_lr_ratio: the ratio of Adam's rate to Muon's, >= 0.
        momentum: Muon's momentum, in [0, 1).
        ns_steps: the number of Newton-Schulz iterations, 1 to 99.
        nesterov: use Nesterov momentum.
        rms_rate: the factor that matches the size of Muon's steps to Adam's (None: no rescaling).
        **kwargs: the arguments common to every optimizer (see `Optimizer`).

    Example:
        >>> optimizer = Muon(learning_rate=0.02, exclude_layers=["output"])
    """

    torch_class = TorchMuonAdam
    fused_torch_class = torch.optim.Adam  # Adam's part

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004, epsilon=1e-7,
                 weight_decay=0.004, exclude_layers=None, exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750,
                 muon_c=2.0315, adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)
        self.adam_beta_1 = check_number("adam_beta_1", adam_beta_1, 0.0, 1.0, high_open=True)
        self.adam_beta_2 = check_number("adam_beta_2", adam_beta_2, 0.0, 1.0, high_open=True)
        self.adam_weight_decay = check_number("adam_weight_decay", adam_weight_decay, 0.0, allow_none=True)
        self.epsilon = check_epsilon(epsilon)
        if isinstance(exclude_layers, str) or not all(isinstance(k, str) for k in exclude_layers or ()):
            raise ValueError("Received an invalid value for `exclude_layers`, expected a list of name patterns "
                             f"(strings). Received: exclude_layers={exclude_layers!r}")
        self.exclude_layers = list(exclude_layers or [])
        self.exclude_embeddings = bool(exclude_embeddings)
        self.muon_a, self.muon_b, self.muon_c = (check_number(n, v) for n, v in (
            ("muon_a", muon_a), ("muon_b", muon_b), ("muon_c", muon_c)))
        self.adam_lr_ratio = check_number("adam_lr_ratio", adam_lr_ratio, 0.0)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0, high_open=True)
        if not isinstance(ns_steps, int) or not 0 < ns_steps < 100:
            raise ValueError("Received an invalid value for `ns_steps`, expected an integer from 1 to 99. "
                             f"Received: ns_steps={ns_steps!r}")
        self.ns_steps = ns_steps
        self.nesterov = bool(nesterov)
        self.rms_rate = check_number("rms_rate", rms_rate, 0.0, allow_none=True)

    def _check_torch_support(self):
        require_torch_optimizer("Muon")

    def _uses_adam(self, param):
        name = self._names.get(id(param), "")
        return (param.ndim != 2 or (self.exclude_embeddings and "embedding" in name.lower())
                or any(re.search(pattern, name) for pattern in self.exclude_layers))

    def _param_groups(self, params):
        matrices = [p for p in params if not self._uses_adam(p)]
        others = [p for p in params if self._uses_adam(p)]
        if self.rms_rate is not None:
            groups = [{"params": matrices, "muon": True, "adjust_lr_fn": "match_rms_adamw",
                       "lr_scale": self.rms_rate / _TORCH_RMS_RATE}] if matrices else []
        else:  # undo torch's default adjustment, sqrt(max(1, rows / columns)), one matrix at a time
            groups = [{"params": [p], "muon": True, "adjust_lr_fn": "original",
                       "lr_scale": 1.0 / math.sqrt(max(1.0, p.shape[0] / p.shape[1]))} for p in matrices]
        return groups + ([{"params": others, "muon": False, "lr_scale": self.adam_lr_ratio}] if others else [])

    def _torch_arguments(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov,
                "ns_coefficients": (self.muon_a, self.muon_b, self.muon_c), "ns_steps": self.ns_steps,
                "betas": (self.adam_beta_1, self.adam_beta_2), "eps": self.epsilon}

    def _set_torch_rate(self, lr):
        for group in self.torch_optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]

    def _decay_weights(self, params, lr):
        updated = {id(p) for p in params}
        for group in self.torch_optimizer.param_groups:
            decay = self.weight_decay if group["muon"] else self.adam_weight_decay
            decayed = [p for p in group["params"] if id(p) in updated and self._uses_weight_decay(p)] if decay else []
            if decayed:
                torch._foreach_mul_(decayed, 1.0 - lr * decay)

    def _prepare_step(self, params, lr):
        # Keras adds Adam's epsilon before the bias correction of v, torch after (see `Adam`).
        eps = self.epsilon / math.sqrt(1.0 - self.adam_beta_2 ** (self.iterations + 1))
        for group in self.torch_optimizer.param_groups:
            if not group["muon"]:
                group["eps"] = eps

    def get_config(self):
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
                "epsilon": self.epsilon, "exclude_layers": list(self.exclude_layers), "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c, "adam_lr_ratio": self.adam_lr_ratio,
                "momentum": self.momentum, "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings, "adam_weight_decay": self.adam_weight_decay,
                "rms_rate": self.rms_rate}
