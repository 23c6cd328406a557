"""Image preprocessing layers: Resizing and CenterCrop (batches `(N, H, W, C)` or single images `(H, W, C)`)."""
import torch
import torch.nn.functional as F

from deepglass import naming
from deepglass.layers.convolutional import standardize_data_format
from deepglass.layers.layer import Layer
from deepglass.layers.symbolic import KerasTensor

# Keras's torch engine resizes "nearest" with torch's "nearest-exact" (pixel centres, like TensorFlow's).
_INTERPOLATIONS = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}


def _positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer. "
                         f"Received: {name}={value!r}")
    return value


def _aspect_box(height, width, target_height, target_width, grow):
    """The (height, width) box of the target's aspect ratio that fits inside the image (`grow=False`: crop) or
    holds it (`grow=True`: pad), with Keras's integer rounding."""
    box_height = int(float(width * target_height) / target_width)
    box_width = int(float(height * target_width) / target_height)
    if grow:
        return max(height, box_height), max(width, box_width)
    return max(min(height, box_height), 1), max(min(width, box_width), 1)


def resize_images(images, size, interpolation="bilinear", channels_last=True, crop_to_aspect_ratio=False,
                  pad_to_aspect_ratio=False, fill_value=0.0, antialias=False):
    """Resize a batch (rank 4) or one image (rank 3) to `size`; integer images are rounded and clipped back."""
    if images.dim() not in (3, 4):
        raise ValueError(f"Expected images of rank 3 (one image) or 4 (a batch); received shape "
                         f"{tuple(images.shape)}.")
    single, dtype = images.dim() == 3, images.dtype
    x = images.unsqueeze(0) if single else images
    x = x.permute(0, 3, 1, 2) if channels_last else x
    x = x if x.is_floating_point() else x.float()
    height, width = x.shape[-2:]
    if crop_to_aspect_ratio:
        box_h, box_w = _aspect_box(height, width, size[0], size[1], grow=False)
        top, left = int((height - box_h) / 2), int((width - box_w) / 2)
        x = x[:, :, top:top + box_h, left:left + box_w]
    elif pad_to_aspect_ratio:
        box_h, box_w = _aspect_box(height, width, size[0], size[1], grow=True)
        top, left = int((box_h - height) / 2), int((box_w - width) / 2)
        # Keras pads the same amount on both sides, so an odd difference leaves the box one pixel short.
        x = F.pad(x, (left, left, top, top), value=float(fill_value))
    mode = _INTERPOLATIONS[interpolation]
    smooth = mode in ("bilinear", "bicubic")
    x = F.interpolate(x, size=tuple(size), mode=mode, align_corners=False if smooth else None,
                      antialias=bool(antialias) and smooth)
    x = x.permute(0, 2, 3, 1) if channels_last else x
    x = x.squeeze(0) if single else x
    if dtype.is_floating_point:
        return x.to(dtype)
    info = torch.iinfo(dtype)
    return x.round().clamp(info.min, info.max).to(dtype)


def _resized_shape(input_shape, height, width, channels_last):
    shape = list(input_shape)
    first = len(shape) - 3 if channels_last else len(shape) - 2
    shape[first:first + 2] = [height, width]
    return tuple(shape)


class Resizing(Layer):
    """Resizes images to `(height, width)`, optionally cropping or padding to the target aspect ratio first.

    Arguments:
        height, width: the output size.
        interpolation: `"bilinear"` (default), `"nearest"` or `"bicubic"`.
        crop_to_aspect_ratio: crop the largest centred box of the target aspect ratio, then resize (no distortion).
        pad_to_aspect_ratio: pad the image (with `fill_value`) to the target aspect ratio, then resize.
        fill_mode: `"constant"` (the only mode, as in Keras's torch engine); fill_value: the padding value.
        antialias: low-pass filter when downsampling (bilinear and bicubic only).
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> deepglass.layers.Resizing(64, 64)(torch.zeros(2, 32, 48, 3)).shape
        torch.Size([2, 64, 64, 3])
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = _positive("height", height), _positive("width", width)
        if interpolation in ("lanczos3", "lanczos5"):
            raise ValueError(f"Resizing has no Lanczos interpolation; use 'bilinear', 'bicubic' or 'nearest'. "
                             f"Received: interpolation={interpolation!r}")
        self.interpolation = naming.lookup("interpolation", interpolation, {k: k for k in _INTERPOLATIONS})
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True.")
        if fill_mode != "constant":
            raise ValueError(f"Resizing pads with fill_mode='constant' only. Received: fill_mode={fill_mode!r}")
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = bool(crop_to_aspect_ratio), bool(pad_to_aspect_ratio)
        self.fill_mode, self.fill_value, self.antialias = fill_mode, float(fill_value), bool(antialias)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        return resize_images(inputs, (self.height, self.width), self.interpolation,
                             self.data_format == "channels_last", self.crop_to_aspect_ratio,
                             self.pad_to_aspect_ratio, self.fill_value, self.antialias)

    def compute_output_shape(self, input_shape):
        return _resized_shape(input_shape, self.height, self.width, self.data_format == "channels_last")

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(inputs.shape), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias, "data_format": self.data_format}


class CenterCrop(Layer):
    """Crops the central `(height, width)` box of images; an image smaller than that on either side is instead
    cropped to the target aspect ratio and resized (bilinear), as Keras does.

    Arguments:
        height, width: the output size.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> deepglass.layers.CenterCrop(24, 24)(torch.zeros(2, 32, 32, 3)).shape
        torch.Size([2, 24, 24, 3])
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = _positive("height", height), _positive("width", width)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        channels_last = self.data_format == "channels_last"
        if inputs.dim() not in (3, 4):
            raise ValueError(f'CenterCrop "{self.name}" expects images of rank 3 or 4; received shape '
                             f"{tuple(inputs.shape)}.")
        inputs = inputs.to(self._dtype)
        h_axis = inputs.dim() - 3 if channels_last else inputs.dim() - 2
        height, width = inputs.shape[h_axis], inputs.shape[h_axis + 1]
        if height < self.height or width < self.width:
            return resize_images(inputs, (self.height, self.width), "bilinear", channels_last,
                                 crop_to_aspect_ratio=True)
        top, left = (height - self.height) // 2, (width - self.width) // 2
        return inputs.narrow(h_axis, top, self.height).narrow(h_axis + 1, left, self.width)

    def compute_output_shape(self, input_shape):
        return _resized_shape(input_shape, self.height, self.width, self.data_format == "channels_last")

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}
