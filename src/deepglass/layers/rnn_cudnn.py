"""Recurrent weights laid out in one buffer for cuDNN, as `torch.nn.LSTM.flatten_parameters` lays out its own.

cuDNN reads a layer's weights from one contiguous buffer. Given separate tensors, it copies them into a new buffer at
every call, forward and backward, and warns "RNN module weights are not part of single contiguous chunk of memory".
Here the weights' storage is moved into one buffer once (the same Parameter objects, now views of it), and again
whenever something gives a weight new storage (`.to()`, loading, the end of sharded training).
"""
import torch

_CUDNN_MODES = {torch._VF.lstm: "LSTM", torch._VF.rnn_tanh: "RNN_TANH", torch._VF.rnn_relu: "RNN_RELU"}


def zero_bias(layer, bias):
    """A zero tensor like `bias` for torch's second bias (Keras has one), kept on the layer: a new one per call would
    be one more kernel per step, and could not live in the weights' buffer."""
    zero = layer.__dict__.get("_zero_recurrent_bias")
    if zero is None or zero.shape != bias.shape or zero.dtype != bias.dtype or zero.device != bias.device:
        zero = torch.zeros_like(bias)
        layer.__dict__["_zero_recurrent_bias"] = zero  # a plain attribute: not a weight, not saved
    return zero


def keep_flat(layer, kernel, params):
    """Make `params` (torch's `[weight_ih, weight_hh, bias_ih, bias_hh]`, or the first two) views of one buffer in
    cuDNN's layout, unless they are already; only on CUDA, where cuDNN runs."""
    first = params[0]
    if not first.is_cuda or not torch.backends.cudnn.is_acceptable(first):
        return
    pointers = tuple(p.data_ptr() for p in params)
    if layer.__dict__.get("_flat_pointers") == pointers or len({p.dtype for p in params}) > 1:
        return
    mode = torch.backends.cudnn.rnn.get_cudnn_mode(_CUDNN_MODES[kernel])
    with torch.no_grad():
        torch._cudnn_rnn_flatten_weight(params, len(params), first.shape[1], mode, params[1].shape[1], 0, 1, True,
                                        False)
    layer.__dict__["_flat_pointers"] = tuple(p.data_ptr() for p in params)
