"""Mixed precision: float32 weights, float16 or bfloat16 computation under `torch.autocast`, loss scaling for float16.

Set a policy for every layer created afterwards, or give one layer its own with `dtype=`:

Example:
    >>> from deepglass import mixed_precision
    >>> mixed_precision.set_global_policy("mixed_float16")   # on a GPU; "mixed_bfloat16" where bfloat16 is native
    >>> model = deepglass.Sequential([deepglass.Input((784,)), deepglass.layers.Dense(10)])
    >>> model.layers[0].compute_dtype, model.layers[0].variable_dtype
    ('float16', 'float32')
    >>> model.compile("adam", "sparse_categorical_crossentropy")   # wraps the optimizer in a LossScaleOptimizer
    >>> mixed_precision.set_global_policy("float32")
"""
from deepglass.mixed_precision.policy import (DTypePolicy, dtype_policy, global_policy, set_dtype_policy,
                                              set_global_policy)
from deepglass.optimizers.loss_scale_optimizer import LossScaleOptimizer

Policy = DTypePolicy  # Keras 2's name, kept by Keras 3

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy", "set_global_policy",
           "LossScaleOptimizer"]
