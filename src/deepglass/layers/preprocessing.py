"""Numeric preprocessing layers: Normalization, Rescaling, Discretization, CategoryEncoding."""
import itertools

import numpy as np
import torch
import torch.nn.functional as F

from deepglass import config, naming
from deepglass.layers.layer import Layer
from deepglass.layers.symbolic import KerasTensor


def _as_axes(axis):
    if axis is None:
        return ()
    return (int(axis),) if isinstance(axis, int) else tuple(int(a) for a in axis)


def _first_of(batch):
    """The inputs of a batch that may come as `(x, y)` or `(x, y, sample_weight)`."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _batches(data, batch_size=None, steps=None):
    """`data` (an array, a tensor, or an iterable of batches) as a stream of float64 tensors."""
    if isinstance(data, np.ndarray) or torch.is_tensor(data):
        tensor = torch.as_tensor(data)
        stream = [tensor] if batch_size is None else torch.split(tensor, int(batch_size))
    elif hasattr(data, "__iter__"):
        stream = (_first_of(batch) for batch in data)
    else:
        raise TypeError(f"adapt() expects a NumPy array, a tensor or an iterable of batches; received "
                        f"{type(data).__name__}. Pass e.g. layer.adapt(x) or layer.adapt([x1, x2]).")
    if steps is not None:
        stream = itertools.islice(stream, int(steps))
    return (torch.as_tensor(np.asarray(b) if not torch.is_tensor(b) else b).to(torch.float64) for b in stream)


class Normalization(Layer):
    """Feature-wise standardisation: `(inputs - mean) / max(sqrt(variance), epsilon)`.

    The mean and variance are given, or learnt from data with `adapt(data)` (population variance, streamed over
    batches); `invert=True` undoes the standardisation (`mean + inputs * max(sqrt(variance), epsilon)`).

    Arguments:
        axis: the axis or axes that keep separate statistics (-1: one mean per feature; None: one for all).
        mean, variance: fixed statistics (scalars or arrays broadcastable to the kept axes), or None to adapt.
        invert: apply the inverse transformation.

    Example:
        >>> layer = deepglass.layers.Normalization()
        >>> layer.adapt(np.array([[1.0], [3.0]]))
        >>> layer(np.array([[3.0]]))
        tensor([[1.]])
    """

    _passes_masks = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _as_axes(axis)
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization needs both `mean` and `variance` or neither. Received: mean={mean} "
                             f"and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"`mean` and `variance` must have the same shape. Received: mean shape "
                                 f"{np.shape(mean)} and variance shape {np.shape(variance)}")
            if np.ndim(mean) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be at most the number of kept axes ({len(self.axis)}). "
                                 f"Received: mean shape {np.shape(mean)} for axis={self.axis}")

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Normalization `axis` values must be in [-{ndim}, {ndim}) for inputs of shape "
                             f"{tuple(input_shape)}. Received: axis={self.axis}")
        self._build_shape = tuple(input_shape)
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep:
            if input_shape[d] is None:
                raise ValueError(f"Normalization needs a known size on kept axis {d}; received input shape "
                                 f"{tuple(input_shape)}.")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in self._keep)
        if self.input_mean is None:
            self.add_weight(stats_shape, "zeros", trainable=False, name="mean")
            self.add_weight(stats_shape, "ones", trainable=False, name="variance")
            self.add_weight((), "zeros", dtype="int64", trainable=False, name="count")
            return
        # Given statistics are part of the config, not weights (as in Keras): kept as non-persistent buffers.
        self.register_buffer("mean", self._fixed(self.input_mean), persistent=False)
        self.register_buffer("variance", self._fixed(self.input_variance), persistent=False)

    def _fixed(self, value):
        value = torch.as_tensor(np.asarray(value, dtype="float64"), dtype=config.standardize_dtype(self._dtype))
        shape = [1] * len(self._broadcast_shape)
        for i in range(1, value.dim() + 1):
            shape[self._keep[-i]] = value.shape[-i]
        value = value.reshape(shape).expand(self._broadcast_shape).clone()
        device = getattr(self, "_build_device", None)
        return value if device is None else value.to(device)

    def adapt(self, data, batch_size=None, steps=None):
        """Set the mean and variance from `data`: an array, a tensor, or an iterable of batches (`(x, y)` batches
        use `x`). `batch_size` streams an array in batches; `steps` stops after that many batches."""
        if self.input_mean is not None:
            raise ValueError("adapt() learns the statistics, but this Normalization was given `mean` and "
                             "`variance`; create it without them to adapt.")
        total = mean = var = None
        for batch in _batches(data, batch_size, steps):
            if not self.built:
                self._maybe_build((None,) + tuple(batch.shape[1:]))
            self._check_adapt_shape(batch.shape)
            count = int(np.prod([batch.shape[d] for d in self._reduce]))
            batch_var, batch_mean = torch.var_mean(batch, dim=self._reduce, correction=0)
            if total is None:
                total, mean, var = count, batch_mean, batch_var
                continue
            # Chan et al.'s pairwise update: the population variance of the union of both parts.
            new_total = total + count
            delta = batch_mean - mean
            mean = mean + delta * (count / new_total)
            var = (var * total + batch_var * count + delta.square() * (total * count / new_total)) / new_total
            total = new_total
        if total is None:
            raise ValueError("adapt() received no batches; pass a non-empty array or iterable of batches.")
        with torch.no_grad():
            self.mean.copy_(mean.reshape(self.mean.shape))
            self.variance.copy_(var.reshape(self.variance.shape))

    def _check_adapt_shape(self, shape):
        if len(shape) != len(self._build_shape) or any(shape[d] != self._build_shape[d] for d in self._keep):
            raise ValueError(f"Normalization was built for inputs of shape {self._build_shape}, but adapt() got "
                             f"a batch of shape {tuple(shape)}; the kept axes {self._keep} must match.")

    def call(self, inputs):
        inputs = inputs.to(self.mean.dtype)
        mean = self.mean.reshape(self._broadcast_shape)
        scale = self.variance.reshape(self._broadcast_shape).sqrt().clamp_min(config.epsilon())
        return mean + inputs * scale if self.invert else (inputs - mean) / scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(value):
            return None if value is None else np.asarray(value, dtype="float64").tolist()
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": plain(self.input_mean), "variance": plain(self.input_variance)}


class Rescaling(Layer):
    """Rescales values: `inputs * scale + offset` (`Rescaling(1 / 255)` maps pixels to [0, 1]).

    Arguments:
        scale: a number, or one number per channel.
        offset: a number, or one number per channel.

    Example:
        >>> deepglass.layers.Rescaling(1 / 127.5, offset=-1)(torch.tensor([0.0, 255.0]))
        tensor([-1.,  1.])
    """

    _passes_masks = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = _number_or_list(scale), _number_or_list(offset)
        dtype = config.standardize_dtype(self._dtype)
        for name, value in (("_scale", self.scale), ("_offset", self.offset)):
            tensor = torch.as_tensor(value, dtype=dtype)
            if tensor.dim() > 0 and config.image_data_format() == "channels_first":
                # Per-channel values broadcast over (channels, height, width), as Keras does.
                tensor = tensor.reshape(tuple(tensor.shape) + (1,) * (3 - tensor.dim()))
            self.register_buffer(name, tensor, persistent=False)

    def call(self, inputs):
        return inputs.to(self._scale.dtype) * self._scale + self._offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _number_or_list(value):
    value = np.asarray(value.detach().cpu() if torch.is_tensor(value) else value, dtype="float64")
    return float(value) if value.ndim == 0 else value.tolist()


def encode_categories(indices, output_mode, depth, dtype, count_weights=None):
    """Integer `indices` as `"int"` (unchanged), `"one_hot"`, `"multi_hot"` or `"count"` vectors of `depth`;
    negative indices encode to zeros (as Keras's torch backend does)."""
    if output_mode == "int":
        return indices
    if indices.dim() == 0:
        indices = indices.unsqueeze(0)
    if output_mode == "one_hot" and indices.dim() > 1 and indices.shape[-1] == 1:
        indices = indices.squeeze(-1)
    indices = indices.long()
    encoded = F.one_hot(indices.clamp_min(0), depth) * (indices >= 0).unsqueeze(-1)
    encoded = encoded.to(dtype)
    if output_mode == "one_hot":
        return encoded
    if count_weights is not None:
        encoded = encoded * count_weights.to(dtype).unsqueeze(-1)
    # multi_hot and count fold the last input axis into one vector per sample.
    return encoded.amax(dim=-2) if output_mode == "multi_hot" else encoded.sum(dim=-2)


def encoded_shape(input_shape, output_mode, depth):
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if not input_shape:
        return (depth,)
    if output_mode == "one_hot":
        keep = input_shape[:-1] if len(input_shape) > 1 and input_shape[-1] == 1 else input_shape
        return keep + (depth,)
    return input_shape[:-1] + (depth,)


_CATEGORY_MODES = {"one_hot": "one_hot", "multi_hot": "multi_hot", "binary": "multi_hot", "count": "count"}


class CategoryEncoding(Layer):
    """Encodes integer category ids as one-hot, multi-hot or count vectors of length `num_tokens`.

    Arguments:
        num_tokens: the number of categories; ids must be in `[0, num_tokens)`.
        output_mode: `"multi_hot"` (default: 1 where an id occurs in the sample), `"one_hot"` (one vector per id)
            or `"count"` (how often each id occurs, weighted by `count_weights` if given to the call).

    Example:
        >>> deepglass.layers.CategoryEncoding(4, output_mode="one_hot")(torch.tensor([3, 0]))
        tensor([[0., 0., 0., 1.],
                [1., 0., 0., 0.]])
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_tokens, int) or isinstance(num_tokens, bool) or num_tokens < 1:
            raise ValueError(f"Received an invalid value for `num_tokens`, expected a positive integer. "
                             f"Received: num_tokens={num_tokens!r}")
        if sparse:
            raise ValueError("CategoryEncoding does not support sparse outputs; pass sparse=False.")
        self.num_tokens = num_tokens
        self.output_mode = naming.lookup("output_mode", output_mode, _CATEGORY_MODES)

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f'`count_weights` is only used with output_mode="count"; received output_mode='
                             f'"{self.output_mode}". Drop count_weights or use output_mode="count".')
        if count_weights is not None:
            count_weights = torch.as_tensor(count_weights, device=inputs.device)
        dtype = config.standardize_dtype(self._dtype)
        return encode_categories(torch.as_tensor(inputs), self.output_mode, self.num_tokens, dtype, count_weights)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode,
                "sparse": False}


def _summarize(values, epsilon):
    """A weighted summary `[values, weights]` of the sorted `values`: about 1/epsilon evenly spaced samples."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size * epsilon, 1)
    picked = values[int(step - 1)::int(step)]
    return np.stack([picked, np.full_like(picked, step)])


def _compress(summary, epsilon):
    """Re-sample a summary at the cumulative-weight fractions epsilon, 2*epsilon, ..., 1 (linear interpolation)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    where = cumulative / cumulative[-1]
    values = np.interp(fractions, where, summary[0])
    cumulative = np.interp(fractions, where, cumulative)
    weights = np.diff(cumulative, prepend=0.0)
    return np.stack([values, weights]).astype("float32")


def _merge(summary, other, epsilon):
    merged = np.concatenate([summary, other], axis=1)
    return _compress(merged[:, np.argsort(merged[0])], epsilon)


class Discretization(Layer):
    """Buckets values by boundaries: output `i` means `bin_boundaries[i-1] <= x < bin_boundaries[i]`.

    The boundaries are given, or found with `adapt(data)` as the `num_bins` quantiles of the data (Keras's
    approximate quantile summary, with precision `epsilon`: the same boundaries as Keras for the same data).

    Arguments:
        bin_boundaries: sorted boundaries (`[0.0, 1.0]` makes buckets below 0, [0, 1) and from 1).
        num_bins: the number of buckets to learn with `adapt` (instead of `bin_boundaries`).
        epsilon: the quantile summary's precision (smaller is more exact and slower).
        output_mode: `"int"` (bucket ids, int32), `"one_hot"`, `"multi_hot"` or `"count"`.

    Example:
        >>> deepglass.layers.Discretization(bin_boundaries=[0.0, 1.0])(torch.tensor([-1.0, 0.5, 2.0]))
        tensor([0, 1, 2], dtype=torch.int32)
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.output_mode = naming.lookup("output_mode", output_mode, {m: m for m in
                                                                      ("int", "one_hot", "multi_hot", "count")})
        if sparse:
            raise ValueError("Discretization does not support sparse outputs; pass sparse=False.")
        if num_bins is not None and (not isinstance(num_bins, int) or num_bins < 0):
            raise ValueError(f"Received an invalid value for `num_bins`, expected a non-negative integer. "
                             f"Received: num_bins={num_bins!r}")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Pass either `num_bins` or `bin_boundaries`, not both. Received: num_bins={num_bins} "
                             f"and bin_boundaries={bin_boundaries}")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("Discretization needs `bin_boundaries` (e.g. [0.0, 1.0]) or `num_bins` (then adapt()).")
        self.num_bins, self.epsilon = num_bins, float(epsilon)
        self._summary = np.zeros((2, 0), dtype="float32")
        self._set_boundaries(bin_boundaries)

    def _set_boundaries(self, boundaries):
        self.bin_boundaries = None if boundaries is None else [float(b) for b in boundaries]
        values = self.bin_boundaries or []
        self.register_buffer("_boundaries", torch.tensor(values, dtype=torch.float32), persistent=False)

    def adapt(self, data, steps=None):
        """Learn `num_bins` quantile boundaries from `data`: an array, a tensor, or an iterable of batches."""
        if self.num_bins is None:
            raise ValueError("adapt() learns boundaries for `num_bins`, but this Discretization was given "
                             "`bin_boundaries`; create it with num_bins=... to adapt.")
        summary = np.zeros((2, 0), dtype="float32")
        for batch in _batches(data, steps=steps):
            summary = _merge(_summarize(batch.numpy().astype("float32"), self.epsilon), summary, self.epsilon)
        self._summary = summary
        device = self._boundaries.device
        self._set_boundaries(_compress(summary, 1.0 / self.num_bins)[0, :-1].tolist())
        self._boundaries = self._boundaries.to(device)

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("Discretization has no boundaries yet: pass `bin_boundaries` or call adapt(data) "
                             "before using it.")
        boundaries = self._boundaries.to(inputs.device)
        indices = torch.bucketize(inputs.to(boundaries.dtype), boundaries, right=True).to(torch.int32)
        dtype = config.standardize_dtype(self._dtype)
        return encode_categories(indices, self.output_mode, len(self.bin_boundaries) + 1, dtype)

    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self._depth())

    def compute_output_spec(self, inputs):
        dtype = torch.int32 if self.output_mode == "int" else self._dtype
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype)

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": False}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # An adapted layer keeps both its num_bins and its learnt boundaries.
        boundaries = config.pop("bin_boundaries") if config.get("num_bins") is not None else None
        layer = cls(**config)
        if boundaries is not None:
            layer._set_boundaries(boundaries)
        return layer
