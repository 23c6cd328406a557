"""ProgbarLogger: the `Epoch 1/5` line and the progress bar that `fit`, `evaluate` and `predict` print."""
from deepglass.callbacks.callback import Callback
from deepglass.training.progbar import Progbar


class ProgbarLogger(Callback):
    """Prints the progress bar of `fit` (one per epoch), `evaluate` and `predict` to standard output.

    Takes `verbose`, `epochs` and `steps` from the run's parameters. Validation inside `fit` prints no bar of
    its own: its metrics appear on the epoch's line. Batch logs are read only when the bar is redrawn (at
    most every 0.1 s on a terminal, never elsewhere), so the display costs no synchronisation per step.

    Example:
    >>> model.fit(x, y, epochs=5, callbacks=[ProgbarLogger()])
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit stays silent

    def on_train_end(self, logs=None):
        self._called_in_fit = False

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # the outputs are not metrics

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        # Everything in the logs is already an average over the epoch: show values as given.
        self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step", stateless_metrics=())

    def _update_progbar(self, batch, logs):
        self.seen = batch + 1
        if self.verbose == 1:
            if self.progbar is None:
                self._reset_progbar()
            self.progbar.update(self.seen, logs, finalize=False)

    def _finalize_progbar(self, logs):
        if self.progbar is None:
            self._reset_progbar()
        if self.target is None:
            # The first epoch of data of unknown length counted the steps: later ones know the target.
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, logs or {}, finalize=True)
