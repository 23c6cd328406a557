"""Merging layers: combine a list of tensors into one (Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot), and their functional forms (`add([x1, x2])`, ...)."""
import torch
import torch.nn.functional as F

from deepglass import config
from deepglass.layers.layer import Layer


def _describe(layer):
    return f'{type(layer).__name__} "{layer.name}"'


def _check_masks(layer, inputs, mask):
    """`mask` as a list with one entry per input, or None when there is no mask at all."""
    if mask is None:
        return None
    if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
        raise ValueError(f"{_describe(layer)} expects one mask per input (a list of {len(inputs)}, None where an "
                         f"input has no mask); received mask={mask!r}.")
    return list(mask)


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, int) for d in value)


class Merge(Layer):
    """Base of the elementwise merge layers: inputs are a list of tensors, the output one tensor of their shape.

    Shapes follow Keras: after the batch axis, each axis must have equal sizes or size 1 (which broadcasts), and an
    input of lower rank gets size-1 axes inserted after its batch axis (a `(batch, 4)` input merges with a
    `(batch, 3, 4)` one). Subclasses implement `_merge_function(list_of_tensors)`.
    """

    _num_inputs = None  # an exact number of inputs, where the layer needs one
    _creates_masks = False
    _elementwise = False  # each output value depends on the values at its position only (Add, ...): any layout will do

    def compute_mask(self, inputs, mask=None):
        """Where the inputs are masked: the elementwise OR of their masks (None when any input has none)."""
        masks = _check_masks(self, inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        result = masks[0]
        for m in masks[1:]:
            result = result | m
        return result

    def _check_inputs(self, input_shape, same_batch=True):
        """The list of input shapes, after checking that there is a list of tensors and (where set) how many."""
        if _is_shape(input_shape) and input_shape:
            raise ValueError(f"{_describe(self)} should be called on a list of tensors, e.g. "
                             f"{type(self).__name__}()([x1, x2]); received a single input of shape "
                             f"{tuple(input_shape)}.")
        if not isinstance(input_shape, (tuple, list)) or not input_shape or not all(map(_is_shape, input_shape)):
            raise ValueError(f"{_describe(self)} should be called on a non-empty list of tensors, e.g. "
                             f"{type(self).__name__}()([x1, x2]); received inputs of shapes {input_shape}.")
        shapes = [tuple(s) for s in input_shape]
        if self._num_inputs is not None and len(shapes) != self._num_inputs:
            raise ValueError(f"{_describe(self)} should be called on a list of exactly {self._num_inputs} tensors; "
                             f"received {len(shapes)} inputs of shapes {shapes}.")
        if same_batch and len({s[0] for s in shapes if s} - {None}) > 1:
            raise ValueError(f"{_describe(self)} cannot merge tensors with different batch sizes; received shapes "
                             f"{shapes}.")
        return shapes

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # only to reject incompatible shapes early, with the layer's name

    def _channels_first_mode(self):
        return "follow" if self._elementwise and type(self).call is Merge.call else None

    def _call_channels_first(self, inputs, training=None):
        return self._merge_function(inputs)  # a model passes inputs of one rank here, all in one layout

    def call(self, inputs):
        self._require_list(inputs)
        ranks = [x.dim() for x in inputs]
        if min(ranks) != max(ranks):
            # Keras aligns lower-rank inputs by inserting axes after the batch axis (torch would align the
            # batch axis with a feature axis instead).
            top = max(ranks)
            inputs = [x.reshape(x.shape[:1] + (1,) * (top - x.dim()) + x.shape[1:]) for x in inputs]
        return self._merge_function(inputs)

    def _require_list(self, inputs):
        # A built layer skips `build`, so a bare tensor is caught here (a tensor would otherwise unpack by rows).
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{_describe(self)} should be called on a list of tensors, e.g. "
                             f"{type(self).__name__}()([x1, x2]); received a single tensor of shape "
                             f"{tuple(inputs.shape)}.")

    def _merge_function(self, inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement _merge_function(inputs).")

    def compute_output_shape(self, input_shape):
        shapes = self._check_inputs(input_shape)
        output = shapes[0][1:]
        for shape in shapes[1:]:
            output = self._broadcast(output, shape[1:], shapes)
        batch = {s[0] for s in shapes if s} - {None}
        return (batch.pop() if batch else None,) + output

    def _broadcast(self, first, second, shapes):
        """The shape of an elementwise result of `first` and `second` (shapes without the batch axis)."""
        if len(first) < len(second):
            first, second = second, first
        if not second:
            return first
        result = list(first[:len(first) - len(second)])
        for i, j in zip(first[len(first) - len(second):], second):
            if i is None or j is None:
                result.append(None)
            elif i == 1 or j == 1 or i == j:
                result.append(j if i == 1 else i)
            else:
                raise ValueError(f"{_describe(self)} received inputs of incompatible shapes {shapes}: after the batch "
                                 "axis, sizes must be equal or 1 on every axis; bring them to the same shape first "
                                 "(e.g. with a Dense or Reshape layer).")
        return tuple(result)


class Add(Merge):
    """Adds a list of tensors elementwise: `output = inputs[0] + inputs[1] + ...`.

    Example:
        >>> x = deepglass.Input((16,))
        >>> y = deepglass.layers.Dense(16)(x)
        >>> deepglass.layers.Add()([x, y]).shape  # a residual connection
        (None, 16)
    """

    _elementwise = True

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output


class Subtract(Merge):
    """Subtracts two tensors elementwise: `output = inputs[0] - inputs[1]`.

    Example:
        >>> deepglass.layers.Subtract()([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
    """

    _elementwise = True
    _num_inputs = 2

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"{_describe(self)} should be called on a list of exactly 2 tensors; received "
                             f"{len(inputs)}.")
        return inputs[0] - inputs[1]


class Multiply(Merge):
    """Multiplies a list of tensors elementwise: `output = inputs[0] * inputs[1] * ...`.

    Example:
        >>> deepglass.layers.Multiply()([torch.full((2, 3), 2.0), torch.full((2, 3), 3.0)])[0]
        tensor([6., 6., 6.])
    """

    _elementwise = True

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output * x
        return output


class Average(Merge):
    """Averages a list of tensors elementwise: `output = (inputs[0] + ... + inputs[n-1]) / n`.

    Example:
        >>> deepglass.layers.Average()([torch.zeros(2, 3), torch.full((2, 3), 4.0)])[0]
        tensor([2., 2., 2.])
    """

    _elementwise = True

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output / len(inputs)


class Maximum(Merge):
    """The elementwise maximum of a list of tensors: `output = max(inputs[0], inputs[1], ...)`.

    Example:
        >>> deepglass.layers.Maximum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])])
        tensor([[3., 5.]])
    """

    _elementwise = True

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = torch.maximum(output, x)
        return output


class Minimum(Merge):
    """The elementwise minimum of a list of tensors: `output = min(inputs[0], inputs[1], ...)`.

    Example:
        >>> deepglass.layers.Minimum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])])
        tensor([[1., 2.]])
    """

    _elementwise = True

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = torch.minimum(output, x)
        return output


class Concatenate(Merge):
    """Concatenates a list of tensors along `axis`; their shapes must match on every other axis.

    Arguments:
        axis: the axis to join along (default: the last).

    Example:
        >>> a, b = deepglass.Input((4, 3)), deepglass.Input((4, 5))
        >>> deepglass.layers.Concatenate()([a, b]).shape
        (None, 4, 8)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"Received an invalid value for `axis`, expected an integer. Received: axis={axis!r}")
        self.axis = axis

    def call(self, inputs):
        self._require_list(inputs)
        return torch.cat(list(inputs), dim=self.axis)

    def _channels_first_mode(self):
        return "follow" if type(self).call is Concatenate.call else None

    def _call_channels_first(self, inputs, training=None):
        rank = inputs[0].dim()  # a model passes inputs of one rank here, all channels-first
        axis = self.axis % rank
        return torch.cat(inputs, dim=0 if axis == 0 else 1 if axis == rank - 1 else axis + 1)

    def compute_output_shape(self, input_shape):
        shapes = self._check_inputs(input_shape, same_batch=False)  # the axis check below covers the batch
        ranks = {len(s) for s in shapes}
        rank = len(shapes[0])
        if len(ranks) > 1 or not -rank <= self.axis < rank:
            raise self._mismatch(shapes)
        axis = self.axis % rank
        output = []
        for i in range(rank):
            sizes = [s[i] for s in shapes]
            if i == axis:
                output.append(None if None in sizes else sum(sizes))
                continue
            known = set(sizes) - {None}
            if len(known) > 1:
                raise self._mismatch(shapes)
            output.append(known.pop() if known else None)
        return tuple(output)

    def compute_mask(self, inputs, mask=None):
        """The concatenated masks (all True for an unmasked input), reduced with OR over the last axis as Keras does."""
        masks = _check_masks(self, inputs, mask)
        if masks is None or all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                m = torch.ones_like(x, dtype=torch.bool)
            elif m.dim() < x.dim():
                m = m.unsqueeze(-1).expand(x.shape)
            full.append(m)
        return torch.cat(full, dim=self.axis).any(dim=-1)

    def _mismatch(self, shapes):
        return ValueError(f"{_describe(self)} needs inputs of the same rank whose shapes match on every axis except "
                          f"the concatenation axis (axis={self.axis}); received shapes {shapes}. Reshape the "
                          "inputs, or pass the axis on which they differ.")

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """The dot product of two tensors' samples along `axes`: for each sample, sums `x * y` over the paired axes.

    With inputs of shapes `(batch, n)` and `(batch, n)` the output is `(batch, 1)`; in general it is the first
    input's shape without its summed axis, followed by the second's without its batch and summed axes.

    Arguments:
        axes: one axis for both inputs, or a pair `(axis_of_x, axis_of_y)`; never 0 (the batch axis).
        normalize: whether to L2-normalise both inputs along their summed axes first, so that the output is the
            cosine similarity `x . y / (|x| |y|)`.

    Example:
        >>> x, y = torch.randn(2, 3, 5), torch.randn(2, 10, 3)
        >>> deepglass.layers.Dot(axes=(1, 2))([x, y]).shape
        torch.Size([2, 5, 10])
    """

    _num_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError("Received an invalid value for `axes`, expected an integer or a pair of integers. "
                                 f"Received: axes={axes!r}")
            axes = list(axes)
        elif not isinstance(axes, int) or isinstance(axes, bool):
            raise TypeError(f"Received an invalid value for `axes`, expected an integer or a pair of integers. "
                            f"Received: axes={axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes_for(self, shapes):
        """The two summed axes as non-negative positions in the inputs of `shapes`."""
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        for axis, shape in zip(pair, shapes):
            if not -len(shape) <= axis < len(shape) or axis % len(shape) == 0:
                raise ValueError(f"{_describe(self)} cannot sum over axes={self.axes} for inputs of shapes "
                                 f"{list(shapes)}: each axis must exist and must not be 0 (the batch axis).")
        return [axis % len(shape) for axis, shape in zip(pair, shapes)]

    def call(self, inputs):
        self._require_list(inputs)
        x, y = inputs
        a, b = self._axes_for([x.shape, y.shape])
        if self.normalize:
            x = F.normalize(x, dim=a, eps=config.epsilon())
            y = F.normalize(y, dim=b, eps=config.epsilon())
        x, y = x.movedim(a, -1), y.movedim(b, 1)
        batch, size = x.shape[0], x.shape[-1]
        output = torch.matmul(x.reshape(batch, -1, size), y.reshape(batch, size, -1))
        output = output.reshape(x.shape[:-1] + y.shape[2:])
        return output if output.dim() > 1 else output.unsqueeze(1)

    def compute_output_shape(self, input_shape):
        shapes = self._check_inputs(input_shape)
        if min(len(s) for s in shapes) < 2:
            raise ValueError(f"{_describe(self)} needs inputs of rank 2 or more (a batch axis and a feature axis); "
                             f"received shapes {shapes}.")
        a, b = self._axes_for(shapes)
        first, second = shapes
        if None not in (first[a], second[b]) and first[a] != second[b]:
            raise ValueError(f"{_describe(self)} needs equal sizes on the summed axes, got {first[a]} (axis {a} of "
                             f"{first}) and {second[b]} (axis {b} of {second}); choose other `axes` or resize one "
                             "input.")
        output = first[:a] + first[a + 1:] + tuple(d for i, d in enumerate(second) if i not in (0, b))
        return output if len(output) > 1 else output + (1,)

    def compute_mask(self, inputs, mask=None):
        return None  # the dot product removes the axes a mask refers to

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    """Functional form of `Add`: `add([x1, x2])` is `Add()([x1, x2])`, on symbolic or real tensors."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of `Subtract`: `subtract([x1, x2])` is `x1 - x2`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`: the elementwise product of the inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of `Average`: the elementwise mean of the inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`: the elementwise maximum of the inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of `Minimum`: the elementwise minimum of the inputs."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: joins the inputs along `axis`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional form of `Dot`: `dot([x, y], axes=1, normalize=True)` is the cosine similarity of the samples."""
    return Dot(axes=axes, **kwargs)(inputs)
