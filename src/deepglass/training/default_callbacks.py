"""Callbacks that `fit` adds by itself, registered by the packages that provide them.

The fit loop sits below packages such as `deepglass.insight` and must not import them; they register a factory
here instead, and `fit` asks every factory for its callback.
"""
_factories = []


def register(factory):
    """Register `factory(**context)`, called at the start of every `fit` with the run's context (`verbose`);
    it returns a `Callback` to add, or None. Registering the same factory again has no effect.

    Example:
    >>> def announce(verbose=None, **context):
    ...     return deepglass.callbacks.LambdaCallback(on_train_end=lambda logs: print("done"))
    >>> deepglass.training.default_callbacks.register(announce)
    """
    if factory not in _factories:
        _factories.append(factory)
    return factory


def unregister(factory):
    """Remove a factory added with `register` (nothing happens when it is not registered)."""
    if factory in _factories:
        _factories.remove(factory)


def factories():
    """The registered factories, in registration order."""
    return list(_factories)


def create(**context):
    """The callbacks the registered factories give for one run (those returning None are left out)."""
    callbacks = (factory(**context) for factory in _factories)
    return [callback for callback in callbacks if callback is not None]
