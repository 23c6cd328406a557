"""HDF5 access that refuses what a weights file has no business holding, and HDF5 files written safely.

Links (soft or external) and external or virtual datasets could make h5py read other files; a dataset whose
declared size is far beyond the bytes it stores is a decompression bomb. Each is refused before any data is read.

Files are built in memory and then written with Python's file API (atomically): when a write fails under it (a full
disk), HDF5 can crash the process as it closes the file, where Python raises an OSError.
"""
import io
import math

import numpy as np

from deepglass.saving.atomic import atomic_open
from deepglass.saving.errors import SavedFileError

# A dataset may declare at most this many times the bytes it stores (above the floor): compressed weights never
# come near it, a fill-value "bomb" does.
MAX_EXPANSION = 100
BOMB_FLOOR_BYTES = 1 << 20


def import_h5py():
    """h5py, or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Saving and loading .h5 and .keras files needs h5py: pip install h5py "
                          "(or pip install 'deepglass[h5]').") from None
    return h5py


def write_file(path, fill, overwrite=True):
    """Write the HDF5 file that `fill(h5file)` builds to `path`: in memory first, then atomically to disk."""
    h5py = import_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        fill(h5file)
    with atomic_open(path, overwrite) as file:
        file.write(buffer.getbuffer())


def group(parent, path, label):
    """The group at `path` (slash-separated) under `parent`; links and non-groups are refused."""
    h5py = import_h5py()
    current = parent
    for part in [p for p in path.split("/") if p]:
        if part not in current:
            raise KeyError(path)
        _refuse_links(current, part, label)
        current = current[part]
        if not isinstance(current, h5py.Group):
            raise SavedFileError(label, f"expected an HDF5 group at {path!r}, found a {type(current).__name__}.")
    return current


def dataset(parent, name, label):
    """The dataset `name` in `parent`, after the safety checks; its data is not read."""
    h5py = import_h5py()
    _refuse_links(parent, name, label)
    value = parent[name]
    where = f"{parent.name.rstrip('/')}/{name}"
    if not isinstance(value, h5py.Dataset):
        raise SavedFileError(label, f"expected a dataset at {where!r}, found a {type(value).__name__}.")
    if value.external:
        raise SavedFileError(label, f"dataset {where!r} keeps its data in another file ({value.external}); "
                                    "refusing to read files a weights file points to.")
    if value.is_virtual:
        raise SavedFileError(label, f"dataset {where!r} is a virtual dataset built from other files; refusing it.")
    kind = value.dtype.kind
    if kind not in "biuf" and not (kind == "V" and value.dtype.itemsize == 2 and is_bfloat16(value)):
        raise SavedFileError(label, f"dataset {where!r} has dtype {value.dtype}; weights are numbers.")
    declared = math.prod(value.shape) * value.dtype.itemsize
    stored = value.id.get_storage_size()
    if declared > BOMB_FLOOR_BYTES and declared > MAX_EXPANSION * stored:
        raise SavedFileError(label, f"dataset {where!r} declares shape {value.shape} ({declared} bytes) but stores "
                                    f"only {stored} bytes; refusing a decompression bomb.")
    return value


def read_tensor(value, label):
    """A checked dataset's values as a torch tensor (bfloat16 values, stored as raw bits or as float32 tagged
    dtype="bfloat16", come back as bfloat16)."""
    import torch
    try:
        array = np.array(value[()])
    except (OSError, ValueError, RuntimeError) as error:
        raise SavedFileError(label, f"reading dataset {value.name!r} failed ({error}); the file is truncated or "
                                    "corrupt.") from None
    if value.dtype.kind == "V":
        return torch.from_numpy(np.frombuffer(array.tobytes(), dtype=np.int16).reshape(value.shape).copy()).view(
            torch.bfloat16)
    tensor = torch.from_numpy(array)
    return tensor.to(torch.bfloat16) if is_bfloat16(value) else tensor


def is_bfloat16(value):
    """Whether a dataset holds bfloat16 values (Keras marks them with the attribute dtype="bfloat16")."""
    tag = value.attrs.get("dtype")
    tag = tag.decode() if isinstance(tag, bytes) else tag
    return tag == "bfloat16"


def write(parent, name, array):
    """Write `array` (a torch tensor or NumPy array) as dataset `name`; bfloat16 is stored as float32 values with
    the attribute dtype="bfloat16", which Keras reads back as bfloat16 too."""
    import torch
    bfloat16 = torch.is_tensor(array) and array.dtype == torch.bfloat16
    if torch.is_tensor(array):
        array = (array.float() if bfloat16 else array).detach().cpu().numpy()
    parent.create_dataset(name, data=array)
    if bfloat16:
        parent[name].attrs["dtype"] = "bfloat16"


def _refuse_links(parent, name, label):
    h5py = import_h5py()
    link = parent.get(name, getlink=True)
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        raise SavedFileError(label, f"{parent.name.rstrip('/')}/{name} is a {type(link).__name__}; links can point "
                                    "outside the file and are refused.")


def text_attribute(node, name, label, limit):
    """A string attribute (JSON configs), refused beyond `limit` bytes."""
    value = node.attrs.get(name)
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="strict")
    if not isinstance(value, str):
        raise SavedFileError(label, f"attribute {name!r} should be a string; it is a {type(value).__name__}.")
    if len(value) > limit:
        raise SavedFileError(label, f"attribute {name!r} holds {len(value)} characters, over the {limit} accepted.")
    return value


def declared_bytes(h5file, label, limit=1_000_000):
    """The bytes all datasets of the file declare (their shapes times their item sizes), without reading data;
    links are not followed. Refuses files with more than `limit` objects."""
    h5py = import_h5py()
    total, seen = 0, 0
    stack = [h5file]
    while stack:
        node = stack.pop()
        for key in node.keys():
            seen += 1
            if seen > limit:
                raise SavedFileError(label, f"the HDF5 file holds more than {limit} objects.")
            if not isinstance(node.get(key, getlink=True), h5py.HardLink):
                continue
            child = node[key]
            if isinstance(child, h5py.Group):
                stack.append(child)
            elif isinstance(child, h5py.Dataset):
                total += math.prod(child.shape or ()) * child.dtype.itemsize
    return total
