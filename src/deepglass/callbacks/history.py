"""History: the record of each epoch's metrics that `fit` returns."""
from deepglass.callbacks.callback import Callback


class History(Callback):
    """Records each epoch's logs; `fit` adds one and returns it.

    Attributes:
        history: dict from metric name to the list of its values, one per epoch (`history["val_loss"]`).
        epoch: the list of epoch indices recorded.
        params: the run's parameters (`verbose`, `epochs`, `steps`).

    Example:
    >>> history = model.fit(x, y, epochs=3, verbose=0)
    >>> history.history["loss"]   # three floats
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
        if self.model is not None:
            self.model.history = self  # the latest record, also when training stops early

    def diagnose(self, **kwargs):
        """What the learning curves show: `deepglass.insight.diagnose(self, **kwargs)` (a list of findings)."""
        from deepglass.insight import diagnose  # insight sits above callbacks: import it only when asked
        return diagnose(self, **kwargs)
