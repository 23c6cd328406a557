"""LambdaCallback: a callback made of plain functions."""
from deepglass.callbacks.callback import HOOKS, Callback
from deepglass.naming import lookup

_HOOK_NAMES = {name: name for name in HOOKS}


class LambdaCallback(Callback):
    """A callback whose hooks are the functions given, called with the hook's arguments.

    `on_epoch_begin`/`on_epoch_end` take `(epoch, logs)`, `on_train_begin`/`on_train_end` take `(logs)`, the
    batch hooks take `(batch, logs)` (`logs` passed by keyword). Any other hook of `Callback` can be given
    by name (`on_test_end=...`).

    Arguments:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: functions for those hooks, or `None`.
        **kwargs: functions for other hooks, by hook name.

    Example:
    >>> print_loss = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    >>> model.fit(x, y, callbacks=[print_loss])
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, function in kwargs.items():
            hooks[lookup("callback hook", name, _HOOK_NAMES)] = function
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, function)  # an instance attribute: seen as an override by CallbackList
