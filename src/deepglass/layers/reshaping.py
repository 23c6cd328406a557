"""Layers that change a tensor's shape without weights: Flatten, Reshape, Permute, RepeatVector.

Upsampling is in `sampling.py`, padding and cropping in `padding.py`.
"""
import math
import numbers

from deepglass import config
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.layer import Layer


class Flatten(Layer):
    """Flattens each sample to a vector: `(batch, 28, 28, 1)` becomes `(batch, 784)`.

    With `data_format="channels_first"`, the channels axis is moved last first, so the element order matches
    what the same network gives in channels-last format (as in Keras).

    Example:
        >>> deepglass.layers.Flatten()(torch.ones(2, 28, 28, 1)).shape
        torch.Size([2, 784])
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or config.image_data_format()

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.dim() > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1): `Reshape((28, 28, 1))` on `(batch, 784)`.

    Example:
        >>> deepglass.layers.Reshape((4, -1))(torch.ones(2, 12)).shape
        torch.Size([2, 4, 3])
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in target_shape) > 1 or any(d == 0 or d < -1 for d in target_shape):
            raise ValueError("Received an invalid value for `target_shape`, expected positive sizes with at most "
                             f"one -1. Received: target_shape={target_shape}")
        self.target_shape = target_shape

    def call(self, inputs):
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        known = math.prod(d for d in self.target_shape if d != -1)
        size = None if None in input_shape[1:] else math.prod(input_shape[1:])
        if size is not None and (size % known or (-1 not in self.target_shape and size != known)):
            raise ValueError(f'Reshape "{self.name}" cannot reshape input of shape {tuple(input_shape)} '
                             f"({size} values per sample) to {self.target_shape}.")
        shape = tuple((size // known if size is not None else None) if d == -1 else d for d in self.target_shape)
        return (input_shape[0],) + shape

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permutes the non-batch axes; `dims` counts from 1: `Permute((2, 1))` swaps the two axes of each sample.

    Example:
        >>> deepglass.layers.Permute((2, 1))(torch.ones(2, 3, 5)).shape
        torch.Size([2, 5, 3])
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Received an invalid value for `dims`, expected a permutation of 1..n. "
                             f"Received: dims={dims}")
        self.dims = dims

    def call(self, inputs):
        return inputs.permute((0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeats each input vector `n` times: `(batch, features)` -> `(batch, n, features)`.

    `output[b, i, f] = input[b, f]` for every `i < n` (a broadcast view, no copy), as an encoder-decoder feeds one
    code vector to every step of a recurrent decoder.

    Arguments:
        n: the number of repetitions, a positive integer.

    Example:
        >>> deepglass.layers.RepeatVector(3)(torch.ones(2, 32)).shape
        torch.Size([2, 3, 32])
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"Received an invalid value for `n`, expected a positive integer. Received: n={n!r}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f'RepeatVector "{self.name}" expects 2-D input (batch, features), got shape '
                             f"{tuple(input_shape)}; add Flatten() before it.")

    def call(self, inputs):
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def compute_output_shape(self, input_shape):
        self.build(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}

    def extra_repr(self):
        return f"name={self.name!r}, n={self.n}"
