"""Weights in Keras 3's HDF5 layout (`.weights.h5`, and `model.weights.h5` inside a `.keras` archive).

Reading is in two passes: every group, dataset, shape and dtype is checked against the model first (nothing is
read until the layout is known to fit), then the data is read, and only then assigned; a file that does not fit
leaves the model as it was.
"""
import warnings

import torch

from deepglass.saving import h5_io, optimizer_state, weight_paths
from deepglass.saving.errors import SavedFileError

_MAX_DEPTH = 64


def write(h5file, model, include_optimizer=True):
    """Write `model`'s weights (and its optimizer's state) into an open, empty h5py file."""
    for entry in weight_paths.entries(model):
        group = h5file.create_group(entry.group)
        group.attrs["name"] = entry.layer.name
        for index, triple in enumerate(entry.triples):
            h5_io.write(group, str(index), weight_paths.keras_value(*triple))
    if include_optimizer and getattr(model, "optimizer", None) is not None:
        optimizer_state.write(h5file, model.optimizer)


def read(h5file, model, label, skip_mismatch=False, include_optimizer=True):
    """Validate and read everything `model` needs from an open h5py file; returns a `Loaded` to `apply`."""
    all_entries = weight_paths.entries(model)
    _refuse_unexpected(h5file, {entry.group for entry in all_entries}, label, skip_mismatch)
    planned, problems = [], []
    for entry in all_entries:
        datasets, entry_problems = _check_entry(h5file, entry, label)
        if entry_problems and skip_mismatch:
            warnings.warn(f"{label}: skipping the weights of layer {entry.layer.name!r}: {entry_problems[0]}",
                          stacklevel=3)
            continue
        problems += entry_problems
        planned += [(triple, dataset) for triple, dataset in zip(entry.triples, datasets)]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise SavedFileError(label, f"the weights do not match the model: {shown}. Load them into a model built "
                                    "from the same architecture (or pass skip_mismatch=True to skip those layers).")
    values = [(triple, h5_io.read_tensor(dataset, label)) for triple, dataset in planned]
    state = optimizer_state.read(h5file, model, label) if include_optimizer else None
    return Loaded(values, model, state)


class Loaded:
    """Weights (and optimizer state) read and validated, ready to be assigned in one go."""

    def __init__(self, values, model, optimizer_state_dict=None):
        self.values, self.model, self.optimizer_state = values, model, optimizer_state_dict

    def apply(self):
        for (owner, name, layout), value in self.values:
            weight_paths.assign(owner, name, layout, value)
        optimizer_state.apply(self.model, self.optimizer_state)


def _check_entry(h5file, entry, label):
    """The entry's datasets and the problems found (missing group, count, shape or dtype mismatch)."""
    expected = entry.keras_shapes()
    where = f"layer {entry.layer.name!r} (at {entry.group!r})"
    try:
        group = h5_io.group(h5file, entry.group, label)
    except KeyError:
        return [], ([f"{where} has {len(expected)} weights and the file has none for it"] if expected else [])
    names = list(group.keys())
    if sorted(names, key=lambda n: (len(n), n)) != [str(i) for i in range(len(names))] or len(names) != len(expected):
        return [], [f"{where} has {len(expected)} weights and the file has {len(names)} ({sorted(names)[:6]})"]
    datasets, problems = [], []
    for index, (shape, (owner, name, _)) in enumerate(zip(expected, entry.triples)):
        dataset = h5_io.dataset(group, str(index), label)
        datasets.append(dataset)
        if tuple(dataset.shape) != shape:
            problems.append(f"{where} weight {index} ({name}) has shape {shape} and the file {tuple(dataset.shape)}")
        elif not _same_kind(getattr(owner, name).dtype, dataset):
            problems.append(f"{where} weight {index} ({name}) is {getattr(owner, name).dtype} and the file holds "
                            f"{dataset.dtype}")
    return datasets, problems


def _same_kind(torch_dtype, dataset):
    """Floats load into floats (any width, as Keras casts), integers into integers, booleans into booleans."""
    kind = "V" if dataset.dtype.kind == "V" else dataset.dtype.kind
    if torch_dtype.is_floating_point:
        return kind in "fV"
    if torch_dtype == torch.bool:
        return kind == "b"
    return kind in "iu"


def _refuse_unexpected(h5file, expected_groups, label, skip_mismatch):
    """Weights in the file for layers the model does not have mean the file describes another model."""
    found = []
    if "layers" in h5file:
        _collect_vars(h5_io.group(h5file, "layers", label), "layers", found, label, 0)
    extra = [path for path in found if path not in expected_groups]
    if extra and not skip_mismatch:
        raise SavedFileError(label, f"the file holds weights for layers the model does not have: {extra[:5]}. "
                                    "Load it into a model with the same architecture.")


def _collect_vars(group, path, found, label, depth):
    if depth > _MAX_DEPTH:
        raise SavedFileError(label, f"the groups under {path!r} are nested more than {_MAX_DEPTH} deep.")
    for key in group.keys():
        child_path = f"{path}/{key}"
        try:
            child = h5_io.group(group, key, label)
        except SavedFileError:
            continue  # a dataset where a group is expected: only a problem if the model needs it
        if key == "vars":
            if len(child.keys()):
                found.append(child_path)
        else:
            _collect_vars(child, child_path, found, label, depth + 1)
