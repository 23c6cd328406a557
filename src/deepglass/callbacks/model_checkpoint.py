"""ModelCheckpoint: save the model or its weights during training."""
import os
import warnings

import torch

from deepglass.callbacks.monitor_callback import MonitorCallback
from deepglass.distribution.process_group import is_chief

_MODEL_ENDINGS = (".keras", ".h5")
_WEIGHTS_ENDINGS = (".weights.h5", ".safetensors")


class ModelCheckpoint(MonitorCallback):
    """Save the model (`.keras`) or its weights (`.weights.h5`, `.safetensors`) every epoch or every N batches.

    `filepath` may hold `str.format` fields filled from `epoch` (counted from 1), `batch` (for batch-level saves,
    counted from 1) and the logs, e.g. `"ckpt-{epoch:02d}-{val_loss:.2f}.keras"`. Each write is atomic, and a
    checkpoint whose weights contain NaN or infinite values is never written (a warning names the epoch instead).

    Arguments:
        filepath: where to save; `.keras` (or Keras 2's `.h5`) for the whole model, `.weights.h5` or
            `.safetensors` with `save_weights_only=True`.
        monitor: the metric that `save_best_only` compares, a key of the logs.
        verbose: 0 (silent) or 1 (a message for each save or skip).
        save_best_only: save only when `monitor` improves on the best value so far.
        save_weights_only: save only the weights (`model.save_weights`) instead of the model (`model.save`).
        mode: `"auto"`, `"min"` or `"max"`; `"auto"` infers the direction from the metric's name.
        save_freq: `"epoch"`, or an integer: save after every that many training batches.
        initial_value_threshold: the value `monitor` must beat for the first save with `save_best_only`.

    Example:
    >>> checkpoint = ModelCheckpoint("ckpt-{epoch:02d}.keras", monitor="val_loss", save_best_only=True)
    >>> model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[checkpoint])
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: expected 'epoch' or a positive integer number of batches. "
                             f"Received: save_freq={save_freq!r}")
        self.save_freq = save_freq
        endings = _WEIGHTS_ENDINGS if save_weights_only else _MODEL_ENDINGS
        if not self.filepath.endswith(endings):
            expected = "`.weights.h5` or `.safetensors`" if save_weights_only else "`.keras` (or `.h5`)"
            raise ValueError(f"The filepath of ModelCheckpoint with save_weights_only={save_weights_only} must end "
                             f"in {expected}. Received: filepath={self.filepath}")
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch_seen = None
        if save_freq != "epoch":
            # Only a batch-level checkpoint takes the per-batch hook, so epoch saving costs nothing per batch.
            self.on_train_batch_end = self._save_on_batch

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _save_on_batch(self, batch, logs=None):
        """Count batches (a smaller index means a new epoch) and save every `save_freq` of them."""
        seen = batch + 1 if self._last_batch_seen is None or batch <= self._last_batch_seen \
            else batch - self._last_batch_seen
        self._last_batch_seen = batch
        self._batches_since_save += seen
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save_model(self._current_epoch, batch, logs)

    def _save_model(self, epoch, batch, logs):
        if not is_chief():  # several processes train one model: rank 0 alone writes it
            return
        logs = dict(logs or {})  # batch logs are read from the device here, only when a save is due
        filepath = self._get_file_path(epoch, batch, logs)
        current = logs.get(self.monitor)
        if self.save_best_only and current is not None and not self._improved(epoch, current):
            return
        if self.save_best_only and current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
        if not self._weights_are_finite():
            warnings.warn(f"Epoch {epoch + 1}: the model's weights contain NaN or infinite values; the checkpoint "
                          f"{filepath} was not written.", stacklevel=3)
            return
        if self.save_best_only and current is not None:
            self.best = current
        self._write(epoch, filepath)

    def _improved(self, epoch, current):
        if self.monitor_op is None:
            self._set_monitor_op()
        improved = self._is_improvement(current, self.best)
        if self.verbose > 0:
            best = "None" if self.best is None else f"{self.best:.5f}"
            message = (f"{self.monitor} improved from {best} to {current:.5f}" if improved
                       else f"{self.monitor} did not improve from {best}")
            print(f"\nEpoch {epoch + 1}: {message}", flush=True)
        return improved

    def _weights_are_finite(self):
        weights = [w for w in self.model.weights if w.is_floating_point()]
        # One host read per save: whether every weight is finite.
        return not weights or bool(torch.stack([torch.isfinite(w).all() for w in weights]).all())

    def _write(self, epoch, filepath):
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if os.path.isdir(filepath):
            raise IOError(f"ModelCheckpoint's filepath is an existing directory, expected a file path: "
                          f"filepath={filepath}")
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saved model to {filepath}", flush=True)

    def _get_file_path(self, epoch, batch, logs):
        """The filepath with `epoch` (from 1), `batch` (from 1, batch-level saves) and the logs filled in."""
        fields = dict(logs)
        if batch is not None and "batch" not in fields:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**{**fields, "epoch": epoch + 1})
        except KeyError as error:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}"; the logs have no '
                           f"{error}. Available keys: {sorted(fields)}, and `epoch`.") from None
