"""Colour augmentation: RandomContrast and RandomBrightness (one random factor per image, labels and masks kept)."""
from deepglass.layers.augmentation import (
    BaseImageAugmentationLayer, check_factor, check_value_range, symmetric_range,
)


class RandomContrast(BaseImageAugmentationLayer):
    """Scales each image's contrast by a random factor during training:
    `output = clip((x - mean) * c + mean, *value_range)`, with `mean` per image and channel.

    Arguments:
        factor: a number `f` in [0, 1] draws `c` from `[1 - f, 1 + f]`; a pair `(lower, upper)` draws it from
            `[1 - lower, 1 + upper]` (lower in [0, 1], upper >= 0).
        value_range: `[low, high]`, the range of the pixel values, which outputs are clipped to (default `(0, 255)`).
        seed: an integer for reproducible factors.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> layer = deepglass.layers.RandomContrast(0.2, value_range=(0, 1))
        >>> layer(torch.rand(8, 32, 32, 3), training=True).shape
        torch.Size([8, 32, 32, 3])
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, (list, tuple)):
            lower, upper = check_factor("factor", factor, 0.0, float("inf"))
            if lower > 1:
                raise ValueError(f"Received an invalid value for `factor`, expected its lower bound in [0, 1] (a "
                                 f"contrast factor down to 1 - lower must stay >= 0). Received: factor={factor!r}")
        else:
            lower = upper = check_factor("factor", factor, 0.0, 1.0)
        self.factor = (lower, upper)
        self.value_range = check_value_range(value_range)

    def augment(self, images, labels, masks):
        contrast = self.uniform((images.shape[0], 1, 1, 1), 1.0 - self.factor[0], 1.0 + self.factor[1],
                                images.device).to(images.dtype)
        mean = images.mean(dim=(-2, -1), keepdim=True)
        images = ((images - mean) * contrast + mean).clamp(*self.value_range)
        return images, labels, masks

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomBrightness(BaseImageAugmentationLayer):
    """Adds a random amount to every pixel of each image during training:
    `output = clip(x + d * (high - low), low, high)`, `d` drawn from the factor's range, `[low, high] = value_range`.

    Arguments:
        factor: a number `f` draws `d` from `[-f, f]`, a pair `(lower, upper)` from `[lower, upper]`; in [-1, 1]
            (-1 turns any image black, 1 white).
        value_range: `[low, high]`, the range of the pixel values (default `(0, 255)`; `(0, 1)` for scaled images).
        seed: an integer for reproducible shifts.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> layer = deepglass.layers.RandomBrightness(0.2, value_range=(0, 1))
        >>> layer(torch.rand(8, 32, 32, 3), training=True).shape
        torch.Size([8, 32, 32, 3])
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = symmetric_range("factor", factor)
        self.value_range = check_value_range(value_range)

    def augment(self, images, labels, masks):
        low, high = self.value_range
        delta = self.uniform((images.shape[0], 1, 1, 1), *self.factor, images.device) * (high - low)
        return (images + delta.to(images.dtype)).clamp(low, high), labels, masks

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}
