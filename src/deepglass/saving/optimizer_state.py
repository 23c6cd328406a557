"""An optimizer's state in a weights file: its tensors as datasets, the rest as JSON, never pickle.

`optimizer.state_dict()` (torch's state, the step count, the learning rate) is split into the tensors and a JSON
skeleton that refers to them by number (`{"__tensor__": 3}`); tuples and dicts with non-string keys are spelled out
(`{"__tuple__": [...]}`, `{"__items__": [[key, value], ...]}`). The group `optimizer_state` holds them. Keras reads
only its own `optimizer/vars`, so a deepglass file still loads in Keras (with a fresh optimizer).
"""
import json
import warnings

import torch

from deepglass.saving import h5_io
from deepglass.saving.errors import SavedFileError

GROUP = "optimizer_state"
_FORMAT = "deepglass.optimizer_state.v1"
_SKELETON_LIMIT = 64 << 20


def encode(state):
    """`(skeleton, tensors)` for a state dict."""
    tensors = []

    def visit(value):
        if torch.is_tensor(value):
            tensors.append(value.detach().cpu().contiguous())
            return {"__tensor__": len(tensors) - 1}
        if isinstance(value, tuple):
            return {"__tuple__": [visit(v) for v in value]}
        if isinstance(value, list):
            return [visit(v) for v in value]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: visit(v) for k, v in value.items()}
            return {"__items__": [[visit(k), visit(v)] for k, v in value.items()]}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"Cannot save optimizer state holding a {type(value).__name__} ({value!r}); optimizer "
                        "states are saved as tensors and JSON values only.")

    return visit(state), tensors


def decode(skeleton, tensors, label):
    """The state dict back from `encode`'s output; a bad reference raises SavedFileError."""
    def visit(value, depth=0):
        if depth > 64:
            raise SavedFileError(label, "the optimizer state is nested too deeply.")
        if isinstance(value, list):
            return [visit(v, depth + 1) for v in value]
        if not isinstance(value, dict):
            return value
        if "__tensor__" in value:
            index = value["__tensor__"]
            if not isinstance(index, int) or not 0 <= index < len(tensors):
                raise SavedFileError(label, f"the optimizer state refers to tensor {index!r}, which the file lacks.")
            return tensors[index]
        if "__tuple__" in value:
            return tuple(visit(v, depth + 1) for v in value["__tuple__"])
        if "__items__" in value:
            return {_hashable(visit(k, depth + 1), label): visit(v, depth + 1) for k, v in value["__items__"]}
        return {k: visit(v, depth + 1) for k, v in value.items()}

    return visit(skeleton)


def _hashable(key, label):
    if isinstance(key, (str, int, float, bool, tuple)) or key is None:
        return key
    raise SavedFileError(label, f"the optimizer state has a dict key of type {type(key).__name__}.")


def write(h5file, optimizer):
    """Store `optimizer`'s state under `optimizer_state` (nothing for an optimizer without `state_dict`)."""
    if optimizer is None or not hasattr(optimizer, "state_dict"):
        return
    skeleton, tensors = encode(optimizer.state_dict())
    group = h5file.create_group(GROUP)
    group.attrs["format"] = _FORMAT
    group.attrs["class_name"] = type(optimizer).__name__
    group.attrs["skeleton"] = json.dumps(skeleton)
    for index, tensor in enumerate(tensors):
        h5_io.write(group, str(index), tensor)


def read(h5file, model, label):
    """The saved optimizer state validated against `model`'s optimizer and weights, or None (with a warning when
    the file has a state that does not fit, as when weights are loaded into a model compiled differently)."""
    optimizer = getattr(model, "optimizer", None)
    if GROUP not in h5file or optimizer is None or not hasattr(optimizer, "load_state_dict"):
        return None
    group = h5_io.group(h5file, GROUP, label)
    if h5_io.text_attribute(group, "format", label, 256) != _FORMAT:
        raise SavedFileError(label, f"the group {GROUP!r} is not a deepglass optimizer state.")
    saved_class = h5_io.text_attribute(group, "class_name", label, 256)
    if saved_class != type(optimizer).__name__:
        warnings.warn(f"{label}: the optimizer state was saved from a {saved_class} and the model's optimizer is a "
                      f"{type(optimizer).__name__}; the optimizer starts afresh.", stacklevel=4)
        return None
    try:
        skeleton = json.loads(h5_io.text_attribute(group, "skeleton", label, _SKELETON_LIMIT) or "null")
    except (ValueError, RecursionError) as error:
        raise SavedFileError(label, f"the optimizer state's description is not valid JSON ({error}).") from None
    names = [key for key in group.keys()]
    if sorted(names, key=_numeric) != [str(i) for i in range(len(names))]:
        raise SavedFileError(label, f"the optimizer state's tensors should be named 0..{len(names) - 1}; found "
                                    f"{sorted(names)[:10]}.")
    tensors = [h5_io.read_tensor(h5_io.dataset(group, str(i), label), label) for i in range(len(names))]
    state = decode(skeleton, tensors, label)
    problem = _mismatch(state, model.trainable_weights)
    if problem:
        warnings.warn(f"{label}: the optimizer state does not fit this model ({problem}); the optimizer starts "
                      "afresh.", stacklevel=4)
        return None
    return state


def _numeric(name):
    return (0, int(name)) if name.isdigit() else (1, name)


def _mismatch(state, params):
    """Why torch's part of the state cannot belong to an optimizer over `params`, or None."""
    torch_state = state.get("torch") if isinstance(state, dict) else None
    if not isinstance(state, dict) or "iterations" not in state:
        return "it has no step count"
    if torch_state is None:
        return None
    groups = torch_state.get("param_groups") if isinstance(torch_state, dict) else None
    if not isinstance(groups, list) or not isinstance(torch_state.get("state"), dict):
        return "torch's state lacks 'state' or 'param_groups'"
    indices = [i for g in groups if isinstance(g, dict) for i in g.get("params", [])]
    if len(indices) != len(params):
        return f"it covers {len(indices)} weights, the model trains {len(params)}"
    for index, slots in torch_state["state"].items():
        if not isinstance(index, int) or not 0 <= index < len(params) or not isinstance(slots, dict):
            return f"it has state for weight {index!r}"
        for key, value in slots.items():
            if torch.is_tensor(value) and value.dim() and tuple(value.shape) != tuple(params[index].shape):
                return (f"its {key!r} for weight {index} has shape {tuple(value.shape)}, the weight "
                        f"{tuple(params[index].shape)}")
    return None


def apply(model, state):
    """Give the optimizer its state (kept until the optimizer is built, if it is not yet)."""
    if state is not None:
        model.optimizer.load_state_dict(state)
