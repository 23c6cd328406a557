"""TerminateOnNaN: stop training when the loss becomes NaN or infinite, keeping the last good weights."""
import math

import torch

from deepglass.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite, saying in which epoch and batch.

    The weights that gave the last finite loss are put back (the step that produced a NaN loss has already spoilt
    the weights it updated), so the model stays usable; the optimizer's moments may hold NaN, so compile again
    before training on. Keeping them costs one copy of the weights per step; `restore_good_weights=False` skips it.
    The batch loss is read at every step, so this callback synchronises with the device once per step.

    Arguments:
        raise_error: if `True`, raise a `RuntimeError` at once (no `on_train_end` runs); if `False`, set
            `model.stop_training` so training ends normally.
        restore_good_weights: put back the weights of the last step whose loss was finite.

    Example:
    >>> model.fit(x, y, callbacks=[TerminateOnNaN()])
    """

    def __init__(self, raise_error=False, restore_good_weights=True):
        super().__init__()
        self.raise_error = raise_error
        self.restore_good_weights = restore_good_weights
        self._epoch = 0
        self._state = self._before_step = self._good = None

    def on_train_begin(self, logs=None):
        if self.restore_good_weights:
            self._state = list(self.model.parameters()) + list(self.model.buffers())
            self._before_step = [t.detach().clone() for t in self._state]
            self._good = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self._state is not None:
            with torch.no_grad():
                torch._foreach_copy_(self._before_step, [t.detach() for t in self._state])

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            if self._state is not None:  # the weights this step started from gave a finite loss
                if self._good is None:
                    self._good = [t.clone() for t in self._before_step]
                self._good, self._before_step = self._before_step, self._good
            return
        where = f"epoch {self._epoch + 1}, batch {batch}"
        restored = self._restore()
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at {where}. Loss value: {loss}. "
                               f"Terminating training immediately.{restored}")
        print(f"\n{where.capitalize()}: Invalid loss ({loss}), terminating training.{restored}", flush=True)
        self.model.stop_training = True

    def _restore(self):
        if self._state is None or self._good is None:
            return ""
        with torch.no_grad():
            torch._foreach_copy_([t.detach() for t in self._state], self._good)
        return " The weights of the last step with a finite loss were put back."

    def on_train_end(self, logs=None):
        self._state = self._before_step = self._good = None
