"""`compile(..., jit_compile=True)`: the forward pass of fit, evaluate and predict through `torch.compile`.

The first batch of each kind (training, inference) and of each size (an epoch's last, smaller batch) pays the
compilation; later ones run the compiled kernels. The
backward pass is compiled with the forward (AOTAutograd); the optimizer step stays torch's fused one. A model that
cannot be compiled (a layer that creates masks, a torch without a working compiler for this device) trains
eagerly after one warning, with the same results.
"""
import warnings

import torch

from deepglass.layers import layer as layer_module


class CompiledForward:
    """Calls `model` through `torch.compile`, falling back to the eager model for good when compiling fails."""

    def __init__(self, model):
        self.model = model
        # One graph per batch shape (the last, smaller batch gets its own): shapes left symbolic make inductor fail
        # on some convolutional models.
        self.compiled = torch.compile(model, dynamic=False)
        self.eager = False

    def __call__(self, *args, **kwargs):
        if self.eager:
            return self.model(*args, **kwargs)
        blocker = _untraceable_layer(self.model)
        if blocker is not None:
            self.eager = True
            warnings.warn(f'jit_compile=True: layer "{blocker.name}" of model "{self.model.name}" makes masks or adds '
                          "losses during its call, which torch.compile cannot trace; the model runs eagerly "
                          "instead.", stacklevel=3)
            return self.model(*args, **kwargs)
        layer_module._compiling[0] = True  # layers take their plain call path, which dynamo can trace
        try:
            return self.compiled(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the eager run below raises the model's own errors
            outputs = self.model(*args, **kwargs)
            self.eager = True
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            warnings.warn(f'jit_compile=True: torch.compile could not compile model "{self.model.name}" '
                          f"({type(error).__name__}: {reason[:300]}); it runs eagerly instead, with the same "
                          "results.", stacklevel=3)
            return outputs
        finally:
            layer_module._compiling[0] = False


def _untraceable_layer(model):
    for module in model.modules():
        if isinstance(module, layer_module.Layer) and module is not model and not module._call_is_plain():
            return module
    return None

