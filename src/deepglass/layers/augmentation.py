"""Image data augmentation: the base of the random image layers (RandomFlip, RandomRotation, RandomTranslation,
RandomZoom, RandomCrop in `augmentation_geometric`; RandomContrast, RandomBrightness in `augmentation_color`; MixUp,
CutMix in `augmentation_mix`).

Each layer draws one random transformation per image, on the device of the images, and is active only in training
(inside `fit`, or when called with `training=True`); at inference it returns its input unchanged.
"""
import numbers

import torch

from deepglass.layers.convolutional import standardize_data_format
from deepglass.layers.core import Dropout
from deepglass.layers.layer import Layer

# Parts of a dict input that the layers transform; anything else passes through untouched.
_KNOWN_KEYS = ("images", "labels", "segmentation_masks")


def check_seed(seed):
    """An integer or None, or a ValueError."""
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
        raise ValueError(f"Received an invalid value for `seed`, expected an integer or None. Received: seed={seed!r}")
    return None if seed is None else int(seed)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_factor(name, factor, low, high, low_open=False):
    """`factor` (a number, or a pair of numbers that comes back sorted) with every number in [low, high] (or
    (low, high] with `low_open`), or a ValueError naming the argument."""
    pair = isinstance(factor, (list, tuple))
    values = list(factor) if pair else [factor]
    if (pair and len(values) != 2) or not all(
            _is_number(v) and (low < v if low_open else low <= v) and v <= high for v in values):
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"Received an invalid value for `{name}`, expected a number or a pair of numbers in "
                         f"{interval}. Received: {name}={factor!r}")
    return sorted(float(v) for v in values) if pair else float(factor)


def symmetric_range(name, factor, low=-1.0, high=1.0, low_open=False):
    """`(lower, upper)`: `[-f, f]` for one number `f`, the sorted pair otherwise (Keras's reading of `factor`)."""
    value = check_factor(name, factor, low, high, low_open)
    return (-abs(value), abs(value)) if isinstance(value, float) else tuple(value)


def check_value_range(value_range):
    """A pair of numbers `[low, high]` with low < high, as a list."""
    if not (isinstance(value_range, (list, tuple)) and len(value_range) == 2 and all(map(_is_number, value_range))
            and value_range[0] < value_range[1]):
        raise ValueError(f"Received an invalid value for `value_range`, expected two numbers [low, high] with low < "
                         f"high, such as [0, 255] or [0, 1]. Received: value_range={value_range!r}")
    return [v if isinstance(v, int) else float(v) for v in value_range]


def json_factor(factor):
    """A factor as given, with tuples turned into lists so that configs survive JSON."""
    return list(factor) if isinstance(factor, (list, tuple)) else factor


class BaseImageAugmentationLayer(Layer):
    """A layer that transforms batches of images at random during training and returns them unchanged otherwise.

    Inputs: images `(batch, height, width, channels)` or one image `(height, width, channels)` (channels first with
    `data_format="channels_first"`); a dict `{"images": ..., "labels": ..., "segmentation_masks": ...}`; or a pair
    `(images, labels)`. The same structure comes back. Subclasses implement `augment(images, labels, masks)` on a
    batch of images in `(batch, channels, height, width)` layout and may override `infer` (default: unchanged).
    """

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.data_format = standardize_data_format(data_format)
        self._generator = None

    # A torch.Generator per layer and device when `seed` is set, torch's global generator otherwise.
    _seeded_generator = Dropout._seeded_generator

    def uniform(self, shape, low, high, device):
        """Draws from U(low, high) of `shape` (float32), one per image: the layer's random source."""
        draw = torch.rand(shape, generator=self._seeded_generator(device), device=device)
        return draw * (high - low) + low

    def call(self, data, training=None):
        training = self.training if training is None else training
        parts, pack = self._unpack(data)
        images = parts["images"]
        if not torch.is_tensor(images) or images.dim() not in (3, 4):
            shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
            raise ValueError(f'{type(self).__name__} "{self.name}" expects images of rank 4 (a batch) or 3 (one '
                             f"image); received {shape}.")
        single = images.dim() == 3
        parts["images"] = images if images.dtype == self._dtype else images.to(self._dtype)
        if not training and type(self).infer is BaseImageAugmentationLayer.infer:
            return pack(parts)
        # Work on a batch in (N, C, H, W): a view of channels-last data, the layout grid_sample takes.
        images, labels, masks = [None if parts.get(key) is None else (parts[key].unsqueeze(0) if single
                                                                      else parts[key]) for key in _KNOWN_KEYS]
        masks = None if masks is None else self._to_channels_first(masks)
        images, labels, masks = (self.augment if training else self.infer)(self._to_channels_first(images), labels,
                                                                           masks)
        outputs = (self._from_channels_first(images), labels, None if masks is None else
                   self._from_channels_first(masks))
        for key, value in zip(_KNOWN_KEYS, outputs):
            if value is not None:
                parts[key] = value.squeeze(0) if single else value
        return pack(parts)

    def augment(self, images, labels, masks):
        """The training transformation of a batch: images and masks `(N, C, H, W)`; labels or masks may be None."""
        raise NotImplementedError(f"{type(self).__name__} must implement augment(images, labels, masks).")

    def infer(self, images, labels, masks):
        """What the layer does at inference: nothing, unless overridden (RandomCrop crops)."""
        return images, labels, masks

    def _to_channels_first(self, x):
        return x.permute(0, 3, 1, 2) if self.data_format == "channels_last" else x

    def _from_channels_first(self, x):
        return x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x

    def _unpack(self, data):
        """`(parts, pack)`: the input as a dict with "images" (and maybe "labels", "segmentation_masks"), and the
        function that puts transformed parts back into the input's structure."""
        if isinstance(data, dict):
            if "images" not in data:
                raise ValueError(f'{type(self).__name__} "{self.name}" expects a dict input to hold the key '
                                 f'"images"; received keys {sorted(data)}.')
            if "bounding_boxes" in data:
                raise ValueError(f'{type(self).__name__} "{self.name}" does not transform bounding boxes; pass '
                                 'a dict without "bounding_boxes" (images, labels and segmentation_masks only).')
            return dict(data), lambda parts: parts
        if isinstance(data, (list, tuple)):
            if len(data) != 2:
                raise ValueError(f'{type(self).__name__} "{self.name}" takes a pair (images, labels); received a '
                                 f"{type(data).__name__} of {len(data)} items. Pass a dict for more parts.")
            return {"images": data[0], "labels": data[1]}, lambda parts: type(data)((parts["images"],
                                                                                      parts["labels"]))
        return {"images": data}, lambda parts: parts["images"]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}

    def extra_repr(self):
        config = self.get_config()
        shown = [f"{key}={value!r}" for key, value in config.items()
                 if key not in ("name", "trainable", "dtype", "seed", "data_format")]
        return ", ".join([f"name={self.name!r}"] + shown)
