"""Keras 1/2 argument spellings that course material still uses (`init=`, `W_regularizer=`, `border_mode=`)."""
import warnings

_warned = set()


def rename_legacy_kwargs(owner, kwargs, table):
    """Pop the legacy names in `table` from `kwargs` and return {new name: value}; warn once per spelling."""
    renamed = {}
    for old, new in table.items():
        if old in kwargs:
            renamed[new] = kwargs.pop(old)
            if (owner, old) not in _warned:
                _warned.add((owner, old))
                warnings.warn(f"{owner}: `{old}` is the Keras 1 spelling of `{new}`; use `{new}=` instead.",
                              DeprecationWarning, stacklevel=3)
    return renamed
