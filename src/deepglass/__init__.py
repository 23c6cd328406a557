"""deepglass: the Keras API on PyTorch, with insight into training.

`import deepglass as keras` runs Keras programs: define a network, compile it, fit it, evaluate it, use it.
"""
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

__version__ = "0.1.0"
__all__ = ["Initializer", "Input", "InputSpec", "KerasTensor", "Layer", "Loss", "Metric", "Model", "Optimizer",
           "Regularizer", "Sequential", "activations", "callbacks", "clear_session", "config", "constraints",
           "datasets", "initializers", "insight", "layers", "losses", "metrics", "models", "optimizers", "preprocessing",
           "regularizers", "saving", "utils"]
