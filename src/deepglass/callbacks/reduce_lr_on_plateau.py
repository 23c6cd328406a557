"""ReduceLROnPlateau: lower the learning rate when a monitored metric has stopped improving."""
import warnings

import numpy as np

from deepglass.callbacks.monitor_callback import MonitorCallback


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when a metric has stopped improving: `new_lr = max(lr * factor, min_lr)`.

    After `patience` epochs without an improvement larger than `min_delta`, the optimizer's learning rate
    is multiplied by `factor`; then `cooldown` epochs pass before the wait starts again. The learning rate
    is added to the epoch logs as `learning_rate`, so `History` records it.

    Arguments:
        monitor: the metric to watch, a key of the epoch logs.
        factor: the factor the learning rate is multiplied by, below 1.
        patience: epochs without improvement after which the rate is reduced.
        verbose: 0 (quiet) or 1 (a message at each reduction).
        mode: `"auto"`, `"min"` or `"max"`; `"auto"` infers the direction from the metric's name.
        min_delta: the least change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the lowest learning rate.

    Example:
    >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    >>> model.fit(x, y, validation_split=0.2, callbacks=[reduce_lr])
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        if "epsilon" in kwargs:  # Keras 2's name for min_delta
            warnings.warn("`epsilon` argument is deprecated, use `min_delta` instead.", stacklevel=2)
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            warnings.warn(f"ReduceLROnPlateau ignores the unknown arguments {sorted(kwargs)}.", stacklevel=2)
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("Received an invalid value for `factor`, expected a float below 1.0 (the rate is "
                             f"multiplied by it). Received: factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = {} if logs is None else logs
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=3)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce_lr(self, epoch):
        optimizer = self.model.optimizer
        old_lr = float(optimizer.learning_rate)
        # Compared in float32, the optimizer's precision: a rate stored as min_lr never counts as above it.
        if np.float32(old_lr) <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.", flush=True)
        return True

    def in_cooldown(self):
        """Whether the callback is waiting out the cooldown after a reduction."""
        return self.cooldown_counter > 0
