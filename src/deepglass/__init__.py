"""deepglass: the Keras API on PyTorch, with insight into training.

`import deepglass as keras` runs Keras programs: define a network, compile it, fit it, evaluate it, use it.
"""
import gc as _gc

# The import makes tens of thousands of long-lived objects (torch's operators, deepglass's classes), and the cyclic
# garbage collector would walk them all several times over while it runs, freeing nothing: it waits until the end.
_collecting = _gc.isenabled()
_frozen_before = _gc.get_freeze_count()
_gc.disable()
try:
    from deepglass import activations, callbacks, config, constraints, datasets, initializers, layers, losses, metrics
    from deepglass import models, optimizers, preprocessing, regularizers, saving, utils
    from deepglass import distribution
    from deepglass import dtype_policies, mixed_precision
    from deepglass.dtype_policies import DTypePolicy, FloatDTypePolicy
    from deepglass.initializers import Initializer
    from deepglass.layers import Input, InputSpec, Layer
    from deepglass.layers.symbolic import KerasTensor
    from deepglass.losses import Loss
    from deepglass.metrics import Metric
    from deepglass.models import Model, Sequential
    from deepglass.optimizers import Optimizer
    from deepglass.regularizers import Regularizer
    from deepglass.naming import clear_session
    from deepglass import insight  # noqa: E402  registers the end-of-fit summary with the fit loop
finally:
    # They all sit in the youngest generation now, and the first collection after `enable()` would walk them all
    # (0.1 s). A freeze and an unfreeze move them to the oldest generation without a walk; garbage among them is
    # freed by the next full collection, like any long-lived object's. Not where objects were frozen before the
    # import (before a fork, say): the unfreeze would let those go too.
    if not _frozen_before:
        _gc.freeze()
        _gc.unfreeze()
    if _collecting:
        _gc.enable()
    del _collecting, _frozen_before

__version__ = "0.1.0"
__all__ = ["Initializer", "Input", "InputSpec", "KerasTensor", "Layer", "Loss", "Metric", "Model", "Optimizer",
           "Regularizer", "Sequential", "activations", "callbacks", "clear_session", "config", "constraints",
           "datasets", "initializers", "insight", "layers", "losses", "metrics", "models", "optimizers", "preprocessing",
           "regularizers", "saving", "utils"]
