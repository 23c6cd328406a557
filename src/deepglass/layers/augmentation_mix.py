"""Sample-mixing augmentation: MixUp and CutMix blend each image (and its label) with another image of the batch.

Both take a dict `{"images": ..., "labels": ...}` (as Keras's layers do) or a pair `(images, labels)`, with one-hot
(or otherwise floating-point) labels, and return the same structure. Called on images alone they mix the images only.
"""
import numbers

import torch

from deepglass.layers.augmentation import BaseImageAugmentationLayer, check_factor


def _beta(concentration, batch_size, generator, device):
    """`batch_size` draws from Beta(c, c) (`c` a number or a 0-d tensor): torch's Dirichlet sampler, which, unlike
    `torch.distributions.Beta`, takes the layer's generator."""
    concentration = concentration.expand(batch_size, 2) if torch.is_tensor(concentration) else \
        torch.full((batch_size, 2), concentration, device=device)
    return torch._sample_dirichlet(concentration.contiguous(), generator=generator)[:, 0]


def _mix(values, weight, partner, layer, what):
    """`weight * values + (1 - weight) * values[partner]`, with `weight` (one per sample) broadcast over the rest."""
    if not values.is_floating_point():
        raise ValueError(f'{type(layer).__name__} "{layer.name}" mixes {what} in proportion, so they must be floats '
                         f"(one-hot labels); received dtype {values.dtype}. Convert class ids with "
                         "deepglass.utils.to_categorical(labels, num_classes).")
    weight = weight.to(values.dtype).view(-1, *([1] * (values.dim() - 1)))
    return weight * values + (1 - weight) * values[partner]


class MixUp(BaseImageAugmentationLayer):
    """MixUp (Zhang et al., 2018): during training each image becomes `w * x_i + (1 - w) * x_j` and its label
    `w * y_i + (1 - w) * y_j`, with `j` a random permutation of the batch and `w ~ Beta(alpha, alpha)` per image.

    Arguments:
        alpha: the Beta distribution's concentration, > 0 (default 0.2): small values keep most images nearly
            whole, 1 mixes uniformly.
        seed: an integer for reproducible mixing.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> images, labels = torch.rand(8, 32, 32, 3), torch.eye(10)[torch.randint(0, 10, (8,))]
        >>> mix_up = deepglass.layers.MixUp(alpha=0.2)
        >>> mixed_images, mixed_labels = mix_up((images, labels), training=True)
        >>> out = mix_up({"images": images, "labels": labels}, training=True)  # Keras's dict form
    """

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not alpha > 0:
            raise ValueError(f"Received an invalid value for `alpha`, expected a positive number such as 0.2. "
                             f"Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def augment(self, images, labels, masks):
        generator = self._seeded_generator(images.device)
        partner = torch.randperm(images.shape[0], generator=generator, device=images.device)
        weight = _beta(self.alpha, images.shape[0], generator, images.device)
        images = _mix(images, weight, partner, self, "images")
        labels = None if labels is None else _mix(labels, weight, partner, self, "labels")
        masks = None if masks is None else _mix(masks, weight, partner, self, "segmentation masks")
        return images, labels, masks

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class CutMix(BaseImageAugmentationLayer):
    """CutMix (Yun et al., 2019): during training a random box of each image is replaced by the same box of another
    image of the batch, and the labels are mixed in proportion to the areas: `y = (1 - a) * y_i + a * y_j`, with `a`
    the fraction of pixels pasted.

    The box covers a fraction `1 - w` of the image, `w ~ Beta(c, c)` per image with `c` drawn once per batch from
    the factor's range; its aspect ratio is the image's and its position uniform.

    Arguments:
        factor: a number `f` in [0, 1] draws `c` from `[0, f]`, a pair `(low, high)` from `[low, high]` (default 1).
        seed: an integer for reproducible mixing.
        data_format: `"channels_last"` (default from the config) or `"channels_first"`.

    Example:
        >>> images, labels = torch.rand(8, 32, 32, 3), torch.eye(10)[torch.randint(0, 10, (8,))]
        >>> mixed_images, mixed_labels = deepglass.layers.CutMix()((images, labels), training=True)
    """

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        value = check_factor("factor", factor, 0.0, 1.0)
        self.factor = (0.0, value) if isinstance(value, float) else tuple(value)

    def augment(self, images, labels, masks):
        n, _, height, width = images.shape
        device, generator = images.device, self._seeded_generator(images.device)
        concentration = self.uniform((), *self.factor, device) + 1e-6  # Beta needs a concentration above 0
        side = torch.sqrt(1.0 - _beta(concentration, n, generator, device))  # the box's side / the image's

        def inside(length):  # (n, length): which rows (or columns) the box covers, one interval per image
            box = side * length
            start = self.uniform((n,), 0.0, 1.0, device) * (length - box)
            position = torch.arange(length, device=device, dtype=box.dtype)
            return (position >= start[:, None]) & (position < (start + box)[:, None])

        cols, rows = inside(width), inside(height)
        box = (rows[:, None, :, None] & cols[:, None, None, :])
        partner = torch.randperm(n, generator=generator, device=device)
        images = torch.where(box, images[partner], images)
        masks = None if masks is None else torch.where(box, masks[partner], masks)
        if labels is not None:
            pasted = rows.sum(1) * cols.sum(1) / (height * width)
            labels = _mix(labels, 1.0 - pasted, partner, self, "labels")
        return images, labels, masks

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}
