"""Images as files, PIL images and arrays: Keras's `load_img`, `img_to_array`, `array_to_img`, `save_img`.

Pillow is optional (`pip install pillow`, or `pip install deepglass[data]`); it is imported when first used.
"""
import io
import os
import pathlib
import warnings

import numpy as np

from deepglass import config
from deepglass.naming import lookup

_COLOR_MODES = ("grayscale", "rgb", "rgba")


def pil_image():
    """The `PIL.Image` module, or an ImportError that says what to install."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("Reading and writing images needs Pillow, which is not installed; install it with "
                          "`pip install pillow` (or `pip install deepglass[data]`).") from error
    return Image


def _resampling(name):
    methods = pil_image().Resampling
    table = {"nearest": methods.NEAREST, "bilinear": methods.BILINEAR, "bicubic": methods.BICUBIC,
             "hamming": methods.HAMMING, "box": methods.BOX, "lanczos": methods.LANCZOS}
    return lookup("interpolation", name, table)


def _data_format(data_format):
    data_format = config.image_data_format() if data_format is None else data_format.lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Received an invalid value for `data_format`, expected 'channels_last' or "
                         f"'channels_first'. Received: data_format={data_format!r}")
    return data_format


def convert_color(img, color_mode):
    """`img` with 1 (`"grayscale"`: 8-, 16- or 32-bit kept as they are), 3 (`"rgb"`) or 4 (`"rgba"`) channels."""
    if color_mode not in _COLOR_MODES:
        raise ValueError(f"Received an invalid value for `color_mode`, expected one of {_COLOR_MODES}. Received: "
                         f"color_mode={color_mode!r}")
    if color_mode == "grayscale":
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    wanted = color_mode.upper()
    return img if img.mode == wanted else img.convert(wanted)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Load an image file into a PIL image, optionally converted and resized.

    Arguments:
        path: the file's path (str, bytes or `pathlib.Path`) or an `io.BytesIO`.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`.
        target_size: `None` (keep the size) or `(height, width)`.
        interpolation: resampling used to resize: `"nearest"`, `"bilinear"`, `"bicubic"`, `"hamming"`, `"box"` or
            `"lanczos"`.
        keep_aspect_ratio: resize without distortion: first crop the largest centred box with the target's
            aspect ratio.

    Example:
        >>> image = deepglass.utils.load_img("cat.jpg", target_size=(224, 224))
        >>> batch = deepglass.utils.img_to_array(image)[None]  # (1, 224, 224, 3)
    """
    Image = pil_image()
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (str, bytes, pathlib.Path)):
        with open(os.fspath(path), "rb") as file:  # read whole so that the file is closed at once
            img = Image.open(io.BytesIO(file.read()))
    else:
        raise TypeError(f"`path` should be a path (str, bytes, pathlib.Path) or an io.BytesIO; got "
                        f"{type(path).__name__}.")
    img = convert_color(img, color_mode)
    if target_size is None:
        return img
    size = (int(target_size[1]), int(target_size[0]))  # PIL sizes are (width, height)
    if img.size == size:
        return img
    resample = _resampling(interpolation)
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_height = min(height, (width * size[1]) // size[0])
    crop_width = min(width, (height * size[0]) // size[1])
    left, top = (width - crop_width) // 2, (height - crop_height) // 2
    return img.resize(size, resample, box=(left, top, left + crop_width, top + crop_height))


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a 3-D NumPy array, `(height, width, channels)` or `(channels, height, width)`.

    Arguments:
        img: a PIL image.
        data_format: `"channels_last"` or `"channels_first"`; `None` uses `deepglass.config.image_data_format()`.
        dtype: the array's dtype; `None` uses `deepglass.config.floatx()`.

    Example:
        >>> deepglass.utils.img_to_array(deepglass.utils.load_img("cat.png", color_mode="grayscale")).shape
        (32, 32, 1)
    """
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or config.floatx())
    if x.ndim == 2:
        x = x[..., None]
    elif x.ndim != 3:
        raise ValueError(f"Unsupported image shape {x.shape}: expected (height, width) or (height, width, "
                         "channels).")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array (1, 3 or 4 channels) as a PIL image: mode `"L"` (`"I"` above 255), `"RGB"` or `"RGBA"`.

    With `scale`, values are mapped linearly so that the minimum is 0 and the maximum 255.

    Arguments:
        x: an array (or anything NumPy converts), `(height, width, channels)` or `(channels, height, width)`.
        data_format: `"channels_last"` or `"channels_first"`; `None` uses `deepglass.config.image_data_format()`.
        scale: rescale the values to [0, 255].
        dtype: the float type used while scaling; `None` uses `deepglass.config.floatx()`.

    Example:
        >>> img = deepglass.utils.array_to_img(np.random.random((64, 64, 3)))
    """
    Image = pil_image()
    data_format = _data_format(data_format)
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.array(x, dtype=dtype or config.floatx())
    if x.ndim != 3:
        raise ValueError(f"Expected an image array of rank 3 (one image); got an array of shape {x.shape}.")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x /= peak
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return Image.fromarray(x.astype("uint8"), "RGBA" if channels == 4 else "RGB")
    if channels == 1:
        if np.max(x) > 255:  # beyond 8 bits: PIL's 32-bit integer grayscale
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Expected an image with 1, 3 or 4 channels; got {channels} (array of shape {x.shape}).")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save an image array to a file (or file object) through Pillow.

    Arguments:
        path: a path or a file object.
        x: a 3-D array, as for `array_to_img`.
        data_format: `"channels_last"` or `"channels_first"`; `None` uses `deepglass.config.image_data_format()`.
        file_format: `"png"`, `"jpeg"`, ...; `None` takes it from the file name's extension (required for file
            objects). RGBA images saved as JPEG are converted to RGB, with a warning.
        scale: rescale the values to [0, 255] first.
        **kwargs: passed to `PIL.Image.Image.save` (e.g. `quality=95`).

    Example:
        >>> deepglass.utils.save_img("out.png", np.random.random((64, 64, 3)))
    """
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower() or None
    if file_format is not None and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format is not None and file_format.lower() == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
