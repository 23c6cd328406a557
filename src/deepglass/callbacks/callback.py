"""Callback: the base class of everything that hooks into fit, evaluate and predict."""
from torch.nn.parallel import DistributedDataParallel

BEGIN_END_HOOKS = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
                   "on_predict_begin", "on_predict_end")
EPOCH_HOOKS = ("on_epoch_begin", "on_epoch_end")
BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
               "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")
HOOKS = BEGIN_END_HOOKS + EPOCH_HOOKS + BATCH_HOOKS
# Keras's base `on_train_batch_*` calls `on_batch_*`, so overriding the alias is overriding the train hook.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class Callback:
    """Base class for callbacks: override the `on_*` hooks for the stages of fit, evaluate and predict.

    `fit` calls `on_train_begin`, then per epoch `on_epoch_begin`, per batch `on_train_batch_begin` and
    `on_train_batch_end`, `on_epoch_end` (validation runs the `on_test_*` hooks before it), and finally
    `on_train_end`. `evaluate` calls the `on_test_*` hooks and `predict` the `on_predict_*` hooks.
    Batch-level `logs` is a mapping whose values may be computed only when read: read it only when needed.
    Epoch-level `logs` is a dict of Python floats.

    Attributes:
        model: the model being trained, evaluated or used.
        params: dict of the run's parameters (`verbose`, `epochs`, `steps`).

    Example:
    >>> class PrintEpoch(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        """Keep the run's parameters (`verbose`, `epochs`, `steps`)."""
        self.params = params

    def set_model(self, model):
        """Keep the model; a `DistributedDataParallel` wrapper is seen through to the model inside it."""
        self._model = model.module if isinstance(model, DistributedDataParallel) else model

    @property
    def model(self):
        """The model these hooks are called for."""
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Alias of `on_train_batch_begin`, kept from Keras 2."""

    def on_batch_end(self, batch, logs=None):
        """Alias of `on_train_batch_end`, kept from Keras 2."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch `epoch` (counted from 0) in `fit`."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of epoch `epoch` with the epoch's metrics (`val_*` ones after validation)."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch `batch` (counted from 0 in each epoch); calls `on_batch_begin`."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after training batch `batch` with the running metrics; calls `on_batch_end`."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before batch `batch` of `evaluate` or of validation in `fit`."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after batch `batch` of `evaluate` or of validation, with the running metrics."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before batch `batch` of `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after batch `batch` of `predict`; `logs["outputs"]` holds the batch's outputs."""

    def on_train_begin(self, logs=None):
        """Called at the start of `fit`."""

    def on_train_end(self, logs=None):
        """Called at the end of `fit` with the last epoch's metrics."""

    def on_test_begin(self, logs=None):
        """Called at the start of `evaluate` or of validation."""

    def on_test_end(self, logs=None):
        """Called at the end of `evaluate` or of validation with its metrics."""

    def on_predict_begin(self, logs=None):
        """Called at the start of `predict`."""

    def on_predict_end(self, logs=None):
        """Called at the end of `predict`."""


def overrides(callback, hook):
    """Whether `callback` does anything in `hook`: a method of its class or a function set on the instance."""
    for name in (hook, _ALIASES[hook]) if hook in _ALIASES else (hook,):
        method = getattr(callback, name)
        if getattr(method, "__func__", method) is not getattr(Callback, name):
            return True
    return False
