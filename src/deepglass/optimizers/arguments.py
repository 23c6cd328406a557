"""Argument checks for optimizers: numbers in range, legacy Keras 1/2 spellings, parameter lists."""
import math
import numbers
import warnings

import torch

from deepglass.user_frames import user_stacklevel

_warned = set()


def check_number(name, value, low=None, high=None, low_open=False, high_open=False, allow_none=False):
    """`value` as a float, or a ValueError naming the argument, the range expected and the value received.

    Example:
        >>> check_number("momentum", 0.9, 0.0, 1.0)
        0.9
    """
    if value is None and allow_none:
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if number:
        number = (low is None or (value > low if low_open else value >= low)) and (
            high is None or (value < high if high_open else value <= high))
    if not number:
        expected = _describe(low, high, low_open, high_open)
        raise ValueError(f"Received an invalid value for `{name}`, expected {expected}. Received: {name}={value!r}")
    return float(value)


def check_epsilon(value):
    """`epsilon` as a float >= 0; Keras 2's `epsilon=None` ("the backend's epsilon") is its value then, 1e-7."""
    return 1e-7 if value is None else check_number("epsilon", value, 0.0)


def _describe(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    return "a finite number"


def require_torch_optimizer(name):
    """Raise a RuntimeError saying what to do if the installed torch has no `torch.optim.<name>`."""
    if not hasattr(torch.optim, name):
        raise RuntimeError(f"{name} runs on `torch.optim.{name}`, which torch {torch.__version__} does not have; "
                           "upgrade torch (`pip install -U torch`) to use it.")


def warn_legacy(argument, message):
    """Warn once per process that `argument` is a Keras 1/2 spelling, pointing at the caller's line."""
    if argument in _warned:
        return
    _warned.add(argument)
    warnings.warn(message, DeprecationWarning, stacklevel=user_stacklevel())


def unpack_parameters(params):
    """`(tensors, names)` from an iterable of tensors or of `(name, tensor)` pairs (`module.named_parameters()`),
    without repeats; `names` maps `id(tensor)` to its name where one is known."""
    tensors, names, seen = [], {}, set()
    for item in params:
        name = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, item = item
        if not isinstance(item, torch.Tensor):
            raise ValueError(f"Expected the optimizer's parameters to be torch tensors (`model.trainable_weights`); "
                             f"received an element of type {type(item).__name__}: {item!r}.")
        if id(item) in seen:
            continue
        seen.add(id(item))
        tensors.append(item)
        name = name or getattr(item, "path", None) or getattr(item, "name", None)
        if isinstance(name, str):
            names[id(item)] = name
    return tensors, names
