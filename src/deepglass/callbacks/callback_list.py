"""CallbackList: calls each hook on the callbacks that override it, and says which batch hooks are live."""
from deepglass.callbacks.callback import HOOKS, Callback, overrides
from deepglass.callbacks.history import History
from deepglass.callbacks.progbar_logger import ProgbarLogger
from deepglass.naming import lookup

_KINDS = {"train": "train", "test": "test", "predict": "predict"}


def _flatten(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        return [cb for item in callbacks for cb in _flatten(item)]
    if not isinstance(callbacks, Callback):
        raise TypeError(f"Expected `callbacks` to hold `deepglass.callbacks.Callback` instances, received: "
                        f"{callbacks!r} of type {type(callbacks).__name__}; subclass `Callback` and override "
                        "its `on_*` methods.")
    return [callbacks]


def _begin_end_hook(name):
    def hook(self, logs=None):
        if name.endswith("_begin"):
            self._refresh()  # picks up callbacks added to `self.callbacks` since construction
        logs = dict(logs) if logs else {}  # callbacks may add keys (learning_rate): keep the caller's dict
        for method in self._hooks[name]:
            method(logs)
    hook.__name__ = hook.__qualname__ = name
    hook.__doc__ = f"Call `{name}(logs)` on the callbacks that override it."
    return hook


def _epoch_hook(name):
    def hook(self, epoch, logs=None):
        logs = dict(logs) if logs else {}
        for method in self._hooks[name]:
            method(epoch, logs)
    hook.__name__ = hook.__qualname__ = name
    hook.__doc__ = f"Call `{name}(epoch, logs)` on the callbacks that override it (all get the same dict)."
    return hook


def _batch_hook(name):
    def hook(self, batch, logs=None):
        # Batch logs pass through untouched: copying would read a lazy mapping's values.
        if logs is None:
            logs = {}
        for method in self._hooks[name]:
            method(batch, logs=logs)
    hook.__name__ = hook.__qualname__ = name
    hook.__doc__ = f"Call `{name}(batch, logs=logs)` on the callbacks that override it; `logs` is not read."
    return hook


class CallbackList(Callback):
    """Container that calls each hook on every callback that overrides it, in the order given.

    Which callbacks override which hook is worked out once, when the callbacks are set (and again at the
    start of each fit, evaluate or predict), so a hook nobody overrides costs one empty loop, and
    `needs_batch_hooks(kind)` tells the loop whether per-batch logs are needed at all.

    Arguments:
        callbacks: a `Callback` or a (nested) list of them.
        add_history: add a `History` callback, unless one is in `callbacks`; the model's `history` is it.
        add_progbar: add a `ProgbarLogger`, unless one is in `callbacks`.
        model: the model the callbacks are used with.
        **params: the run's parameters (`verbose`, `epochs`, `steps`), passed to every callback.

    Example:
    >>> callbacks = CallbackList([EarlyStopping(patience=2)], add_history=True, model=model,
    ...                          verbose=0, epochs=10, steps=100)
    >>> callbacks.needs_batch_hooks("train")
    False
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = _flatten(callbacks)
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)
        self._refresh()

    def _refresh(self):
        self._hooks = {name: [getattr(cb, name) for cb in self.callbacks if overrides(cb, name)]
                       for name in HOOKS}

    def append(self, callback):
        """Add a callback (or a list of them) at the end, giving it the model and parameters already set."""
        for added in _flatten(callback):
            if self.model is not None:
                added.set_model(self.model)
            if self.params:
                added.set_params(self.params)
            self.callbacks.append(added)
        self._refresh()

    def set_model(self, model):
        """Give every callback the model, and make the `History` callback the model's `history`."""
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params):
        """Give every callback the run's parameters."""
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def needs_batch_hooks(self, kind):
        """Whether any callback overrides a batch hook of `kind` (`"train"`, `"test"` or `"predict"`).

        When false, the loop may skip building per-batch logs and calling the batch hooks.
        """
        kind = lookup("batch hook kind", kind, _KINDS)
        return bool(self._hooks[f"on_{kind}_batch_begin"] or self._hooks[f"on_{kind}_batch_end"])

    on_train_begin = _begin_end_hook("on_train_begin")
    on_train_end = _begin_end_hook("on_train_end")
    on_test_begin = _begin_end_hook("on_test_begin")
    on_test_end = _begin_end_hook("on_test_end")
    on_predict_begin = _begin_end_hook("on_predict_begin")
    on_predict_end = _begin_end_hook("on_predict_end")
    on_epoch_begin = _epoch_hook("on_epoch_begin")
    on_epoch_end = _epoch_hook("on_epoch_end")
    on_batch_begin = _batch_hook("on_batch_begin")
    on_batch_end = _batch_hook("on_batch_end")
    on_train_batch_begin = _batch_hook("on_train_batch_begin")
    on_train_batch_end = _batch_hook("on_train_batch_end")
    on_test_batch_begin = _batch_hook("on_test_batch_begin")
    on_test_batch_end = _batch_hook("on_test_batch_end")
    on_predict_batch_begin = _batch_hook("on_predict_batch_begin")
    on_predict_batch_end = _batch_hook("on_predict_batch_end")

