"""The stateful `Metric` base and the reducing metrics: `Sum`, `Mean`, `MeanMetricWrapper`.

A metric's state is a few torch tensors that live on the device of the first inputs it sees and are updated in
place, so `update_state` never waits for the device and `result()` returns a tensor: the fit loop reads it to the
host only when it shows it.
"""
import functools

import torch

from deepglass import config, naming
from deepglass.losses import (MASK_ATTR, _compute_dtype, _divide_no_nan, _dtype_name, apply_mask,
                              squeeze_or_expand_to_same_rank)


def as_tensor(x, device=None, dtype=None):
    """A detached tensor (metrics never join the autograd graph) on `device` with `dtype` where given. A tensor that
    is already as asked is returned as it is: each detach or cast is an operator call, and evaluate makes several
    per metric and batch, which a small model's GPU step feels."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    elif x.requires_grad:
        x = x.detach()
    if device is not None and x.device != device:
        x = x.to(device)
    return x if dtype is None or x.dtype == dtype else x.to(dtype)


def _first_device(args):
    for arg in args:
        if isinstance(arg, torch.Tensor):
            return arg.device
    return None


def _placed(update_state):
    """Wrap a user-written `update_state`: states follow the inputs' device and no gradient is recorded."""

    @functools.wraps(update_state)
    def wrapper(self, *args, **kwargs):
        device = _first_device(args)
        if device is not None:
            self._to_device(device)
        with torch.no_grad():
            return update_state(self, *args, **kwargs)

    return wrapper


class Metric:
    """Base class of stateful metrics: `update_state` accumulates over batches, `result` reads the value.

    Subclasses create their state in `__init__` (or lazily, on the first batch) with `add_variable`, update it in
    place in `update_state(y_true, y_pred, sample_weight=None)` and compute the value from it in `result()`, which
    returns a tensor. `reset_state` zeroes every state tensor. States are plain tensors kept on the device of the
    inputs: update them in place (`self.total.add_(x)`). The `update_state` of a subclass written outside deepglass
    runs without recording gradients, with its states moved first to the device of its first tensor argument
    (deepglass's own metrics do both themselves, more cheaply).

    Arguments:
        name: the name shown in logs; by default the class name in snake_case, numbered if used before.
        dtype: the float type of the state (default `deepglass.config.floatx()`).

    Example:
        >>> class Count(Metric):
        ...     def __init__(self, name="count", dtype=None):
        ...         super().__init__(name=name, dtype=dtype)
        ...         self.count = self.add_variable((), name="count")
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.count.add_(len(y_true))
        ...     def result(self):
        ...         return self.count
    """

    _direction = None  # "up" when larger is better, "down" when smaller is

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "update_state" in cls.__dict__ and not cls.__module__.startswith("deepglass."):
            cls.update_state = _placed(cls.__dict__["update_state"])

    def __init__(self, name=None, dtype=None):
        self.name = name or naming.unique_name(naming.to_snake_case(type(self).__name__))
        self._dtype = _compute_dtype(dtype)
        self._state_names = []
        self._constant_names = []  # tensors that follow the device but are not reset
        self._device = None

    @property
    def dtype(self):
        """The state's type as a string (`"float32"`)."""
        return _dtype_name(self._dtype)

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="sum", name=None):
        """Create a state tensor of `shape` (zeros, or ones with `initializer="ones"`), store it as attribute `name`
        and return it; `aggregation` is accepted for Keras compatibility."""
        dtype = config.standardize_dtype(dtype) if dtype is not None else self._dtype
        name = name or f"variable_{len(self._state_names)}"
        with torch.inference_mode(False):  # a state made during predict must stay writable afterwards
            value = torch.zeros(tuple(shape), dtype=dtype, device=self._device)
        if initializer == "ones":
            value.fill_(1)
        elif initializer not in (None, "zeros"):
            raise ValueError(f"Metric states start at 'zeros' or 'ones'; received initializer={initializer!r}.")
        self._state_names.append(name)
        setattr(self, name, value)
        return value

    add_weight = add_variable

    def _add_constant(self, name, value):
        """A tensor the computation needs on the device (thresholds, class ids); moved with the states, never reset."""
        self._constant_names.append(name)
        setattr(self, name, torch.as_tensor(value, device=self._device))

    @property
    def variables(self):
        """The state tensors, in creation order."""
        return [getattr(self, name) for name in self._state_names]

    def _to_device(self, device):
        """Move states and constants to `device` (once: after that the check is one comparison)."""
        if device == self._device:
            return
        with torch.inference_mode(False):
            for name in self._state_names + self._constant_names:
                setattr(self, name, getattr(self, name).to(device))
        self._device = device

    def update_state(self, *args, **kwargs):
        """Accumulate statistics from one batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement `update_state`.")

    def result(self):
        """The metric's value from the statistics so far, as a tensor on the states' device."""
        raise NotImplementedError(f"{type(self).__name__} must implement `result`.")

    def reset_state(self):
        """Zero every state, in place and without waiting for the device."""
        for value in self.variables:
            value.zero_()

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the result so far (Keras's behaviour)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Weight `values` and reduce every axis but the first (Keras's rule): per-sample values and their weights."""
    mask = getattr(values, MASK_ATTR, None)
    values = as_tensor(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, values.device, dtype)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, dtype, reduction="sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim = sample_weight.dim()
        if values.dim() > weight_ndim:
            values = reduce_fn(values, dim=tuple(range(weight_ndim, values.dim())))
        sample_weight = sample_weight.expand(values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, dim=tuple(range(1, weight_ndim)))
    if values.dim() > 1:
        values = reduce_fn(values, dim=tuple(range(1, values.dim())))
    return values, sample_weight


class Sum(Metric):
    """The running (weighted) sum of the values given: `sum(values * weights)`.

    Arguments:
        name, dtype: as in `Metric`.

    Example:
        >>> m = Sum()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0])
        >>> m.result()
        tensor(16.)
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, torch.sum, self._dtype)
        self._to_device(values.device)
        self.total.add_(values.sum())

    def result(self):
        return self.total.clone()


class Mean(Metric):
    """The running (weighted) mean of the values given: `sum(values * weights) / sum(weights)`.

    Values with more than one axis are first averaged per sample.

    Arguments:
        name, dtype: as in `Metric`.

    Example:
        >>> m = Mean()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
        >>> m.result()
        tensor(2.)
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, torch.mean, self._dtype)
        self._to_device(values.device)
        self.total.add_(values.sum())
        if sample_weight is not None:
            self.count.add_(sample_weight.sum())
        else:
            self.count.add_(values.shape[0] if values.dim() else 1)

    def result(self):
        return _divide_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The running mean of `fn(y_true, y_pred, **kwargs)`: turns any per-sample function into a metric.

    Arguments:
        fn: a function `(y_true, y_pred, **kwargs)` returning one value per sample (a loss function, say).
        name, dtype: as in `Metric`.
        **kwargs: passed to `fn`.

    Example:
        >>> from deepglass import losses
        >>> m = MeanMetricWrapper(losses.mean_absolute_error, name="mae")
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, MASK_ATTR, None)
        y_pred = as_tensor(y_pred)
        values = self._fn(as_tensor(y_true, y_pred.device), y_pred, **self._fn_kwargs)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, self._dtype, reduction="sum")
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        from deepglass.metrics import _serialize_fn  # the function table lives with the registry
        return {**super().get_config(), "fn": _serialize_fn(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        from deepglass.metrics import _deserialize_fn
        config = dict(config)
        if "fn" in config:
            config["fn"] = _deserialize_fn(config["fn"])
        return cls(**config)


class _FixedWrapper(MeanMetricWrapper):
    """A built-in mean metric around a fixed function: its config is its own arguments (`_keys`)."""

    _fn_default = None
    _keys = ()

    def __init__(self, name=None, dtype=None, **kwargs):
        super().__init__(type(self)._fn_default, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self):
        return {**Metric.get_config(self), **{key: getattr(self, key) for key in self._keys}}
