"""FitSummary: the `Insight: ...` line at the end of `fit(..., verbose=1)`, and the per-step losses behind it."""
import torch

from deepglass import config
from deepglass.callbacks.callback import Callback
from deepglass.insight.diagnosis import diagnose
from deepglass.insight.findings import one_line

_CHUNK = 256  # per-step losses are stacked on the device in chunks, so a long run keeps few small tensors


class FitSummary(Callback):
    """Prints a one-line summary of `diagnose`'s findings when training ends, and keeps every step's loss.

    `fit(..., verbose=1)` adds one by itself (turn it off with `deepglass.config.set_insight(False)`). Each
    step's loss stays on the device until training ends, so recording it costs no synchronisation; at the end
    the losses are read once and kept on the History as `history.step_losses` (one list per epoch), where
    `history.diagnose()` finds them.

    Arguments:
        print_fn: the function that prints the line (default `print`).

    Example:
    >>> model.fit(x, y, validation_split=0.2, epochs=30, callbacks=[deepglass.insight.FitSummary()], verbose=0)
    Insight: overfitting from epoch 16 (best epoch 15); consider EarlyStopping(...)
    """

    def __init__(self, print_fn=None):
        super().__init__()
        self.print_fn = print_fn or print
        self.findings = []
        self._chunks = []
        self._pending = []
        self._epoch_steps = []
        self._steps_this_epoch = 0

    def on_train_begin(self, logs=None):
        self._chunks, self._pending, self._epoch_steps = [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._steps_this_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        loss = getattr(self.model, "_step_loss", None)  # the step's loss tensor, which the fit loop keeps
        if loss is None:
            return
        self._pending.append(loss)
        self._steps_this_epoch += 1
        if len(self._pending) == _CHUNK:
            self._chunks.append(torch.stack(self._pending).float())
            self._pending = []

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_steps.append(self._steps_this_epoch)

    def on_train_end(self, logs=None):
        history = self.model.history
        if history is None or not history.history.get("loss"):
            return
        step_losses = self._read_step_losses()
        if step_losses:
            history.step_losses = step_losses
        self.findings = diagnose(history, model=self.model, step_losses=step_losses or None)
        self.print_fn(one_line(self.findings))

    def _read_step_losses(self):
        if self._pending:
            self._chunks.append(torch.stack(self._pending).float())
            self._pending = []
        if not self._chunks:
            return []
        flat = torch.cat(self._chunks).cpu().tolist()  # the one synchronisation, once training is over
        self._chunks = []
        per_epoch, start = [], 0
        for count in self._epoch_steps:
            per_epoch.append(flat[start:start + count])
            start += count
        return per_epoch


def fit_summary_factory(verbose=None, **context):
    """The default-callback factory: a `FitSummary` for `fit(..., verbose=1)` while insight is enabled."""
    return FitSummary() if verbose == 1 and config.insight_enabled() else None
