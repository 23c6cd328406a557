"""The `.keras` archive: Keras 3's zip of `metadata.json`, `config.json` and `model.weights.h5`.

Files go both ways: deepglass writes what Keras 3 reads, and reads what Keras 3 writes, for the layers both have.
The optimizer's state rides along in the weights file (group `optimizer_state`, which Keras ignores).

`config.json` is read up to `CONFIG_LIMIT` bytes: parsing JSON can take some 25 bytes of memory per byte of text
(`[{},{},...]`), so the limit keeps the worst case near 400 MB. The weights file's datasets may declare at most
`archive.MAX_EXPANSION` times the archive's size in all: compressed HDF5 data inside a deflated member would
otherwise multiply the two expansion limits.
"""
import datetime
import io
import json
import os

from deepglass.saving import archive, h5_io, model_build, weights_h5
from deepglass.saving.atomic import atomic_path
from deepglass.saving.errors import SavedFileError
from deepglass.saving.serialization import serialize_keras_object

CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE = "config.json", "metadata.json", "model.weights.h5"
CONFIG_LIMIT = 16 << 20
METADATA_LIMIT = 1 << 20
# The version of Keras whose archive layout these files follow (Keras reads it as the writer's version).
KERAS_FORMAT_VERSION = "3.15.0"


def save(model, path, overwrite=True, include_optimizer=True):
    """Write `model` (architecture, weights, compile arguments, optimizer state) to the `.keras` file `path`."""
    from deepglass import __version__
    config = json.dumps(serialize_keras_object(model))
    metadata = json.dumps({"keras_version": KERAS_FORMAT_VERSION, "deepglass_version": __version__,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    weights = weights_bytes(model, include_optimizer)
    with atomic_path(path, overwrite) as tmp:
        archive.write_archive(tmp, {METADATA_FILE: metadata.encode(), CONFIG_FILE: config.encode(),
                                    WEIGHTS_FILE: weights})


def weights_bytes(model, include_optimizer=True):
    """The model's weights file (Keras's HDF5 layout) as bytes."""
    h5py = h5_io.import_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        weights_h5.write(h5file, model, include_optimizer)
    return buffer.getvalue()


def load(path, custom_objects=None, compile=True, safe_mode=True):
    """The model in the `.keras` file `path` (see `deepglass.saving.load_model`)."""
    label = str(path)
    with archive.open_archive(path) as zf:
        config = parse_json(archive.read_member(zf, CONFIG_FILE, CONFIG_LIMIT, label), label, CONFIG_FILE)
        if not isinstance(config, dict):
            raise SavedFileError(label, f"{CONFIG_FILE} should hold a JSON object describing the model.")
        if not compile:
            config["compile_config"] = None
        weights = archive.read_member(zf, WEIGHTS_FILE, None, label)
    with open_h5(io.BytesIO(weights), label) as h5file:
        declared = checked_declared_bytes(h5file, path, label)
        model = model_build.build_checked(config, custom_objects, safe_mode, declared, label)
        weights_h5.read(h5file, model, label, include_optimizer=compile).apply()
    return model


def checked_declared_bytes(h5file, path, label):
    """The bytes the archive's weights declare, refused beyond `archive.MAX_EXPANSION` times the archive's size."""
    declared, size = h5_io.declared_bytes(h5file, label), os.path.getsize(path)
    if declared > archive.BOMB_FLOOR_BYTES and declared > archive.MAX_EXPANSION * size:
        raise SavedFileError(label, f"its weights declare {declared} bytes, over {archive.MAX_EXPANSION} times the "
                                    f"archive's {size} bytes; refusing a decompression bomb (compressed data inside "
                                    "a compressed member).")
    return declared


def parse_json(data, label, what):
    """JSON text (bytes or str) as Python data; bad JSON or absurd nesting raise SavedFileError."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise SavedFileError(label, f"{what} is not valid JSON ({type(error).__name__}: {error}).") from None


def open_h5(source, label):
    """An h5py file opened for reading, or a SavedFileError when it is not a (complete) HDF5 file."""
    h5py = h5_io.import_h5py()
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as error:
        raise SavedFileError(label, f"the weights are not a readable HDF5 file ({error}); the file is truncated, "
                                    "corrupt, or of another format.") from None
