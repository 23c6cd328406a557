"""Model export for inference without deepglass: ONNX (`.onnx`), torch.export programs (`.pt2`) and TorchScript
(`.pt`).

Example:
    >>> model.export("model.onnx")                  # run with onnxruntime
    >>> model.export("model.pt2")                   # torch.export.load("model.pt2").module()(x)
    >>> model.export("model.onnx", input_signature=(None, 28, 28, 1))

The batch axis stays dynamic in every format; the other axes are fixed at the sizes of the example inputs.
"""
import contextlib
import io
import os
import warnings

import numpy as np
import torch

from deepglass import config
from deepglass.naming import lookup
from deepglass.saving.atomic import atomic_open
from deepglass.utils import tree

# A batch of 1 would be fixed as a constant by torch.export (it specialises sizes 0 and 1), so examples use 2.
_EXAMPLE_BATCH = 2
_ONNX_OPSET = 17  # understood by every onnxruntime from 1.16 on


def export_model(model, filepath, format=None, input_signature=None, verbose=True):
    """Write `model` for inference in `format` ("onnx", "torch"/"torch_export" or "torchscript"; by default from the
    file ending).

    Arguments:
        model: a built deepglass model.
        filepath: where to write; the write is atomic.
        format: `"onnx"` (`.onnx`, through torch's TorchScript-based ONNX exporter), `"torch"` (alias
            `"torch_export"`, `.pt2`, through `torch.export.export` and `torch.export.save`) or `"torchscript"`
            (`.pt`, through `torch.jit.trace`); `None` takes it from the file ending.
        input_signature: what the example inputs look like: a shape with the batch axis (`(None, 784)`), a list of
            shapes (one per model input), an example array, or a list of arrays; `None` uses `model.inputs`.
        verbose: print where the file was written.

    Example:
        >>> export_model(model, "mnist.onnx")
    """
    filepath = os.fspath(filepath)
    writer = _writer(filepath, format)
    examples = _examples(model, input_signature)
    module = _Positional(model, multiple=len(examples) > 1)
    with _inference_mode(model), atomic_open(filepath) as file:
        writer(module, examples, file, _input_names(model, len(examples)))
    if verbose:
        print(f"Saved artifact at '{filepath}'.")


def _writer(filepath, format):
    endings = {".onnx": "onnx", ".pt2": "torch", ".pt": "torchscript"}
    if format is None:
        format = next((name for end, name in endings.items() if filepath.lower().endswith(end)), None)
        if format is None:
            raise ValueError(f"Cannot tell the export format from the file name {filepath!r}, expected one ending in "
                             f"{' or '.join(endings)}; pass format= (one of onnx, torch, torch_export, "
                             "torchscript).")
    return lookup("export format", format, {"onnx": _write_onnx, "torch": _write_torch_export,
                                            "torch_export": _write_torch_export, "torchscript": _write_torchscript})


class _Positional(torch.nn.Module):
    """The model called with one positional tensor per input, in inference mode, as exporters expect."""

    def __init__(self, model, multiple):
        super().__init__()
        self.model = model
        self.multiple = multiple
        self.call_kwargs = model._mode_kwargs(False)

    def forward(self, *inputs):
        return self.model(list(inputs) if self.multiple else inputs[0], **self.call_kwargs)


@contextlib.contextmanager
def _inference_mode(model):
    """Put every sub-module in inference mode (Dropout off, BatchNormalization on its moving statistics), then
    restore each one's own mode."""
    modes = [(module, module.training) for module in model.modules()]
    model.train(False)
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


# ------------------------------------------------------------------------------------------------ example inputs
def _examples(model, signature):
    """One example tensor per model input, on the model's device, with a batch of at least 2."""
    if signature is None:
        signature = _model_input_specs(model)
    items = [signature] if _is_shape(signature) or not isinstance(signature, (list, tuple)) else list(signature)
    device = next(iter(model.parameters()), torch.zeros(0)).device
    return tuple(_example(item).to(device) for item in items)


def _model_input_specs(model):
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(f'Model "{model.name}" has no known input shape, expected a model built on Input(...); pass '
                         "input_signature=(None, ...) with the shape of its inputs.")
    return list(inputs)


def _is_shape(value):
    return isinstance(value, (list, tuple)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool)) for d in value)


def _example(item):
    if isinstance(item, (np.ndarray, torch.Tensor)):
        tensor = torch.as_tensor(item)
        if tensor.is_floating_point():  # NumPy's float64 default would not fit float32 weights
            tensor = tensor.to(getattr(torch, config.floatx()))
        return torch.cat([tensor, tensor]) if tensor.dim() and tensor.shape[0] == 1 else tensor
    if _is_shape(item):
        return _zeros(tuple(item), config.floatx())
    if hasattr(item, "shape") and hasattr(item, "dtype"):  # a KerasTensor or another shape-and-dtype spec
        return _zeros(tuple(item.shape), item.dtype)
    raise TypeError(f"Received an invalid input_signature entry, expected a shape such as (None, 784), an array or "
                    f"a symbolic input. Received: {item!r}")


def _zeros(shape, dtype):
    if not shape or any(d is None for d in shape[1:]):
        raise ValueError(f"Cannot export for inputs of shape {shape}, expected a batch axis followed by known sizes; "
                         "pass input_signature with every axis but the first given, e.g. (None, 128, 16).")
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    return torch.zeros((_EXAMPLE_BATCH if shape[0] in (None, 1) else shape[0],) + tuple(shape[1:]), dtype=dtype)


def _input_names(model, count):
    try:
        names = [tensor.name for tensor in model.inputs]
    except (AttributeError, ValueError, TypeError):
        names = []
    return names if len(names) == count and len(set(names)) == count else [f"input_{i}" for i in range(count)]


# ------------------------------------------------------------------------------------------------------- writers
def _write_onnx(module, examples, file, input_names):
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; fail early with the fix)
    except ImportError as error:
        raise ImportError("Exporting to ONNX needs the onnx package, which is not installed; install it with "
                          "pip install 'deepglass[onnx]'.") from error
    output_names = [f"output_{i}" for i in range(len(tree.flatten(module(*examples))))]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), _movedim_with_positive_axes():
        # The TorchScript-based exporter is deprecated in favour of one that needs onnxscript; it works offline.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, examples, buffer, dynamo=False, opset_version=_ONNX_OPSET,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes={name: {0: "batch"} for name in input_names + output_names})
    file.write(buffer.getvalue())


@contextlib.contextmanager
def _movedim_with_positive_axes():
    """Export `movedim` as a Transpose with axes in [0, rank) while the export runs.

    The exporter's own `movedim` writes negative axes as they are (`movedim(-1, 1)` gives perm [0, -1, 1, 2]), which
    ONNX forbids and its Transpose-merging pass reads out of bounds; convolutions and pooling use `movedim(-1, 1)` to
    take channels-last data.
    """
    from torch.onnx import symbolic_helper

    @symbolic_helper.parse_args("v", "t", "t")
    def movedim(g, x, source, destination):
        rank = x.type().dim()
        moves = sorted((d % rank, s % rank) for s, d in zip(source.view(-1).tolist(), destination.view(-1).tolist()))
        perm = [axis for axis in range(rank) if axis not in {s for _, s in moves}]
        for d, s in moves:
            perm.insert(d, s)
        return g.op("Transpose", x, perm_i=perm)

    torch.onnx.register_custom_op_symbolic("aten::movedim", movedim, _ONNX_OPSET)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::movedim", _ONNX_OPSET)


def _write_torchscript(module, examples, file, input_names):
    """A traced TorchScript module (`torch.jit.load` reads it back); tracing records one path through `call`."""
    torch.jit.save(torch.jit.trace(module, examples), file)


def _write_torch_export(module, examples, file, input_names):
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, examples, dynamic_shapes=(tuple({0: batch} for _ in examples),),
                                  strict=False)
    torch.export.save(program, file)
