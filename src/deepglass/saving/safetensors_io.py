"""Weights as `.safetensors`: the model's `state_dict()` (PyTorch's names and layouts), readable by any tool that
reads safetensors (Hugging Face, `safetensors.torch.load_file`).

The header is read and checked against the file size and the model before any tensor is: every name, shape and
dtype must match, and every tensor's bytes must lie inside the file. Names contain layer names, which differ
between two builds of the same architecture (`dense` and `dense_1`); when only they differ, tensors are matched by
position instead (deepglass records the `state_dict()` order in the file's metadata) when each tensor's own name
(`kernel`) agrees, and then their shapes and dtypes are checked as for names that match.
"""
import json
import math
import os
import struct

import torch

from deepglass.saving.atomic import atomic_path
from deepglass.saving.errors import SavedFileError

_HEADER_LIMIT = 100 << 20
_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}


def import_safetensors():
    """safetensors.torch, or an ImportError saying how to install it."""
    try:
        import safetensors.torch
    except ImportError:
        raise ImportError("Saving and loading .safetensors files needs safetensors: pip install safetensors "
                          "(or pip install 'deepglass[all]').") from None
    return safetensors.torch


def save(model, path, overwrite=True):
    """Write `model.state_dict()` to `path` (tensors made contiguous and moved to the CPU)."""
    library = import_safetensors()
    from deepglass import __version__
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    data = library.save(tensors, metadata={"format": "pt", "writer": f"deepglass {__version__}",
                                           "state_dict_order": json.dumps(list(tensors))})
    with atomic_path(path, overwrite) as tmp:
        with open(tmp, "wb") as file:
            file.write(data)


def load(model, path, skip_mismatch=False):
    """Load `path` into `model` after checking every name, shape and dtype (see the module docstring)."""
    library = import_safetensors()
    label = str(path)
    header = read_header(path, label)
    expected = model.state_dict()
    names = _names_by_position(header, expected) or {name: name for name in expected}
    problems, wanted = _compare(header, expected, names)
    if problems and not skip_mismatch:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise SavedFileError(label, f"the tensors do not match the model's state_dict(): {shown}.")
    try:
        loaded = library.load_file(path)
    except Exception as error:  # the library's own checks; the header already passed ours
        raise SavedFileError(label, f"reading the tensors failed ({error}).") from None
    with torch.no_grad():
        for name in wanted:
            expected[name].copy_(loaded[names[name]].to(expected[name].device))


def read_header(path, label):
    """The JSON header of a safetensors file, checked against the file's size."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        prefix = file.read(8)
        if len(prefix) < 8:
            raise SavedFileError(label, "it is shorter than a safetensors header; the file is truncated.")
        length = struct.unpack("<Q", prefix)[0]
        if length > min(_HEADER_LIMIT, size - 8):
            raise SavedFileError(label, f"its header claims {length} bytes and the file has {size - 8} after the "
                                        "length field; the file is truncated or not safetensors.")
        text = file.read(length)
    try:
        header = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SavedFileError(label, f"its header is not valid JSON ({error}); not a safetensors file.") from None
    if not isinstance(header, dict):
        raise SavedFileError(label, "its header is not a JSON object; not a safetensors file.")
    data_size = size - 8 - length
    for name, entry in header.items():
        if name != "__metadata__":
            _check_entry(name, entry, data_size, label)
    return header


def _check_entry(name, entry, data_size, label):
    if not isinstance(entry, dict) or entry.get("dtype") not in _DTYPES:
        raise SavedFileError(label, f"tensor {name!r} has no known dtype ({entry!r:.100}).")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise SavedFileError(label, f"tensor {name!r} has an invalid shape {shape!r:.100}.")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size):
        raise SavedFileError(label, f"tensor {name!r} claims bytes {offsets!r:.100} outside the file's "
                                    f"{data_size} data bytes; the file is truncated or crafted.")
    needed = math.prod(shape) * _DTYPES[entry["dtype"]].itemsize
    if needed != offsets[1] - offsets[0]:
        raise SavedFileError(label, f"tensor {name!r} of shape {shape} needs {needed} bytes but claims "
                                    f"{offsets[1] - offsets[0]}.")


def _names_by_position(header, expected):
    """{model name: file name} pairing the tensors in `state_dict()` order when the names differ only in their
    layer names; None when the file records no order or the tensors do not pair up."""
    saved = {name for name in header if name != "__metadata__"}
    if saved == set(expected):
        return None
    try:
        order = json.loads((header.get("__metadata__") or {}).get("state_dict_order", "null"))
    except (ValueError, RecursionError, AttributeError):
        return None
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(saved) or len(order) != len(expected):
        return None
    pairs = dict(zip(expected, order))
    if any(mine.rsplit(".", 1)[-1] != theirs.rsplit(".", 1)[-1] for mine, theirs in pairs.items()):
        return None
    return pairs  # shapes and dtypes are compared next, like those of tensors matched by name


def _compare(header, expected, names):
    """Problems between the header and the model's state dict, and the model names that can be loaded."""
    saved = {name: entry for name, entry in header.items() if name != "__metadata__"}
    used = set(names.values())
    problems = [f"the model has {mine!r} and the file does not" for mine, theirs in names.items()
                if theirs not in saved]
    problems += [f"the file has {name!r} and the model does not" for name in saved if name not in used]
    wanted = []
    for name, target in expected.items():
        entry = saved.get(names[name])
        if entry is None:
            continue
        dtype = _DTYPES[entry["dtype"]]
        if tuple(entry["shape"]) != tuple(target.shape):
            problems.append(f"{name!r} has shape {tuple(target.shape)} and the file {tuple(entry['shape'])}")
        elif dtype.is_floating_point != target.dtype.is_floating_point or (dtype == torch.bool) != (
                target.dtype == torch.bool):
            problems.append(f"{name!r} is {target.dtype} and the file holds {dtype}")
        else:
            wanted.append(name)
    return problems, wanted
