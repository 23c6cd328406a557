"""Weight penalties with Keras's names and formulas: `regularizer(weight) -> scalar tensor` added to the loss.

Example:
    >>> from deepglass import regularizers
    >>> layer = Dense(64, kernel_regularizer=regularizers.l2(1e-4))
    >>> regularizers.L2(0.5)(torch.tensor([1.0, 2.0]))      # 0.5 * (1 + 4)
    tensor(2.5000)
"""
import math
import numbers

import torch
import torch.nn.functional as F

from deepglass import config
from deepglass.serialization import Configurable, Registry


def _factor(value, name):
    """A finite, non-negative float, or a ValueError naming the argument."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"Expected `{name}` to be a non-negative float; received: {name}={value!r}.")
    return float(value)


class Regularizer(Configurable):
    """Base class: a subclass implements `__call__(weight)` returning a scalar penalty, and `get_config()`.

    Example:
        >>> class MaxAbs(Regularizer):
        ...     def __init__(self, factor=0.01):
        ...         self.factor = factor
        ...     def __call__(self, w):
        ...         return self.factor * w.abs().max()
        ...     def get_config(self):
        ...         return {"factor": self.factor}
    """

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement `get_config()` to be saved.")


class L1(Regularizer):
    """L1 penalty: `l1 * sum(abs(w))`.

    Arguments:
        l1: the factor (None means the default, 0.01).

    Example:
        >>> L1(0.1)(torch.tensor([-1.0, 2.0]))
        tensor(0.3000)
    """

    def __init__(self, l1=0.01):
        self.l1 = _factor(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        return self.l1 * x.abs().sum()

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """L2 penalty: `l2 * sum(w ** 2)` (no factor 1/2, as in Keras; the gradient is `2 * l2 * w`).

    Arguments:
        l2: the factor (None means the default, 0.01).

    Example:
        >>> L2(0.1)(torch.tensor([-1.0, 2.0]))
        tensor(0.5000)
    """

    def __init__(self, l2=0.01):
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return self.l2 * x.square().sum()

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """Both penalties: `l1 * sum(abs(w)) + l2 * sum(w ** 2)`.

    Arguments:
        l1: the L1 factor (None means 0).
        l2: the L2 factor (None means 0).

    Example:
        >>> L1L2(l1=0.1, l2=0.1)(torch.tensor([-1.0, 2.0]))
        tensor(0.8000)
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight towards orthogonality.

    With the rows (columns for `mode="columns"`) L2-normalised to `v_1 ... v_n`:
    `factor * 0.5 * sum_{i != j} |v_i . v_j| / (n * (n - 1) / 2)`.

    Arguments:
        factor: strength of the penalty.
        mode: `"rows"` or `"columns"`. A Dense kernel is `(in, out)`, so its output units are its columns.

    Example:
        >>> OrthogonalRegularizer(factor=1.0)(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        tensor(0.7071)
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f'Expected `mode` to be "rows" or "columns"; received: mode={mode!r}.')
        self.mode = mode

    def __call__(self, inputs):
        if inputs.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer applies to rank-2 weights; received shape={tuple(inputs.shape)}. "
                "Use it on Dense kernels."
            )
        vectors = inputs if self.mode == "rows" else inputs.T
        vectors = F.normalize(vectors, dim=1, eps=config.epsilon())
        product = vectors @ vectors.T
        size = product.shape[0]
        off_diagonal = product * (1.0 - torch.eye(size, dtype=product.dtype, device=product.device))
        return self.factor * 0.5 * off_diagonal.abs().sum() / (size * (size - 1) / 2.0)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's lower-case spellings. `l1_l2` is the class, so its defaults are 0 (Keras 3), not Keras 2's 0.01.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_registry = Registry("regularizer", [Regularizer, L1, L2, L1L2, OrthogonalRegularizer], {"l1_l2": L1L2})


def serialize(regularizer):
    """The regularizer as `{"class_name": ..., "config": ...}`.

    Example:
        >>> serialize(L2(0.001))
        {'class_name': 'L2', 'config': {'l2': 0.001}}
    """
    return _registry.serialize(regularizer)


def deserialize(config, custom_objects=None):
    """A regularizer from a name (`"l2"`) or from what `serialize` returned.

    `custom_objects` maps further class names to classes.
    """
    return _registry.deserialize(config, custom_objects)


def get(identifier):
    """A regularizer from None (None), a name, a config dict, a class, or a callable (returned as is).

    Example:
        >>> get("l2")
        L2(l2=0.01)
    """
    return _registry.get(identifier)
