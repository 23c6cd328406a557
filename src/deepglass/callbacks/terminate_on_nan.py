"""TerminateOnNaN: stop training when the loss becomes NaN or infinite."""
import math

from deepglass.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite, saying in which epoch and batch.

    The batch loss is read at every step, so this callback synchronises with the device once per step.

    Arguments:
        raise_error: if `True`, raise a `RuntimeError` at once (no `on_train_end` runs); if `False`, set
            `model.stop_training` so training ends normally.

    Example:
    >>> model.fit(x, y, callbacks=[TerminateOnNaN()])
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        where = f"epoch {self._epoch + 1}, batch {batch}"
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at {where}. Loss value: {loss}. "
                               "Terminating training immediately.")
        print(f"\n{where.capitalize()}: Invalid loss ({loss}), terminating training", flush=True)
        self.model.stop_training = True
