"""InputSpec: what a layer accepts (rank, axis sizes), checked once before training with a message that helps."""
import math


class InputSpec:
    """Constraints on a layer's input, as in Keras: `ndim`, `min_ndim`, `max_ndim`, `axes` ({axis: size}), `shape`.

    Example: `InputSpec(min_ndim=2, axes={-1: 784})` is what a built `Dense` with 784 inputs accepts.
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None):
        self.dtype = dtype
        self.shape = tuple(shape) if shape is not None else None
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name = name

    def __repr__(self):
        fields = ("dtype", "shape", "ndim", "max_ndim", "min_ndim", "axes")
        parts = [f"{f}={getattr(self, f)}" for f in fields if getattr(self, f)]
        return f"InputSpec({', '.join(parts)})"


def _describe(layer):
    return f'{type(layer).__name__} "{layer.name}"'


def _hint(layer, shape, spec):
    return f"{layer._input_hint(shape, spec)}."


def check_input_spec(layer, spec, shape):
    """Raise a ValueError naming the layer, the shape expected and the shape given, with a fix where one is known."""
    shape = tuple(shape)
    ndim = len(shape)
    who = _describe(layer)
    if spec.ndim is not None and ndim != spec.ndim:
        raise ValueError(f"{who} expects {spec.ndim}-D input, got shape {shape}{_hint(layer, shape, spec)}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{who} expects input of at least {spec.min_ndim} dimensions, got shape {shape}"
                         f"{_hint(layer, shape, spec)}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{who} expects input of at most {spec.max_ndim} dimensions, got shape {shape}"
                         f"{_hint(layer, shape, spec)}")
    for axis, size in spec.axes.items():
        if size is not None and -ndim <= axis < ndim and shape[axis] not in (size, None):
            where = "last axis" if axis == -1 else f"axis {axis}"
            hint = layer._input_hint(shape, spec)
            if not hint and axis == -1 and ndim > 2 and None not in shape[1:] and math.prod(shape[1:]) == size:
                hint = "; add Flatten() before it"
            raise ValueError(f"{who} expects inputs with {where} {size}, got shape {shape}{hint}.")
    if spec.shape is not None:
        for expected, given in zip(spec.shape, shape):
            if expected is not None and given is not None and expected != given:
                raise ValueError(f"{who} expects input of shape {spec.shape}, got shape {shape}.")


def check_model_input(who, expected, given):
    """Raise when data of shape `given` cannot feed a model input of shape `expected` (None matches any size)."""
    given = tuple(given)
    if len(given) == len(expected) and all(e is None or e == g for e, g in zip(expected, given)):
        return
    hint = ""
    if None not in expected[1:] and math.prod(given[1:]) == math.prod(expected[1:]):
        hint = (f"; reshape the data with x.reshape(len(x), {', '.join(str(d) for d in expected[1:])}), or start "
                f"the model with Input({given[1:]})" + (" and Flatten()" if len(expected) == 2 else ""))
    raise ValueError(f"{who} expects input of shape {tuple(expected)}, got shape {given}{hint}.")
