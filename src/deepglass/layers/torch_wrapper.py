"""TorchModuleWrapper: use any `torch.nn.Module` as a deepglass layer."""
from deepglass.layers.layer import Layer, module_entries


class TorchModuleWrapper(Layer):
    """Wraps a `torch.nn.Module` so it can sit in a Sequential or functional model and be trained by `fit`.

    The module's parameters are the layer's trainable weights and its floating-point buffers (batch-norm
    statistics, say) its non-trainable weights, in torch's layouts. The module computes on torch's own layout, so
    an `nn.Conv2d` inside expects `(batch, channels, height, width)` inputs.

    Arguments:
        module: the module to wrap.
        output_shape: optional output shape without the batch axis; found by running the module when omitted.

    Example:
        >>> layer = deepglass.layers.TorchModuleWrapper(torch.nn.Linear(4, 2))
        >>> layer(torch.ones(3, 4)).shape
        torch.Size([3, 2])
    """

    def __init__(self, module, output_shape=None, **kwargs):
        super().__init__(**kwargs)
        import torch
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"TorchModuleWrapper expects a torch.nn.Module; got {type(module).__name__}.")
        self.module = module
        self._output_shape = None if output_shape is None else tuple(output_shape)
        module.train(False)

    def call(self, inputs, *args, **kwargs):
        return self.module(inputs, *args, **kwargs)

    def _own_entries(self, trainable=None):
        return module_entries(self.module, trainable)

    def _weight_triples(self, which="all"):
        if which == "trainable" and not self.trainable:
            return []
        return self._own_entries(None if which == "all" or not self.trainable else which == "trainable")

    def compute_output_shape(self, input_shape):
        if self._output_shape is not None:
            return (input_shape[0],) + self._output_shape
        return super().compute_output_shape(input_shape)

    def get_config(self):
        raise TypeError(
            f'TorchModuleWrapper "{self.name}" wraps arbitrary Python code, which has no config; save its weights '
            "with save_weights / state_dict and rebuild the model in code.")
