"""LearningRateScheduler: set the learning rate at the start of each epoch from a schedule function."""
import inspect
import numbers

from deepglass.callbacks.callback import Callback


def _takes_learning_rate(schedule):
    """Whether `schedule` takes `(epoch, lr)` rather than `(epoch)`."""
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):
        return None  # no signature (some builtins): try both, as Keras does
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def _as_learning_rate(value):
    """A Python float from the schedule's output: a real number or a 0-d array or tensor."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) or getattr(value, "ndim", None) == 0:
        return float(value)
    raise ValueError(f"The output of the `schedule` function should be a float. Received: {value!r} of type "
                     f"{type(value).__name__}; return the new learning rate as a number, e.g. `lr * 0.9`.")


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch to `schedule(epoch, lr)`.

    `schedule` takes the epoch index (from 0) and the current learning rate and returns the new rate;
    a function of the epoch alone, `schedule(epoch)`, is accepted too. The rate is added to the epoch
    logs as `learning_rate`, so `History` records it.

    Arguments:
        schedule: a function `(epoch, lr) -> lr` or `(epoch) -> lr`.
        verbose: 0 (quiet) or 1 (a message at each epoch).

    Example:
    >>> def scheduler(epoch, lr):
    ...     return lr if epoch < 10 else lr * math.exp(-0.1)
    >>> model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(scheduler)], verbose=0)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _takes_learning_rate(schedule)

    def _new_learning_rate(self, epoch, lr):
        if self._takes_lr is None:
            try:
                return self.schedule(epoch, lr)
            except TypeError:
                return self.schedule(epoch)
        return self.schedule(epoch, lr) if self._takes_lr else self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError(f"LearningRateScheduler expected an optimizer with a `learning_rate`, received "
                             f"{type(optimizer).__name__}; compile the model with a deepglass optimizer.")
        learning_rate = _as_learning_rate(self._new_learning_rate(epoch, float(optimizer.learning_rate)))
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.",
                  flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
