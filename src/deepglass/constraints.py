"""Weight constraints with Keras's names and formulas: `constraint(w) -> w'`, applied after each optimizer step.

`w` is in Keras's layout (a Dense kernel is `(in, out)`, a Conv2D kernel `(kh, kw, in, out)`), so `axis=0`
constrains each output unit's incoming weights of a Dense kernel; for a Conv2D kernel use `axis=[0, 1, 2]`.

Example:
    >>> from deepglass import constraints
    >>> layer = Dense(64, kernel_constraint=constraints.MaxNorm(3))
    >>> constraints.UnitNorm()(torch.tensor([[3.0], [4.0]]))
    tensor([[0.6000], [0.8000]])
"""
import torch

from deepglass import config
from deepglass.serialization import Configurable, Registry


def _norms(w, axis):
    """L2 norms of `w` along `axis` (an int or a list of ints), keeping the reduced axes for broadcasting."""
    return torch.linalg.vector_norm(w, dim=axis if isinstance(axis, int) else tuple(axis), keepdim=True)


class Constraint(Configurable):
    """Base class: a subclass implements `__call__(w)` returning the constrained weight; the base returns `w`.

    Example:
        >>> class Clip(Constraint):
        ...     def __init__(self, limit=1.0):
        ...         self.limit = limit
        ...     def __call__(self, w):
        ...         return w.clamp(-self.limit, self.limit)
        ...     def get_config(self):
        ...         return {"limit": self.limit}
    """

    def __call__(self, w):
        return w


class MaxNorm(Constraint):
    """Rescales the weight vectors along `axis` whose L2 norm exceeds `max_value`.

    `w * clip(norm, 0, max_value) / (epsilon + norm)`, with `epsilon = config.epsilon()`.

    Arguments:
        max_value: the largest norm allowed.
        axis: the axis (or list of axes) the norms are taken over.

    Example:
        >>> MaxNorm(2.0)(torch.tensor([[3.0], [4.0]]))
        tensor([[1.2000], [1.6000]])
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return w * (norms.clamp(0, self.max_value) / (config.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norms of the weight vectors along `axis` into `[min_value, max_value]`.

    `w * desired / (epsilon + norm)` with `desired = rate * clip(norm, min_value, max_value) + (1 - rate) * norm`.

    Arguments:
        min_value: the smallest norm allowed.
        max_value: the largest norm allowed.
        rate: how far to move towards the range at each step; 1.0 clips exactly.
        axis: the axis (or list of axes) the norms are taken over.

    Example:
        >>> MinMaxNorm(min_value=1.0, max_value=2.0)(torch.tensor([[0.3], [0.4]]))
        tensor([[0.6000], [0.8000]])
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (config.epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero: `max(w, 0)`.

    Example:
        >>> NonNeg()(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __call__(self, w):
        return w.clamp(min=0)


class UnitNorm(Constraint):
    """Scales the weight vectors along `axis` to unit L2 norm: `w / (epsilon + norm)`.

    Arguments:
        axis: the axis (or list of axes) the norms are taken over.

    Example:
        >>> UnitNorm(axis=1)(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (config.epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


# Keras 3's lower-case spellings, and Keras 1/2's older ones that course material still uses.
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm
maxnorm, nonneg, unitnorm = MaxNorm, NonNeg, UnitNorm

_registry = Registry(
    "constraint",
    [Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm],
    {"maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm},
)


def serialize(constraint):
    """The constraint as `{"class_name": ..., "config": ...}`.

    Example:
        >>> serialize(MaxNorm(3))
        {'class_name': 'MaxNorm', 'config': {'max_value': 3, 'axis': 0}}
    """
    return _registry.serialize(constraint)


def deserialize(config, custom_objects=None):
    """A constraint from a name (`"max_norm"`) or from what `serialize` returned.

    `custom_objects` maps further class names to classes.
    """
    return _registry.deserialize(config, custom_objects)


def get(identifier):
    """A constraint from None (None), a name, a config dict, a class, or a callable (returned as is).

    Example:
        >>> get("non_neg")
        NonNeg()
    """
    return _registry.get(identifier)
