"""Saving and loading models and weights, by file extension.

| file | `save` / `save_weights` writes | loaded by |
| `.keras` | architecture, weights, compile arguments, optimizer state (Keras 3's zip) | `load_model`, `load_weights` |
| `.weights.h5` | weights and optimizer state (Keras 3's HDF5 layout) | `load_weights` |
| `.safetensors` | `state_dict()` (PyTorch names and layouts) | `load_weights` |
| `.h5` | Keras 2's HDF5: whole model (`save`) or weights only (`save_weights`) | `load_model`, `load_weights` |
"""
import io
import json
import os

from deepglass.saving import archive, h5_io, keras_file, legacy_h5, safetensors_io, weights_h5
from deepglass.saving.serialization import SafeModeScope, deserialize_keras_object, serialize_keras_object

_LEGACY_H5 = (".h5", ".hdf5")


def save_model(model, filepath, overwrite=True, zipped=None, include_optimizer=True, **kwargs):
    """Save `model` to `filepath`: `.keras` (recommended; Keras 3's format) or `.h5` (Keras 2's).

    Arguments:
        model: the model.
        filepath: a path ending in `.keras` or `.h5`.
        overwrite: whether to replace an existing file (the write is atomic: the old file stays whole until the
            new one is complete).
        zipped: accepted for Keras compatibility; `.keras` files are always zipped.
        include_optimizer: whether to keep the optimizer's state (so that training can resume).

    Example:
        >>> model.save("model.keras")
        >>> restored = deepglass.saving.load_model("model.keras")
    """
    path = os.fspath(filepath)
    save_format = kwargs.pop("save_format", None)  # Keras 2's argument: the extension decides, so it must agree
    if kwargs:
        raise TypeError(f"save() got unexpected keyword arguments {sorted(kwargs)}.")
    if save_format is not None and not path.endswith({"h5": _LEGACY_H5, "keras": (".keras",)}.get(save_format, ())):
        raise ValueError(f"save_format={save_format!r} does not match filepath={path}; pass a path ending in "
                         "`.keras` or `.h5` (the extension chooses the format).")
    if zipped is False:
        raise ValueError("zipped=False (a folder instead of a .keras archive) is not supported; save to a .keras "
                         "file.")
    if path.endswith(".keras"):
        keras_file.save(model, path, overwrite, include_optimizer)
    elif path.endswith(_LEGACY_H5):
        legacy_h5.save_model(model, path, overwrite, include_optimizer)
    else:
        raise ValueError(f"Invalid filepath extension for saving: expected `.keras` (recommended) or `.h5`. "
                         f"Received: filepath={path}")


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved with `save` (by deepglass or by Keras 3, or a Keras 2 `.h5` file).

    Loading runs nothing the file names: classes come only from deepglass and from `custom_objects` /
    `register_serializable`. Lambda layers carry Python bytecode and load only with `safe_mode=False`, which you
    should pass only for files you trust; the setting holds for this call only.

    Arguments:
        filepath: a `.keras` or `.h5` file.
        custom_objects: `{"ClassName": cls}` for custom layers, losses, ... used in the model.
        compile: whether to compile the model as it was (optimizer, loss, metrics) and restore the optimizer state.
        safe_mode: refuse configs that carry code (Lambda layers). Pass False only for files you trust.

    Raises:
        SavedFileError (a ValueError): the file is malformed, unsafe, or its config does not match its weights.
    """
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise ValueError(f"File not found: filepath={path}. Please ensure the file is an accessible `.keras` zip "
                         "file or `.h5` file.")
    with SafeModeScope(safe_mode):
        if path.endswith(_LEGACY_H5) or (not path.endswith(".keras") and _is_hdf5(path)):
            return legacy_h5.load_model(path, custom_objects, compile, safe_mode)
        return keras_file.load(path, custom_objects, compile, safe_mode)


def save_weights(model, filepath, overwrite=True, max_shard_size=None):
    """Save the weights: `.weights.h5` (Keras 3's layout, with the optimizer state), `.safetensors`
    (`state_dict()`), or `.h5` (Keras 2's layout)."""
    path = os.fspath(filepath)
    if max_shard_size is not None:
        raise ValueError("Sharded weight files (max_shard_size) are not supported; save to one .weights.h5 file.")
    if not model.built:
        raise ValueError(f'Model "{model.name}" is not built yet, so it has no weights to save; call it on data, '
                         "fit it, or call build(input_shape) first.")
    if path.endswith(".weights.h5"):
        h5_io.write_file(path, lambda h5file: weights_h5.write(h5file, model), overwrite)
    elif path.endswith(".safetensors"):
        safetensors_io.save(model, path, overwrite)
    elif path.endswith(_LEGACY_H5):
        legacy_h5.save_weights(model, path, overwrite)
    else:
        raise ValueError(f"The filename must end in `.weights.h5`, `.safetensors` or `.h5`. Received: "
                         f"filepath={path}")


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Load weights saved with `save_weights` or `save` into `model` (which must have the same architecture).

    Every layer, shape and dtype is checked before anything is assigned: a file that does not fit raises a
    SavedFileError and leaves the model as it was. `skip_mismatch=True` skips (with a warning) the layers whose
    weights do not fit instead.
    """
    path = os.fspath(filepath)
    if kwargs.get("by_name"):
        raise ValueError("by_name=True (Keras 2) is not supported; load into the same architecture.")
    if not os.path.isfile(path):
        raise ValueError(f"File not found: filepath={path}.")
    if not model.built:
        raise ValueError(f'Model "{model.name}" is not built yet; build it (call it on data or build(input_shape)) '
                         "before loading weights into it.")
    if path.endswith(".safetensors"):
        return safetensors_io.load(model, path, skip_mismatch)
    if path.endswith(".keras"):
        with archive.open_archive(path) as zf:
            source = io.BytesIO(archive.read_member(zf, keras_file.WEIGHTS_FILE, None, path))
    elif path.endswith(".weights.h5"):
        source = path
    elif path.endswith(_LEGACY_H5):
        return legacy_h5.load_weights(model, path, skip_mismatch)
    else:
        raise ValueError(f"Expected a `.weights.h5`, `.keras`, `.safetensors` or `.h5` file. Received: "
                         f"filepath={path}")
    with keras_file.open_h5(source, path) as h5file:
        if path.endswith(".keras"):
            keras_file.checked_declared_bytes(h5file, path, path)
        weights_h5.read(h5file, model, path, skip_mismatch).apply()


def model_to_json(model, **kwargs):
    """The model's architecture (and compile arguments) as a JSON string; `json.dumps` options in `kwargs`."""
    return json.dumps(serialize_keras_object(model), **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A new model (freshly initialised weights) from `to_json()`'s output; classes are looked up as in
    `load_model`."""
    try:
        config = json.loads(json_string)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"model_from_json expects the JSON text of model.to_json(); it is not valid JSON "
                         f"({error}).") from None
    return deserialize_keras_object(config, custom_objects)


def _is_hdf5(path):
    with open(path, "rb") as file:
        return file.read(8) == b"\x89HDF\r\n\x1a\n"


