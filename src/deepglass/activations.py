"""Activation functions on torch tensors, with Keras's names and arguments.

Each function takes a tensor and returns a tensor of the same shape on the same device. Arrays and lists are
converted first, so `activations.sigmoid(np.linspace(-5, 5))` works for plotting. Use them by name in layers
(`Dense(64, activation="relu")`) or call them directly.

Example:
    >>> from deepglass import activations
    >>> activations.relu(torch.tensor([-10.0, -5.0, 0.0, 5.0, 10.0]), max_value=5.0)
    tensor([0., 0., 0., 5., 5.])
"""
import torch
import torch.nn.functional as F

from deepglass import config, naming


def _tensor(x):
    """Tensors pass through untouched; arrays, lists and numbers become tensors (floats as `floatx`)."""
    if isinstance(x, torch.Tensor):
        return x
    x = torch.as_tensor(x)
    return x if x.is_floating_point() else x.to(config.standardize_dtype())


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: `max(x, 0)` by default.

    With the arguments: `x` where `threshold < x < max_value`, `max_value` above it, and
    `negative_slope * (x - threshold)` at or below `threshold`.

    Arguments:
        x: input tensor.
        negative_slope: slope below the threshold.
        max_value: the largest value returned (None: unbounded).
        threshold: the value below which the output is damped or zero.

    Example:
        >>> relu(torch.tensor([-10.0, 0.0, 10.0]), negative_slope=0.5)
        tensor([-5.,  0., 10.])
    """
    x = _tensor(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return F.leaky_relu(x, negative_slope)
    y = F.threshold(x, threshold, 0.0) if threshold != 0 else F.relu(x)
    if max_value is not None:
        y = y.clamp(0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * F.relu(threshold - x)
    return y


def relu6(x):
    """ReLU capped at 6: `min(max(x, 0), 6)`.

    Example:
        >>> relu6(torch.tensor([-1.0, 3.0, 9.0]))
        tensor([0., 3., 6.])
    """
    return F.relu6(_tensor(x))


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: `x` if `x >= 0`, else `negative_slope * x`.

    Arguments:
        x: input tensor.
        negative_slope: slope for negative inputs.
    """
    return F.leaky_relu(_tensor(x), negative_slope)


def elu(x, alpha=1.0):
    """Exponential linear unit: `x` if `x > 0`, else `alpha * (exp(x) - 1)`.

    Arguments:
        x: input tensor.
        alpha: the value the output saturates to, negated, for large negative inputs.
    """
    return F.elu(_tensor(x), alpha)


def selu(x):
    """Scaled ELU: `scale * elu(x, alpha)` with `alpha=1.67326324`, `scale=1.05070098`.

    Pair it with the `lecun_normal` initializer so activations keep zero mean and unit variance.
    """
    return F.selu(_tensor(x))


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: `x` if `x >= 0`, else `alpha * (exp(x / alpha) - 1)`.

    Arguments:
        x: input tensor.
        alpha: scale of the negative part.
    """
    return F.celu(_tensor(x), alpha)


def gelu(x, approximate=False):
    """Gaussian error linear unit: `x * P(X <= x)` for `X ~ N(0, 1)`, i.e. `0.5 * x * (1 + erf(x / sqrt(2)))`.

    Arguments:
        x: input tensor.
        approximate: use the tanh approximation
            `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))`.
    """
    return F.gelu(_tensor(x), approximate="tanh" if approximate else "none")


def silu(x):
    """Swish / SiLU: `x * sigmoid(x)`."""
    return F.silu(_tensor(x))


swish = silu


def hard_silu(x):
    """Hard SiLU (hard swish): `x * hard_sigmoid(x)`, i.e. `0` below -3, `x` above 3, `x * (x + 3) / 6` between."""
    return F.hardswish(_tensor(x))


hard_swish = hard_silu


def mish(x):
    """Mish: `x * tanh(softplus(x))`."""
    return F.mish(_tensor(x))


def softplus(x):
    """Softplus: `log(exp(x) + 1)`."""
    return F.softplus(_tensor(x))


def softsign(x):
    """Softsign: `x / (abs(x) + 1)`."""
    return F.softsign(_tensor(x))


def squareplus(x, b=4):
    """Squareplus: `(x + sqrt(x**2 + b)) / 2`, a smooth ReLU.

    Arguments:
        x: input tensor.
        b: smoothness; 0 gives ReLU.
    """
    x = _tensor(x)
    return (x + torch.sqrt(x * x + b)) / 2


def sparse_plus(x):
    """SparsePlus: `0` for `x <= -1`, `(x + 1)**2 / 4` for `-1 < x < 1`, `x` for `x >= 1`."""
    x = _tensor(x)
    return torch.where(x < 1, F.relu(x + 1) ** 2 / 4, x)


def sigmoid(x):
    """Logistic sigmoid: `1 / (1 + exp(-x))`.

    The output remembers its input as `_keras_logits`, so a cross-entropy loss can work from the logits
    (exact and stable) instead of from the rounded probabilities, as Keras does.
    """
    x = _tensor(x)
    output = torch.sigmoid(x)
    output._keras_logits = x
    return output


def hard_sigmoid(x):
    """Hard sigmoid, Keras 3's: `0` for `x <= -3`, `1` for `x >= 3`, `x / 6 + 0.5` between."""
    return F.hardsigmoid(_tensor(x))


def sparse_sigmoid(x):
    """Sparse sigmoid: `0` for `x <= -1`, `1` for `x >= 1`, `(x + 1) / 2` between."""
    return (F.hardtanh(_tensor(x)) + 1) / 2


def log_sigmoid(x):
    """Logarithm of the sigmoid: `-softplus(-x)`, computed stably."""
    return F.logsigmoid(_tensor(x))


def tanh(x):
    """Hyperbolic tangent: `(exp(x) - exp(-x)) / (exp(x) + exp(-x))`."""
    return torch.tanh(_tensor(x))


def hard_tanh(x):
    """Hard tanh: `x` clipped to `[-1, 1]`."""
    return F.hardtanh(_tensor(x))


def tanh_shrink(x):
    """Tanh shrink: `x - tanh(x)`."""
    return F.tanhshrink(_tensor(x))


def soft_shrink(x, threshold=0.5):
    """Soft shrink: `x - threshold` above `threshold`, `x + threshold` below `-threshold`, `0` between."""
    return F.softshrink(_tensor(x), threshold)


def hard_shrink(x, threshold=0.5):
    """Hard shrink: `x` where `|x| > threshold`, `0` elsewhere."""
    return F.hardshrink(_tensor(x), threshold)


def threshold(x, threshold, default_value):
    """Threshold: `x` where `x > threshold`, `default_value` elsewhere.

    Example:
        >>> threshold(torch.tensor([-1.0, 0.5, 2.0]), 1.0, 0.0)
        tensor([0., 0., 2.])
    """
    return F.threshold(_tensor(x), threshold, default_value)


def exponential(x):
    """Exponential: `exp(x)`."""
    return torch.exp(_tensor(x))


def linear(x):
    """Identity: returns `x` unchanged."""
    return x


def step(x):
    """Heaviside step: `1` where `x > 0`, else `0`; the perceptron's activation.

    Its gradient is zero everywhere (including at 0), so a network trained by gradient descent learns nothing
    through a step unit: use it to run or illustrate a perceptron, and `sigmoid` to train one.

    Example:
        >>> step(torch.tensor([-2.0, 0.0, 3.0]))
        tensor([0., 0., 1.])
    """
    # sign(relu(x)) is 1 for x > 0 and 0 otherwise, and torch's derivative of sign is 0, so the graph stays
    # connected (backward works) with an exactly zero gradient, and infinities give 1 or 0 rather than NaN.
    return torch.sign(F.relu(_tensor(x)))


def softmax(x, axis=-1):
    """Softmax: `exp(x) / sum(exp(x))` along `axis`; the outputs are positive and sum to 1.

    Over the last axis, the output remembers its input as `_keras_logits` (see `sigmoid`).

    Arguments:
        x: input tensor.
        axis: the axis (or tuple of axes, or None for all) the probabilities sum to 1 over.
    """
    x = _tensor(x)
    output = F.softmax(x, axis) if isinstance(axis, int) else torch.exp(log_softmax(x, axis))
    if axis == -1 or axis == x.dim() - 1:  # cross-entropy reads classes from the last axis
        output._keras_logits = x
    return output


def log_softmax(x, axis=-1):
    """Log-softmax: `x - log(sum(exp(x)))` along `axis`, computed stably.

    Arguments:
        x: input tensor.
        axis: the axis (or tuple of axes, or None for all) to normalise over.
    """
    x = _tensor(x)
    if isinstance(axis, int):
        return F.log_softmax(x, axis)
    dims = tuple(range(x.ndim)) if axis is None else tuple(axis)
    return x - torch.logsumexp(x, dim=dims, keepdim=True)


def glu(x, axis=-1):
    """Gated linear unit: `a * sigmoid(b)`, where `a` and `b` are the two halves of `x` along `axis`.

    Arguments:
        x: input tensor; its size along `axis` must be even.
        axis: the axis split in two.
    """
    return F.glu(_tensor(x), axis)


def sparsemax(x, axis=-1):
    """Sparsemax: the Euclidean projection of `x` onto the probability simplex along `axis`.

    Like softmax its outputs sum to 1, but small inputs get exactly 0: `max(x - tau, 0)` with `tau` chosen so
    the outputs sum to 1 (Martins & Astudillo, 2016).

    Arguments:
        x: input tensor.
        axis: the axis the outputs sum to 1 over.
    """
    x = _tensor(x)
    z = x.movedim(axis, -1)
    z_sorted = torch.sort(z, dim=-1, descending=True).values
    cumsum = z_sorted.cumsum(-1)
    k = torch.arange(1, z.shape[-1] + 1, device=z.device, dtype=z.dtype)
    support = (1 + k * z_sorted > cumsum).sum(-1, keepdim=True)
    tau = (cumsum.gather(-1, support - 1) - 1) / support.to(z.dtype)
    return F.relu(z - tau).movedim(-1, axis)


def maxout(x, num_units, axis=-1):
    """Maxout (Goodfellow et al. 2013): the maximum over each of `num_units` equal, contiguous groups of `axis`.

    For an axis of size `d = num_units * k`: `y[j] = max(x[j*k], x[j*k + 1], ..., x[j*k + k - 1])` for
    `j = 0, ..., num_units - 1`; the output has size `num_units` along `axis`. After `Dense(num_units * k)` each unit
    is the maximum of `k` linear pieces, a learned convex piecewise-linear activation. The gradient flows to the
    largest element of each group. Keras has no maxout; the `Maxout` layer wraps this function's rule.

    Arguments:
        x: input tensor.
        num_units: the number of groups, a positive integer dividing the size of `axis`.
        axis: the axis split into groups.

    Example:
        >>> maxout(torch.tensor([[1.0, 4.0, 2.0, 0.0, -1.0, 3.0]]), num_units=2)
        tensor([[4., 3.]])
    """
    x = _tensor(x)
    if isinstance(num_units, bool) or not isinstance(num_units, int) or num_units <= 0:
        raise ValueError(f"Received an invalid value for `num_units`, expected a positive integer. "
                         f"Received: num_units={num_units!r}")
    size = x.shape[axis]
    if size % num_units:
        raise ValueError(f"maxout splits axis {axis} of size {size} into num_units={num_units} equal groups, but "
                         f"{size} is not a multiple of {num_units} (input shape {tuple(x.shape)}); make the size a "
                         f"multiple of num_units.")
    axis = axis % x.dim()
    return x.unflatten(axis, (num_units, size // num_units)).amax(dim=axis + 1)


_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        relu, relu6, leaky_relu, elu, selu, celu, gelu, silu, hard_silu, mish, softplus, softsign, squareplus,
        sparse_plus, sigmoid, hard_sigmoid, sparse_sigmoid, log_sigmoid, tanh, hard_tanh, tanh_shrink,
        soft_shrink, hard_shrink, threshold, exponential, linear, step, softmax, log_softmax, glu, sparsemax, maxout,
    )
}
_ALIASES = {"swish": silu, "hard_swish": hard_silu}
# The functions that act on each value alone, whatever the tensor's layout: all but those along an axis.
ELEMENTWISE = frozenset(_FUNCTIONS.values()) - {softmax, log_softmax, glu, sparsemax, maxout}


def serialize(activation):
    """A built-in activation's name (`serialize(relu) == "relu"`, `serialize(swish) == "silu"`); for anything
    else Keras's dict form, which `deserialize` reads back given `custom_objects`.

    A custom function gives `{"class_name": "function", "config": its name, "module": its module}`; a callable
    object with `get_config()` gives `{"class_name": its class name, "config": its config}`.
    """
    name = getattr(activation, "__name__", None)
    if _FUNCTIONS.get(name) is activation:
        return name
    if hasattr(activation, "get_config"):
        return {"class_name": type(activation).__name__, "config": activation.get_config()}
    if callable(activation) and name is not None:
        return {"class_name": "function", "config": name, "module": getattr(activation, "__module__", None)}
    raise ValueError(
        f"Expected an activation function to serialize; received: {activation!r}. "
        f"Use a name such as 'relu', a function or a callable object with `get_config()`."
    )


def deserialize(config, custom_objects=None):
    """The activation function named by `config`: a name (`"relu"`) or a dict from `serialize`.

    `custom_objects` maps further names to functions, or to classes built with `from_config`.
    """
    custom_objects = custom_objects or {}
    if isinstance(config, dict):
        inner = config.get("config")
        if config.get("class_name") != "function" and isinstance(inner, dict):
            cls = custom_objects.get(config.get("class_name"))
            if cls is not None:
                return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)
        name = inner if config.get("class_name") == "function" else config.get("class_name")
    else:
        name = config
    if not isinstance(name, str):
        raise ValueError(f"Expected an activation name such as 'relu' or its config dict; received: {config!r}.")
    if name in custom_objects:
        return custom_objects[name]
    try:
        return naming.lookup("activation function", name, {**_FUNCTIONS, **_ALIASES})
    except ValueError as error:
        raise ValueError(f"{error} For a custom function pass custom_objects={{{name!r}: function}}.") from None


def get(identifier):
    """The activation function for `identifier`: None -> `linear`; a name or config dict -> the built-in;
    a callable -> itself.

    Example:
        >>> get("relu") is relu
        True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret activation function identifier: expected None, a name or a callable; "
        f"received: {identifier!r}."
    )
