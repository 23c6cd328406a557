"""CIFAR's python batches: found already extracted, or taken out of the archive that Keras downloads.

The batches are Python pickles; they are read with `_safe_pickle.loads`, which builds only plain data and
NumPy arrays. Each batch is checked against the md5 published for it, the archive against Keras's sha256.
"""
import dataclasses
import os
import tarfile

import numpy as np

from deepglass import config
from deepglass.datasets import _files, _safe_pickle


@dataclasses.dataclass(frozen=True)
class CifarFiles:
    """Where one CIFAR dataset's batches live.

    Arguments:
        folder: the folder the archive extracts to, e.g. `"cifar-10-batches-py"`.
        archive: the archive `Resource` (Keras's origin and sha256).
        batches: each batch's file name and md5.
        keras_folders: where Keras leaves the extracted folder under its `datasets/` (Keras 3, then Keras 2).
    """

    folder: str
    archive: _files.Resource
    batches: dict
    keras_folders: tuple


def batch_paths(files, loader):
    """A verified path for every batch: found extracted, else extracted into the cache from the archive."""
    resources = {name: _files.Resource(name=name, origin=None, hashes=(md5,), subdir=files.folder,
                                       keras_paths=tuple(f"{folder}/{name}" for folder in files.keras_folders))
                 for name, md5 in files.batches.items()}
    found = {name: _files.locate(resource) for name, resource in resources.items()}
    if all(found.values()):
        return found
    archive = _files.fetch(files.archive, loader)
    return _extract(archive, files, resources)


def _extract(archive, files, resources):
    """Write the batches out of `archive` into the deepglass cache (only those names: no path from the archive
    is trusted), each checked against its md5 before it is moved into place."""
    target = os.path.join(_files.cache_dir(), files.folder)
    paths = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            member_name = member.name[2:] if member.name.startswith("./") else member.name
            name = member_name[len(files.folder) + 1:] if member_name.startswith(files.folder + "/") else None
            if name not in resources or not member.isfile():
                continue
            data = tar.extractfile(member).read()
            paths[name] = os.path.join(target, name)
            _files.write_atomic(paths[name], data)
            _files.verify(paths[name], resources[name])
    absent = sorted(set(resources) - set(paths))
    if absent:
        raise _files.DatasetChecksumError(f"The archive {archive} lacks {', '.join(absent)} under {files.folder}/; "
                                          "delete it so that it is downloaded again.")
    return paths


def read_batch(path, label_key="labels"):
    """One batch: images `(n, 3, 32, 32)` uint8 and labels `(n,)` int64, from its pickle, read safely."""
    with open(path, "rb") as file:
        batch = _safe_pickle.loads(file.read())
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR batch (a dict of data and labels); replace it with a good copy.")
    batch = {key.decode("utf8") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path} has no uint8 image data of shape (n, 3072); replace it with a good copy.")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(data),):
        raise ValueError(f"{path} has {labels.size} values under {label_key!r} for {len(data)} images; replace it "
                         "with a good copy.")
    return data.reshape(len(data), 3, 32, 32), labels


def to_data_format(images):
    """Keras's layout: `(n, 32, 32, 3)` for channels_last (the default), `(n, 3, 32, 32)` for channels_first."""
    if config.image_data_format() == "channels_last":
        return np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    return images
