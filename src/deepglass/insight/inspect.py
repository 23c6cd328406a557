"""Looking inside a trained model: feature maps, first-layer filters, Grad-CAM and saliency maps."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepglass import activations, config
from deepglass.insight.plots import _finish, _pyplot
from deepglass.layers.convolutional import BaseConv
from deepglass.layers.core import InputLayer
from deepglass.layers.layer import Layer
from deepglass.naming import lookup

_UPSAMPLING = {1: "linear", 2: "bilinear", 3: "trilinear"}


def feature_maps(model, x, layers=None):
    """Run `model` on `x` in inference mode and return each chosen layer's output as a NumPy array.

    Forward hooks catch the outputs, so this works on any deepglass model and on any `torch.nn.Module`. Arrays keep
    the layer's own layout (Keras's channels-last for deepglass layers, channels-first for torch's); a layer called
    several times in one forward pass gives the output of its last call; a layer that returns several tensors gives
    a list of arrays.

    Arguments:
        model: a deepglass model or a `torch.nn.Module`.
        x: the inputs (a NumPy array or a tensor; batch first).
        layers: names (a layer's `name`, or its dotted module path as in `named_modules()`) or module objects;
            default: every layer of a deepglass model (`model.layers`, input layers left out), or every leaf
            module of a plain `torch.nn.Module`.

    Returns:
        A dict from layer name to activations, in the order given (or the model's order).

    Example:
    >>> maps = deepglass.insight.feature_maps(model, x_test[:1], ["conv2d", "conv2d_1"])
    >>> maps["conv2d"].shape   # (1, 26, 26, 32)
    """
    chosen = _choose(model, layers)
    captured = {}
    hooks = [module.register_forward_hook(_catcher(captured, name)) for name, module in chosen]
    try:
        with _inference(model), torch.no_grad():
            model(_as_input(model, x))
    finally:
        for hook in hooks:
            hook.remove()
    missing = [name for name, _ in chosen if name not in captured]
    if missing:
        raise ValueError(f"The layers {missing} were not called by the forward pass of "
                         f"{_model_name(model)}; pass layers that the model uses on its inputs.")
    return {name: captured[name] for name, _ in chosen}


def plot_feature_maps(maps, sample=0, max_channels=16, data_format=None, filename=None):
    """Draw activations from `feature_maps`: one row per layer, one image per channel for 2-D maps, one image of
    channels against steps for 1-D maps, and a strip of units for dense outputs. Returns the Figure.

    Arguments:
        maps: the dict returned by `feature_maps` (or any dict of name to batch-first arrays).
        sample: which sample of the batch to draw.
        max_channels: the most channels drawn per layer (the first ones).
        data_format: where the channels of 2-D and 1-D maps are, `"channels_last"` (deepglass layers) or
            `"channels_first"` (torch modules); default `deepglass.config.image_data_format()`.
        filename: where to save the picture, or None.

    Example:
    >>> deepglass.insight.plot_feature_maps(deepglass.insight.feature_maps(model, x[:1]), filename="maps.png")
    """
    plt = _pyplot("plot_feature_maps")
    channels_last = (data_format or config.image_data_format()) == "channels_last"
    arrays = {name: np.asarray(value[0] if isinstance(value, list) else value)[sample] for name, value in maps.items()}
    if not arrays:
        raise ValueError("plot_feature_maps received no maps; pass the dict returned by feature_maps(model, x).")
    columns = max(min(max_channels, _channels(a, channels_last)) if a.ndim == 3 else 1 for a in arrays.values())
    figure = plt.figure(figsize=(min(10, 1.2 * columns + 1.5), 1.5 * len(arrays) + 0.6))
    grid = figure.add_gridspec(len(arrays), columns)
    for row, (name, array) in enumerate(arrays.items()):
        if array.ndim == 3:
            images = np.moveaxis(array, -1, 0) if channels_last else array
            for column, image in enumerate(images[:max_channels]):
                axis = figure.add_subplot(grid[row, column])
                axis.imshow(image, cmap="viridis")
                axis.set_xticks([])
                axis.set_yticks([])
                axis.set_title(f"{name}[{column}]" if column == 0 else str(column), fontsize=7)
            continue
        axis = figure.add_subplot(grid[row, :])
        strip = array.reshape(1, -1) if array.ndim < 2 else (array.T if channels_last else array)
        shown = axis.imshow(strip.reshape(strip.shape[0], -1)[:max_channels], cmap="viridis", aspect="auto")
        axis.set_title(f"{name} {tuple(array.shape)}", fontsize=8)
        axis.set_xlabel("step" if array.ndim == 2 else "unit", fontsize=7)
        axis.set_ylabel("channel" if array.ndim == 2 else "", fontsize=7)
        figure.colorbar(shown, ax=axis, fraction=0.03)
    figure.suptitle(f"Feature maps of sample {sample} (first {max_channels} channels, viridis: dark low, "
                    "yellow high)", fontsize=9)
    return _finish(plt, figure, filename)


def plot_filters(layer, max_filters=32, filename=None):
    """Draw a convolution layer's kernels: Conv2D kernels as images (RGB when there are 3 input channels, else one
    image per filter for the first input channel), Conv1D kernels as one curve per input channel. Returns the
    Figure. Grey-scale kernels share one scale, mid-grey 0.

    Most telling for the first layer, whose kernels act on the pixels directly (edge and colour detectors).

    Arguments:
        layer: a deepglass Conv1D / Conv2D layer or a `torch.nn.Conv1d` / `torch.nn.Conv2d`.
        max_filters: the most filters drawn (the first ones).
        filename: where to save the picture, or None.

    Example:
    >>> deepglass.insight.plot_filters(model.layers[0], filename="filters.png")
    """
    kernel = filter_weights(layer)
    if kernel.ndim not in (3, 4):
        raise ValueError(f"plot_filters draws 1-D or 2-D convolution kernels; {_model_name(layer)} has a kernel of "
                         f"shape {kernel.shape}; pass a Conv1D or Conv2D layer.")
    plt = _pyplot("plot_filters")
    count = min(max_filters, kernel.shape[-1])
    columns = min(8, count)
    rows = -(-count // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.2 * columns + 0.6, 1.3 * rows + 0.7), squeeze=False)
    limit = float(np.abs(kernel).max()) or 1.0
    for index, axis in enumerate(axes.flat):
        axis.set_xticks([])
        axis.set_yticks([])
        if index >= count:
            axis.axis("off")
            continue
        weights = kernel[..., index]
        if kernel.ndim == 3:
            for channel in range(weights.shape[1]):
                axis.plot(weights[:, channel], linewidth=1)
            axis.axhline(0, color="#999999", linewidth=0.5)
        elif weights.shape[-1] == 3:
            axis.imshow(_unit_range(weights))
        else:  # one grey scale for every filter, 0 in the middle, so that their sizes compare
            axis.imshow(weights[..., 0], cmap="gray", vmin=-limit, vmax=limit)
        axis.set_title(str(index), fontsize=7)
    shape = "x".join(str(s) for s in kernel.shape[:-2])
    figure.suptitle(f"Filters of {_model_name(layer)} ({kernel.shape[-1]} filters of {shape}, "
                    f"{kernel.shape[-2]} input channel{'s' if kernel.shape[-2] > 1 else ''})", fontsize=9)
    return _finish(plt, figure, filename)


def filter_weights(layer):
    """A convolution layer's kernel as a NumPy array in Keras's layout `(*kernel_size, in_channels, filters)`.

    Example:
    >>> filter_weights(deepglass.layers.Conv2D(8, 3)).shape   # after building on 1-channel input: (3, 3, 1, 8)
    """
    if isinstance(layer, BaseConv):
        return layer.get_weights()[0]
    if isinstance(layer, nn.modules.conv._ConvNd):
        weight = layer.weight.detach().cpu().numpy()
        return np.moveaxis(weight, (0, 1), (-1, -2))
    raise TypeError(f"Expected a convolution layer (deepglass Conv1D/Conv2D or torch.nn.Conv1d/Conv2d); "
                    f"received {type(layer).__name__}.")


def grad_cam(model, x, class_index=None, layer=None):
    """Grad-CAM heat maps (Selvaraju et al., 2017): where in each input the chosen class's evidence lies.

    `heat = relu(sum_k alpha_k * A_k)` with `alpha_k` the spatial mean of `d score / d A_k`, `A_k` the k-th channel
    of the convolution layer's output and `score` the model's output for the class; upsampled to the input's size
    and divided by its maximum, so that each map lies in [0, 1]. The score is the class's logit: a softmax or
    sigmoid that ends a deepglass model's last layer is left out while the map is made (as in Keras's Grad-CAM
    example), since a saturated probability has no gradient; other models' outputs are used as they are. A map of
    zeros means the layer holds no positive evidence for the class.

    Arguments:
        model: a deepglass model or a `torch.nn.Module` with a convolution layer.
        x: a batch of inputs (batch first, channels where the layer expects them).
        class_index: the class to explain: an int for every sample, a sequence of one per sample, or None for
            the class the model predicts for each sample.
        layer: the convolution layer (name or object); default: the last one in the model.

    Returns:
        A NumPy array `(batch, *spatial)`, the input's spatial size, values in [0, 1].

    Example:
    >>> heat = deepglass.insight.grad_cam(model, x_test[:8])
    >>> picture = deepglass.insight.overlay(x_test[0], heat[0])
    """
    module = _conv_layer(model, layer)
    inputs = _as_input(model, x)
    caught = {}
    hook = module.register_forward_hook(lambda _m, _i, output: caught.setdefault("a", output))
    try:
        with _inference(model), _logits(model), torch.enable_grad():
            score = _class_score(model(inputs), class_index)
            activations = caught["a"]
            grads, = torch.autograd.grad(score.sum(), activations)
    finally:
        hook.remove()
    channel_axis = _channel_axis(module)
    spatial = list(range(1, activations.dim() - 1) if channel_axis == -1 else range(2, activations.dim()))
    weights = grads.mean(dim=spatial, keepdim=True)
    heat = torch.relu((weights * activations).sum(dim=channel_axis)).detach()
    size = _spatial_shape(inputs, module, heat.dim() - 1)
    heat = F.interpolate(heat.unsqueeze(1), size=size, mode=_UPSAMPLING[len(size)], align_corners=False)[:, 0]
    peak = heat.flatten(1).amax(dim=1).clamp_min(torch.finfo(heat.dtype).tiny)
    return (heat / peak.view(-1, *[1] * len(size))).clamp(0, 1).cpu().numpy()


def saliency(model, x, class_index=None):
    """Saliency maps (Simonyan et al., 2014): the magnitude of the class score's gradient with respect to the input.

    For inputs with channels (rank 3 or more) the maximum of `|d score / d x|` over the channel axis, giving one
    value per pixel or step; for flat inputs `(batch, features)`, one value per feature. Not normalised. The score
    is the class's logit, as for `grad_cam`.

    Arguments:
        model: a deepglass model or a `torch.nn.Module`.
        x: a batch of inputs.
        class_index: the class to explain (int, one per sample, or None for the predicted class).

    Example:
    >>> maps = deepglass.insight.saliency(model, x_test[:8])   # (8, 28, 28) for (8, 28, 28, 1) inputs
    """
    inputs = _as_input(model, x).detach().clone().requires_grad_(True)
    with _inference(model), _logits(model), torch.enable_grad():
        grads, = torch.autograd.grad(_class_score(model(inputs), class_index).sum(), inputs)
    magnitude = grads.abs()
    if magnitude.dim() >= 3:
        # deepglass models take Keras's image layout; plain torch modules take channels first.
        channels_last = isinstance(model, Layer) and config.image_data_format() == "channels_last"
        magnitude = magnitude.amax(dim=-1 if channels_last else 1)
    return magnitude.cpu().numpy()


def overlay(image, heatmap, alpha=0.4, colormap="viridis"):
    """Blend a heat map (values in [0, 1]) over an image: an RGB array `(height, width, 3)` with values in [0, 1].

    Arguments:
        image: `(height, width)`, `(height, width, 1)` or `(height, width, 3)`, any range (scaled to [0, 1]).
        heatmap: `(height, width)`, e.g. one map from `grad_cam`.
        alpha: the heat map's weight in the blend.
        colormap: a matplotlib colour map name; viridis and cividis read well with colour blindness.

    Example:
    >>> import matplotlib.pyplot as plt
    >>> plt.imshow(deepglass.insight.overlay(x_test[0], deepglass.insight.grad_cam(model, x_test[:1])[0]))
    """
    _pyplot("overlay")
    import matplotlib

    image = np.asarray(image, dtype=np.float64)
    heatmap = np.asarray(heatmap, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.shape[:2] != heatmap.shape:
        raise ValueError(f"overlay expects an image and a heat map of the same height and width; got image shape "
                         f"{image.shape} and heat map shape {heatmap.shape}; pass grad_cam's map for this image.")
    base = _unit_range(image)
    base = np.repeat(base[..., None], 3, axis=-1) if base.ndim == 2 else base
    colours = matplotlib.colormaps[colormap](np.clip(heatmap, 0, 1))[..., :3]
    return (1 - alpha) * base + alpha * colours


# ------------------------------------------------------------------------------------------------------ helpers
def _choose(model, layers):
    """(name, module) pairs for the layers asked for, or the default ones."""
    entries = [(_layer_name(d, m), m) for d, m in model.named_modules() if m is not model]
    if layers is None:
        if isinstance(model, Layer) and hasattr(model, "layers"):
            return [(m.name, m) for m in model.layers if not isinstance(m, InputLayer)]
        return [(n, m) for n, m in entries if not any(True for _ in m.children())]
    by_name = {name.lower(): (name, m) for name, m in entries}
    by_name.update({d.lower(): (d, m) for d, m in model.named_modules() if d})
    chosen = []
    for layer in layers:
        if isinstance(layer, nn.Module):
            found = next(((n, m) for n, m in entries if m is layer), None)
            if found is None:
                raise ValueError(f"The layer {_model_name(layer)} is not part of {_model_name(model)}; pass its "
                                 "layers or their names.")
            chosen.append(found)
        else:
            chosen.append(lookup("layer", str(layer), by_name))
    return chosen


def _layer_name(dotted, module):
    name = getattr(module, "name", None)
    return name if isinstance(name, str) and name else dotted


def _model_name(module):
    name = getattr(module, "name", None)
    return repr(name) if isinstance(name, str) and name else type(module).__name__


def _catcher(captured, name):
    def hook(_module, _inputs, output):
        captured[name] = _to_numpy(output)
    return hook


def _to_numpy(output):
    if isinstance(output, (list, tuple)):
        return [_to_numpy(item) for item in output]
    return output.detach().cpu().numpy() if torch.is_tensor(output) else output


class _inference:
    """Every module in inference mode (dropout off, BatchNormalization on its moving statistics), modes restored
    on exit."""

    def __init__(self, model, keep_training=()):
        self.model, self.keep_training = model, keep_training

    def __enter__(self):
        self.modes = [(module, module.training) for module in self.model.modules()]
        self.model.train(False)
        for module in self.keep_training:
            module.train(True)

    def __exit__(self, *_):
        for module, mode in self.modes:
            module.training = mode


class _logits:
    """Leave out the softmax / sigmoid ending a deepglass model's last layer for a while (restored on exit)."""

    def __init__(self, model):
        layers = getattr(model, "layers", None) if isinstance(model, Layer) else None
        last = layers[-1] if layers else None
        squashing = getattr(last, "activation", None) in (activations.softmax, activations.sigmoid)
        self.layer = last if squashing else None

    def __enter__(self):
        if self.layer is not None:
            self.saved = self.layer.activation
            self.layer.activation = activations.linear

    def __exit__(self, *_):
        if self.layer is not None:
            self.layer.activation = self.saved


def _as_input(model, x):
    """`x` as a tensor on the model's device (floats in floatx); nested lists and tuples kept."""
    if isinstance(x, (list, tuple)):
        return type(x)(_as_input(model, item) for item in x)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else None
    tensor = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if tensor.is_floating_point():
        tensor = tensor.to(config.standardize_dtype())
    return tensor.to(device) if device is not None else tensor


def _class_score(outputs, class_index):
    """The output for the chosen class of each sample, shape (batch,)."""
    if isinstance(outputs, (list, tuple)):
        outputs = outputs[0]
    outputs = outputs.reshape(outputs.shape[0], -1)
    if class_index is None:
        index = outputs.argmax(dim=1)
    else:
        index = torch.as_tensor(class_index, device=outputs.device).long().expand(outputs.shape[0])
        if int(index.max()) >= outputs.shape[1] or int(index.min()) < 0:
            raise ValueError(f"Received class_index={class_index!r}; the model has {outputs.shape[1]} outputs, so "
                             f"pass values from 0 to {outputs.shape[1] - 1}.")
    return outputs.gather(1, index.view(-1, 1))[:, 0]


def _is_conv(module):
    return isinstance(module, (BaseConv, nn.modules.conv._ConvNd))


def _conv_layer(model, layer):
    if layer is not None:
        (_, module), = _choose(model, [layer])
        if not _is_conv(module):
            raise ValueError(f"grad_cam needs a convolution layer; {_model_name(module)} is a "
                             f"{type(module).__name__}; pass a Conv1D/Conv2D/Conv3D layer or leave layer=None.")
        return module
    convs = [m for m in model.modules() if _is_conv(m)]
    if not convs:
        raise ValueError(f"grad_cam found no convolution layer in {_model_name(model)}; it needs a model with "
                         "Conv1D/Conv2D/Conv3D layers (use saliency() for other models).")
    return convs[-1]


def _channel_axis(module):
    # deepglass layers use Keras's layouts; plain torch modules are channels-first.
    if isinstance(module, Layer):
        return 1 if getattr(module, "data_format", None) == "channels_first" else -1
    return 1


def _spatial_shape(inputs, module, rank):
    """The input's spatial size, read in the layout the convolution layer uses."""
    tensor = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    shape = tuple(tensor.shape)
    return shape[1:1 + rank] if _channel_axis(module) == -1 else shape[2:2 + rank]


def _channels(array, channels_last):
    return array.shape[-1] if channels_last else array.shape[0]


def _unit_range(array):
    low, high = float(np.min(array)), float(np.max(array))
    return (array - low) / (high - low) if high > low else np.zeros_like(array)
