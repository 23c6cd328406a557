"""Datasets of image files in class folders: Keras's `image_dataset_from_directory`, batches decoded on demand.

The directory listing, label assignment, shuffling of the file list and the training / validation split follow
Keras exactly (same files in each subset for the same seed); the shared machinery serves text datasets too.
"""
import functools
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from deepglass.naming import lookup
from deepglass.utils.dataset_split import check_validation_split, validation_subset
from deepglass.utils.image_utils import _data_format, convert_color, pil_image
from deepglass.utils.py_dataset import PyDataset

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic", "area": "area"}
_NOT_IN_TORCH = ("lanczos3", "lanczos5", "gaussian", "mitchellcubic")
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """Keras's file index: `(file_paths, labels, class_names)`, class folders in sorted order (or `class_names`'
    order), files sorted within each, then shuffled together with `np.random.RandomState(seed)`."""
    if not os.path.isdir(directory):
        raise ValueError(f"Directory not found: {directory!r}; pass the folder that holds the files (one "
                         "subfolder per class when labels='inferred').")
    if labels == "inferred":
        subdirs = [name for name in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(f"The `class_names` passed do not match the subfolders of {directory!r}: expected "
                                 f"names from {subdirs}. Received: class_names={list(class_names)}")
            subdirs = list(class_names)
    else:
        subdirs = [""]  # explicit labels or none: every file below `directory`, in one listing
    file_paths, indices = [], []
    for index, subdir in enumerate(subdirs):
        found = _files_below(os.path.join(directory, subdir), follow_links, formats)
        file_paths += [os.path.join(directory, subdir, name) for name in found]
        indices += [index] * len(found)
    if labels == "inferred":
        labels = np.asarray(indices, dtype="int32")
        class_names = subdirs
    elif labels is not None:
        if len(labels) != len(file_paths):
            raise ValueError(f"`labels` has {len(labels)} entries but {len(file_paths)} files were found in "
                             f"{directory!r}; give one label per file, in the sorted order of their paths.")
        labels = np.asarray(labels)
        class_names = [str(label) for label in sorted(set(labels.tolist()))]
    if verbose:
        print(f"Found {len(file_paths)} files." if labels is None else
              f"Found {len(file_paths)} files belonging to {len(class_names)} classes.")
    if shuffle:
        order = np.arange(len(file_paths))
        np.random.RandomState(seed).shuffle(order)  # the permutation Keras applies to the paths and labels
        file_paths = [file_paths[i] for i in order]
        labels = None if labels is None else labels[order]
    return file_paths, labels, class_names


def _files_below(folder, follow_links, formats):
    """Paths relative to `folder` of the files with an allowed extension, folders sorted, then names sorted."""
    found = []
    for root, _, names in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        found += [os.path.relpath(os.path.join(root, name), folder) for name in sorted(names)
                  if name.lower().endswith(formats)]
    return found


def encode_labels(labels, label_mode, num_classes):
    """All labels as one tensor: int32 `(n,)`, float32 `(n, 1)` for "binary", float32 one-hot for "categorical"."""
    if label_mode is None:
        return None
    labels = np.asarray(labels)
    if label_mode == "int":
        return torch.from_numpy(labels.astype(np.int32))
    if label_mode == "binary":
        return torch.from_numpy(labels.astype(np.float32)[:, None])
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"label_mode='categorical' needs labels in [0, {num_classes}) for {num_classes} classes; "
                         f"got labels from {labels.min()} to {labels.max()}. Number the classes 0 to "
                         f"{num_classes - 1}.")
    return F.one_hot(torch.from_numpy(labels.astype(np.int64)), num_classes).float()


class FileBatches(PyDataset):
    """A PyDataset of files read batch by batch, with `file_paths` and `class_names`; reshuffled after each
    epoch when `shuffle` is set. Subclasses define `load(path)` and `stack(items)`."""

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, shuffle, seed, workers=1):
        super().__init__(workers=workers)
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._labels = encode_labels(labels, label_mode, len(class_names) if class_names else 0)
        self._rng = np.random.RandomState(seed)
        self._order = np.arange(len(self.file_paths))  # the file list is already shuffled for the first epoch

    def __len__(self):
        if self.batch_size is None:
            return len(self.file_paths)
        return math.ceil(len(self.file_paths) / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range for a dataset of {len(self)} batches.")
        index %= len(self)
        if self.batch_size is None:
            pick = self._order[index]
            x = self.load(self.file_paths[pick])
        else:
            pick = self._order[index * self.batch_size:(index + 1) * self.batch_size]
            x = self.stack([self.load(self.file_paths[i]) for i in pick])
        return x if self._labels is None else (x, self._labels[pick])

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.file_paths))

    def load(self, path):
        raise NotImplementedError

    def stack(self, items):
        raise NotImplementedError


def from_directory(directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split, subset,
                   follow_links, verbose, formats, what, make, check_files=None):
    """The common steps of the `*_dataset_from_directory` functions; `make(**arguments)` builds one dataset."""
    directory = os.fspath(directory)
    labels = labels.tolist() if isinstance(labels, np.ndarray) else labels
    if labels != "inferred" and labels is not None:
        if not isinstance(labels, (list, tuple)):
            raise ValueError(f"`labels` must be 'inferred', None or a list of integer labels, one per file in "
                             f"sorted path order. Received: labels={labels!r}")
        if class_names:
            raise ValueError(f"`class_names` can only be passed with labels='inferred'. Received: "
                             f"class_names={class_names!r} with explicit labels")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"`label_mode` must be 'int', 'categorical', 'binary' or None. Received: "
                         f"label_mode={label_mode!r}")
    if labels is None or label_mode is None:
        labels = label_mode = None
    if labels is None and class_names is not None:
        raise ValueError("`class_names` cannot be given without labels (labels=None or label_mode=None).")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"Received an invalid value for `batch_size`, expected a positive integer or None. "
                         f"Received: batch_size={batch_size!r}")
    check_validation_split(validation_split, subset, shuffle, seed)
    seed = np.random.randint(1e6) if seed is None else seed
    paths, labels, class_names = index_directory(directory, labels, formats, class_names, shuffle, seed,
                                                 follow_links, verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes. Received: class_names={class_names}")
    if not paths:
        layout = " inside one subfolder per class" if labels is not None else ""
        raise ValueError(f"No {what} found in directory {directory!r}: expected files ending in "
                         f"{', '.join(formats)}{layout}.")
    if check_files is not None:
        check_files(paths)
    datasets = []
    for part in ("training", "validation") if subset == "both" else (subset,):
        part_paths, part_labels = validation_subset(paths, labels, validation_split, part)
        if verbose and validation_split:
            print(f"Using {len(part_paths)} files for {part}.")
        datasets.append(make(file_paths=part_paths, labels=part_labels, label_mode=label_mode,
                             class_names=class_names, batch_size=batch_size, seed=seed,
                             shuffle=shuffle and not (subset == "both" and part == "validation")))
    return datasets if subset == "both" else datasets[0]


def resize(image, size, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False):
    """A `(channels, height, width)` float image resized to `size` as Keras's `ops.image.resize` does with torch:
    optionally cropped (largest centred box) or zero-padded (both sides) to the target's aspect ratio first."""
    height, width = image.shape[-2:]
    target_height, target_width = size
    if crop_to_aspect_ratio:
        crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
        crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
        top, left = int((height - crop_height) / 2), int((width - crop_width) / 2)
        image = image[:, top:top + crop_height, left:left + crop_width]
    elif pad_to_aspect_ratio:
        rows = int((max(height, int(float(width * target_height) / target_width)) - height) / 2)
        columns = int((max(width, int(float(height * target_width) / target_height)) - width) / 2)
        image = F.pad(image, (columns, columns, rows, rows))
    mode = _RESIZE_MODES[interpolation]
    return F.interpolate(image[None], size=tuple(size), mode=mode, antialias=False,
                         align_corners=False if mode in ("bilinear", "bicubic") else None)[0]


class ImageBatches(FileBatches):
    """Batches of images `(batch, height, width, channels)` (or channels first) decoded from files when asked."""

    def __init__(self, image_size, color_mode, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                 data_format, **kwargs):
        super().__init__(workers=min(4, os.cpu_count() or 1), **kwargs)
        self.image_size = image_size
        self.color_mode = color_mode
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.data_format = data_format

    def load(self, path):
        Image = pil_image()
        try:
            with Image.open(path) as img:
                array = np.asarray(convert_color(img, self.color_mode), dtype=np.float32)
        except (OSError, Image.DecompressionBombError) as error:
            raise ValueError(f"Could not read the image {path}: {error}. Remove or replace the file.") from error
        image = torch.from_numpy(array.reshape(array.shape[:2] + (-1,))).permute(2, 0, 1)
        if self.image_size is not None:
            image = resize(image, self.image_size, self.interpolation, self.crop_to_aspect_ratio,
                           self.pad_to_aspect_ratio)
        return image if self.data_format == "channels_first" else image.permute(1, 2, 0)

    def stack(self, items):
        return torch.stack(items)


def _check_one_size(paths):
    """With `image_size=None` the images are batched as they are, so all must share one size."""
    Image = pil_image()
    first = None
    for path in paths:
        with Image.open(path) as img:  # reads the header only
            size = img.size
        if first is None:
            first = (path, size)
        elif size != first[1]:
            raise ValueError(f"With image_size=None all images must have one size, but {first[0]} is "
                             f"{first[1][1]}x{first[1][0]} and {path} is {size[1]}x{size[0]} (height x width); "
                             "pass image_size=(height, width) to resize them.")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb",
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 verbose=True):
    """A dataset of the images in `directory`, one subfolder per class, that `fit`, `evaluate` and `predict` take.

    ```
    directory/
        cat/  a.jpg  b.png ...
        dog/  c.jpg ...
    ```
    gives batches `(images, labels)` with label 0 for `cat` and 1 for `dog`. Files ending in .bmp, .gif, .jpeg, .jpg
    or .png are read (the first frame of an animated GIF). Images are decoded when their batch is asked for (in
    background threads during `fit`), never all at once.

    Arguments:
        directory: the folder of images.
        labels: `"inferred"` (from the subfolders), `None` (images only), or a list of integer labels, one per
            image file in the sorted order of their paths (`os.walk`).
        label_mode: `"int"` (int32 `(batch,)`, for `sparse_categorical_crossentropy`), `"categorical"` (float32
            one-hot `(batch, num_classes)`), `"binary"` (float32 `(batch, 1)`, exactly 2 classes), or `None`.
        class_names: with `labels="inferred"`, the subfolders to use and their order (default: all, sorted).
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"` (1, 3 or 4 channels).
        batch_size: images per batch; `None` yields single images.
        image_size: `(height, width)` the images are resized to (an int for a square). `None` keeps their size,
            which must then be the same for every file.
        shuffle: shuffle the files (with `seed`) and reshuffle them after each epoch; `False` keeps them sorted.
        seed: the seed of the shuffles; required with `validation_split` and `shuffle`.
        validation_split: the fraction of the files (the last ones after shuffling) kept for validation.
        subset: with `validation_split`: `"training"`, `"validation"`, or `"both"` for `[training, validation]`.
        interpolation: resizing method: `"bilinear"`, `"nearest"`, `"bicubic"` or `"area"`.
        follow_links: also walk into folders that are symbolic links.
        crop_to_aspect_ratio: resize without distortion, cropping the largest centred box with the target's
            aspect ratio.
        pad_to_aspect_ratio: resize without distortion, padding with zeros to the target's aspect ratio.
        data_format: `"channels_last"` or `"channels_first"`; `None` uses `deepglass.config.image_data_format()`.
        verbose: print how many files and classes were found.

    Returns a `deepglass.utils.PyDataset` of float32 image batches (values 0-255) with labels as above, and the
    attributes `class_names` and `file_paths`; for `subset="both"`, a list of two.

    Example:
        >>> train, val = deepglass.utils.image_dataset_from_directory(
        ...     "flowers", image_size=(180, 180), validation_split=0.2, subset="both", seed=123)
        >>> train.class_names
        ['daisy', 'roses', 'tulips']
        >>> model.fit(train, validation_data=val, epochs=10)
    """
    lookup("color_mode", color_mode, _CHANNELS)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if image_size is not None and (not isinstance(image_size, (list, tuple)) or len(image_size) != 2 or not all(
            isinstance(side, int) and side > 0 for side in image_size)):
        raise ValueError(f"Invalid `image_size`: expected (height, width), two positive integers, or None. "
                         f"Received: image_size={image_size!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True.")
    if image_size is None and (crop_to_aspect_ratio or pad_to_aspect_ratio):
        raise ValueError("`crop_to_aspect_ratio` and `pad_to_aspect_ratio` need an `image_size` to aim for; pass "
                         "image_size=(height, width).")
    interpolation = interpolation.lower()
    if interpolation in _NOT_IN_TORCH:
        raise ValueError(f"interpolation={interpolation!r} has no torch implementation; use one of "
                         f"{', '.join(_RESIZE_MODES)}.")
    lookup("interpolation", interpolation, _RESIZE_MODES)
    make = functools.partial(ImageBatches, image_size=None if image_size is None else tuple(image_size),
                             color_mode=color_mode.lower(), interpolation=interpolation,
                             crop_to_aspect_ratio=crop_to_aspect_ratio, pad_to_aspect_ratio=pad_to_aspect_ratio,
                             data_format=_data_format(data_format))
    return from_directory(directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split,
                          subset, follow_links, verbose, ALLOWLIST_FORMATS, "images", make,
                          check_files=_check_one_size if image_size is None else None)
