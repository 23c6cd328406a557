"""Geometric image augmentation: RandomFlip, RandomRotation, RandomTranslation, RandomZoom and RandomCrop.

Rotations, translations and zooms use Keras's convention: an output pixel `(x, y)` takes the input at
`M @ (x, y, 1)` in pixel units, one matrix `M` per image, resampled with one `affine_grid` + `grid_sample` call per
batch. Points outside the image are filled as Keras fills them (per interpolation corner, as scipy's `map_coordinates`
does): "reflect" `(d c b a | a b c d | d c b a)`, "wrap" `(a b c d | a b c d)`, "constant" `(k k | a b c d | k k)`
and "nearest" `(a a | a b c d | d d)`.
"""
import math

import torch
import torch.nn.functional as F

from deepglass import naming
from deepglass.layers.augmentation import BaseImageAugmentationLayer, json_factor, symmetric_range
from deepglass.layers.preprocessing_image import _positive, _resized_shape, resize_images

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("bilinear", "nearest")
_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
# grid_sample's padding that equals each fill mode once coordinates are in pixel-edge units (align_corners=False):
# zero padding weights out-of-image corners by 0 (the constant), border clamps (nearest), and reflection about the
# pixel edges is Keras's symmetric reflection. "wrap" is done on the coordinates themselves.
_PADDING = {"constant": "zeros", "nearest": "border", "reflect": "reflection", "wrap": "border"}


def affine_transform(images, matrix, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """Resample a batch `(N, C, H, W)`: output pixel `(x, y)` of image `i` takes the input at `matrix[i] @ (x, y, 1)`
    (pixel units, `matrix` of shape `(N, 2, 3)`), points outside filled by `fill_mode`. Integer images come back
    rounded, in their dtype."""
    n, channels, height, width = images.shape
    x = images if images.is_floating_point() else images.float()
    matrix = matrix.to(x.dtype)
    # Pixel coordinates p and affine_grid's normalised ones g meet by p = half * g + centre, per axis; written with
    # Python numbers so that nothing is copied from the host per call.
    half_x, half_y = width / 2, height / 2
    centre_x, centre_y = half_x - 0.5, half_y - 0.5
    (a0, a1, a2), (b0, b1, b2) = matrix[:, 0].unbind(-1), matrix[:, 1].unbind(-1)
    theta = torch.stack([a0, a1 * (half_y / half_x), (a0 * centre_x + a1 * centre_y + a2 - centre_x) / half_x,
                         b0 * (half_x / half_y), b1, (b0 * centre_x + b1 * centre_y + b2 - centre_y) / half_y],
                        dim=-1).view(n, 2, 3)
    grid = F.affine_grid(theta, [n, channels, height, width], align_corners=False)
    if fill_mode == "wrap":
        # Wrap the sampling points into [0, size), and add the first row and column after the last so that
        # interpolating past the last pixel blends it with the first, as wrapping each corner does.
        gx, gy = grid.unbind(-1)
        px = torch.remainder(half_x * gx + centre_x, width)
        py = torch.remainder(half_y * gy + centre_y, height)
        grid = torch.stack([(2 * px + 1) / (width + 1) - 1, (2 * py + 1) / (height + 1) - 1], dim=-1)
        x = F.pad(x, (0, 1, 0, 1), mode="circular")
    shift_by = float(fill_value) if fill_mode == "constant" else 0.0
    if shift_by:
        x = x - shift_by  # zero padding then fills with fill_value once it is added back
    out = F.grid_sample(x, grid, mode=interpolation, padding_mode=_PADDING[fill_mode], align_corners=False)
    out = out + shift_by if shift_by else out
    return out if images.is_floating_point() else out.round().to(images.dtype)


class RandomFlip(BaseImageAugmentationLayer):
    """Flips images left-right and/or top-bottom at random during training (each image with probability 1/2).

    Arguments:
        mode: `"horizontal"` (left-right), `"vertical"` (top-bottom) or `"horizontal_and_vertical"` (default: each
            flip drawn independently, so the four orientations are equally likely).
        seed: an integer for reproducible flips (default: torch's global generator, see `set_random_seed`).
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> layer = deepglass.layers.RandomFlip("horizontal")
        >>> layer(torch.rand(8, 32, 32, 3), training=True).shape
        torch.Size([8, 32, 32, 3])
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = naming.lookup("flip mode", mode, {m: m for m in _FLIP_MODES})

    def augment(self, images, labels, masks):
        for axis, wanted in ((-1, "horizontal"), (-2, "vertical")):
            if wanted in self.mode:
                flip = self.uniform((images.shape[0], 1, 1, 1), 0.0, 1.0, images.device) <= 0.5
                images = torch.where(flip, images.flip(axis), images)
                masks = None if masks is None else torch.where(flip, masks.flip(axis), masks)
        return images, labels, masks

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class BaseAffineAugmentation(BaseImageAugmentationLayer):
    """A random affine resampling: subclasses give one pixel-space matrix per image (`matrices`)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.fill_mode = naming.lookup("fill_mode", fill_mode, {m: m for m in _FILL_MODES})
        self.interpolation = naming.lookup("interpolation", interpolation, {m: m for m in _INTERPOLATIONS})
        if not isinstance(fill_value, (int, float)) or isinstance(fill_value, bool):
            raise ValueError(f"Received an invalid value for `fill_value`, expected a number. Received: "
                             f"fill_value={fill_value!r}")
        self.fill_value = float(fill_value)

    def matrices(self, batch_size, height, width, device):
        """`(batch_size, 2, 3)` matrices taking output pixel coordinates `(x, y, 1)` to input ones."""
        raise NotImplementedError(f"{type(self).__name__} must implement matrices(batch_size, height, width, device).")

    def augment(self, images, labels, masks):
        matrix = self.matrices(images.shape[0], images.shape[-2], images.shape[-1], images.device)
        images = affine_transform(images, matrix, self.interpolation, self.fill_mode, self.fill_value)
        if masks is not None:  # class ids must stay class ids: masks are never interpolated
            masks = affine_transform(masks, matrix, "nearest", self.fill_mode, self.fill_value)
        return images, labels, masks

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


def _matrix(a0, a1, a2, b0, b1, b2):
    """Stack per-image coefficients (tensors of shape (N,) or numbers) into `(N, 2, 3)` matrices."""
    like = next(v for v in (a0, a1, a2, b0, b1, b2) if torch.is_tensor(v))
    rows = [v if torch.is_tensor(v) else torch.full_like(like, v) for v in (a0, a1, a2, b0, b1, b2)]
    return torch.stack(rows, dim=-1).view(-1, 2, 3)


class RandomRotation(BaseAffineAugmentation):
    """Rotates images about their centre by a random angle during training.

    Arguments:
        factor: the angle as a fraction of a full turn: a number `f` draws from `[-f * 360, f * 360]` degrees, a
            pair `(low, high)` from `[low * 360, high * 360]`; positive angles turn counter-clockwise. In [-1, 1].
        fill_mode: how points outside the image are filled: `"reflect"` (default), `"wrap"`, `"constant"` or
            `"nearest"`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: an integer for reproducible rotations.
        fill_value: the value outside the image with `fill_mode="constant"`.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> layer = deepglass.layers.RandomRotation(0.1, fill_mode="constant")  # up to 36 degrees either way
        >>> layer(torch.rand(8, 32, 32, 3), training=True).shape
        torch.Size([8, 32, 32, 3])
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = symmetric_range("factor", factor)

    def matrices(self, batch_size, height, width, device):
        degrees = self.uniform((batch_size,), self.factor[0] * 360.0, self.factor[1] * 360.0, device)
        angle = degrees * (math.pi / 180.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        cx, cy = (width - 1) / 2, (height - 1) / 2
        return _matrix(cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomTranslation(BaseAffineAugmentation):
    """Shifts images by a random fraction of their height and width during training.

    Arguments:
        height_factor: a number `f` shifts by a fraction of the height drawn from `[-f, f]`, a pair `(low, high)`
            from `[low, high]`; positive values move the image down. In [-1, 1].
        width_factor: the same for the width; positive values move the image right.
        fill_mode: `"reflect"` (default), `"wrap"`, `"constant"` or `"nearest"`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: an integer for reproducible shifts.
        fill_value: the value outside the image with `fill_mode="constant"`.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> layer = deepglass.layers.RandomTranslation(0.1, 0.1)
        >>> layer(torch.rand(8, 32, 32, 3), training=True).shape
        torch.Size([8, 32, 32, 3])
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = json_factor(height_factor), json_factor(width_factor)
        self._height_range = symmetric_range("height_factor", height_factor)
        self._width_range = symmetric_range("width_factor", width_factor)

    def matrices(self, batch_size, height, width, device):
        dy = self.uniform((batch_size,), *self._height_range, device) * height
        dx = self.uniform((batch_size,), *self._width_range, device) * width
        return _matrix(1.0, 0.0, -dx, 0.0, 1.0, -dy)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomZoom(BaseAffineAugmentation):
    """Zooms images in or out about their centre by a random amount during training.

    Arguments:
        height_factor: a number `f` draws the vertical zoom from `[-f, f]`, a pair `(low, high)` from `[low, high]`;
            positive values zoom out (the image shrinks), negative ones zoom in. In (-1, 1].
        width_factor: the same horizontally; None (default) zooms both ways by the same amount, keeping the aspect
            ratio.
        fill_mode: `"reflect"` (default), `"wrap"`, `"constant"` or `"nearest"`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: an integer for reproducible zooms.
        fill_value: the value outside the image with `fill_mode="constant"`.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> layer = deepglass.layers.RandomZoom(0.2)  # between 80% and 120% of the field of view
        >>> layer(torch.rand(8, 32, 32, 3), training=True).shape
        torch.Size([8, 32, 32, 3])
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = json_factor(height_factor), json_factor(width_factor)
        self._height_range = symmetric_range("height_factor", height_factor, low_open=True)
        self._width_range = None if width_factor is None else \
            symmetric_range("width_factor", width_factor, low_open=True)

    def matrices(self, batch_size, height, width, device):
        low, high = self._height_range
        zoom_y = self.uniform((batch_size,), 1.0 + low, 1.0 + high, device)
        zoom_x = zoom_y
        if self._width_range is not None:
            low, high = self._width_range
            zoom_x = self.uniform((batch_size,), 1.0 + low, 1.0 + high, device)
        return _matrix(zoom_x, 0.0, (width - 1) / 2 * (1 - zoom_x), 0.0, zoom_y, (height - 1) / 2 * (1 - zoom_y))

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomCrop(BaseImageAugmentationLayer):
    """Crops a random `(height, width)` window of each image during training.

    At inference (and in training when an image is smaller than the window) it instead crops the largest centred
    box of the target aspect ratio and resizes it to `(height, width)` (bilinear), so the output size is always
    `(height, width)`.

    Arguments:
        height, width: the output size.
        seed: an integer for reproducible crops.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> layer = deepglass.layers.RandomCrop(24, 24)
        >>> layer(torch.rand(8, 32, 32, 3), training=True).shape
        torch.Size([8, 24, 24, 3])
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height, self.width = _positive("height", height), _positive("width", width)

    def augment(self, images, labels, masks):
        n, _, height, width = images.shape
        if height < self.height or width < self.width:
            return self.infer(images, labels, masks)
        generator = self._seeded_generator(images.device)
        top = torch.randint(0, height - self.height + 1, (n, 1, 1), generator=generator, device=images.device)
        left = torch.randint(0, width - self.width + 1, (n, 1, 1), generator=generator, device=images.device)
        rows = top + torch.arange(self.height, device=images.device).view(1, -1, 1)
        cols = left + torch.arange(self.width, device=images.device).view(1, 1, -1)
        batch = torch.arange(n, device=images.device).view(-1, 1, 1)

        def crop(x):  # one window per image; indexing around the channel slice gives (N, h, w, C)
            return x[batch, :, rows, cols].permute(0, 3, 1, 2)

        return crop(images), labels, None if masks is None else crop(masks)

    def infer(self, images, labels, masks):
        size = (self.height, self.width)
        if tuple(images.shape[-2:]) == size:
            return images, labels, masks
        images = resize_images(images, size, "bilinear", channels_last=False, crop_to_aspect_ratio=True)
        if masks is not None:
            masks = resize_images(masks, size, "nearest", channels_last=False, crop_to_aspect_ratio=True)
        return images, labels, masks

    def compute_output_shape(self, input_shape):
        channels_last = self.data_format == "channels_last"

        def cropped(shape):
            return _resized_shape(shape, self.height, self.width, channels_last)

        if isinstance(input_shape, dict):
            return {key: cropped(shape) if key in ("images", "segmentation_masks") else shape
                    for key, shape in input_shape.items()}
        if input_shape and isinstance(input_shape[0], (list, tuple)):  # (images, labels)
            return type(input_shape)((cropped(input_shape[0]), input_shape[1]))
        return cropped(input_shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
