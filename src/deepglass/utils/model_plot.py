"""`plot_model`: a picture of a model's layer graph, drawn without Graphviz.

The graph is laid out in layers (a simple Sugiyama layout): every layer sits one rank below the deepest layer that
feeds it, connections that skip ranks pass through placeholder points so that they go around boxes, the boxes of a
rank are ordered to avoid crossings (barycentre sweeps) and placed as close as they fit to the boxes they connect to.
SVG is written in pure Python; other formats are drawn with matplotlib.
"""
import os

from deepglass.utils.model_plot_svg import layout_graph, render_matplotlib, render_svg

_RANKDIRS = ("TB", "LR", "BT", "RL")
_SPLINES = ("ortho", "curved", "polyline", "spline", "line", "true", "false", "none", "")


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               splines="ortho", **kwargs):
    """Draw the model's layers and their connections, and save the picture to `to_file`.

    Keras's `plot_model`, without pydot or Graphviz: a file ending in `.svg` is written directly (no extra
    package needed); PNG, PDF and the other formats matplotlib writes need matplotlib
    (`pip install 'deepglass[plot]'`). A functional model shows one box per layer (its inputs included) and one
    arrow per connection, branches side by side; a Sequential model shows its layers as a chain; a subclassed model,
    whose graph is only known when it runs, is a single box.

    Arguments:
        model: a built `Model` or `Sequential`.
        to_file: where to write the picture; the format follows the extension (PNG without one).
        show_shapes: show each layer's input and output shapes.
        show_dtype: show each layer's output dtype.
        show_layer_names: show each layer's name with its class.
        rankdir: `"TB"` (top to bottom), `"LR"` (left to right), `"BT"` or `"RL"`.
        expand_nested: draw the layers of nested models inside a dashed frame named after the model.
        dpi: the resolution of raster images (PNG, JPEG).
        show_layer_activations: show the activation of layers that have one.
        show_trainable: show whether each layer with weights is trainable.
        splines: `"ortho"` draws right-angled connections; any other Graphviz value draws straight segments.

    Returns:
        An IPython `Image` (or `SVG`) of the file when IPython is installed, so that a notebook shows it; else None.

    Example:
        >>> inputs = deepglass.Input((32,))
        >>> hidden = deepglass.layers.Dense(32, activation="relu")(inputs)
        >>> outputs = deepglass.layers.Add()([inputs, hidden])
        >>> deepglass.utils.plot_model(deepglass.Model(inputs, outputs), "model.svg", show_shapes=True)
    """
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"Received an invalid value for `rankdir`, expected one of {list(_RANKDIRS)}. "
                         f"Received: rankdir={rankdir!r}")
    if splines not in _SPLINES:
        raise ValueError(f"Received an invalid value for `splines`, expected one of {list(_SPLINES)}. "
                         f"Received: splines={splines!r}")
    if not getattr(model, "built", False):
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    options = {"show_shapes": show_shapes, "show_dtype": show_dtype, "show_layer_names": show_layer_names,
               "show_layer_activations": show_layer_activations, "show_trainable": show_trainable}
    boxes, edges, clusters = model_graph(model, expand_nested, **options)
    drawing = layout_graph(boxes, edges, clusters, rankdir, orthogonal=splines == "ortho")
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    if extension == "svg":
        with open(to_file, "w", encoding="utf-8") as handle:
            handle.write(render_svg(drawing))
    else:
        render_matplotlib(drawing, to_file, extension, dpi)
    return _notebook_image(to_file, extension)


def model_graph(model, expand_nested=False, **options):
    """The boxes (one per layer drawn), edges (`(source key, target key)` pairs, one per connection) and nested
    model frames (`{path: name}`) that `plot_model` draws; options as in `plot_model`."""
    builder = _GraphBuilder(expand_nested, options)
    builder.add_model(model, ())
    return list(builder.boxes.values()), list(builder.edges), builder.clusters


class Box:
    """One layer's box: a key, a title line, optional detail lines, the frames (nested models) it sits in, and its
    kind (`"input"`, `"model"` or `"layer"`), which sets its colour."""

    def __init__(self, key, name, title, activation, cells, path, kind="layer"):
        self.key, self.name, self.title, self.activation, self.cells, self.path, self.kind = (
            key, name, title, activation, cells, path, kind)


class _GraphBuilder:
    """Walks a model (and, with expand_nested, the models inside it) into boxes and edges, as Keras's
    `model_to_dot` does."""

    def __init__(self, expand_nested, options):
        self.expand_nested, self.options = expand_nested, options
        self.boxes, self.edges, self.clusters, self.expanded = {}, {}, {}, {}

    def add_model(self, model, path):
        from deepglass.models.functional import Functional
        from deepglass.models.sequential import Sequential
        if isinstance(model, Sequential):
            layers = model.layers
            for layer in layers:
                self.add_layer(layer, path, layer._inbound_nodes[-1] if layer._inbound_nodes else None)
            for before, after in zip(layers, layers[1:]):
                self.add_edge(self.exit(before, 0), self.entry(after, 0))
        elif isinstance(model, Functional):
            nodes = _model_nodes(model)
            for layer in model.layers:
                own = [node for node in layer._inbound_nodes if id(node) in nodes]
                self.add_layer(layer, path, own[0] if own else None)
            for node in nodes.values():
                for position, tensor in enumerate(node.input_tensors):
                    source, _, index = tensor._keras_history
                    self.add_edge(self.exit(source, index), self.entry(node.layer, position))
        else:  # subclassed: its graph exists only while it runs
            self.add_layer(model, path, None, expand=False)

    def add_layer(self, layer, path, node, expand=True):
        from deepglass.models.functional import Functional
        from deepglass.models.sequential import Sequential
        if expand and self.expand_nested and isinstance(layer, (Functional, Sequential)) and layer.layers:
            inner = path + (layer.name,)
            self.clusters[inner] = layer.name
            self.expanded[id(layer)] = layer
            self.add_model(layer, inner)
            return
        if id(layer) not in self.boxes:
            self.boxes[id(layer)] = _box(layer, node, path, **self.options)

    def add_edge(self, source, target):
        self.edges.setdefault((source, target), None)  # one edge per pair of layers, as Keras draws them

    def entry(self, layer, position):
        """The box an input of `layer` arrives at: the layer itself, or inside an expanded model its input."""
        from deepglass.models.functional import Functional
        model = self.expanded.get(id(layer))
        if model is None:
            return id(layer)
        if isinstance(model, Functional):
            return self.entry(model.inputs[min(position, len(model.inputs) - 1)]._keras_history[0], 0)
        return self.entry(model.layers[0], position)

    def exit(self, layer, index):
        """The box output `index` of `layer` leaves from: the layer itself, or the layer inside an expanded model
        that makes that output."""
        from deepglass.models.functional import Functional
        model = self.expanded.get(id(layer))
        if model is None:
            return id(layer)
        if isinstance(model, Functional):
            source, _, inner_index = model.outputs[index]._keras_history
            return self.exit(source, inner_index)
        return self.exit(model.layers[-1], index)


def _model_nodes(model):
    """The functional model's own nodes (a shared layer has others), inputs first, by id."""
    from deepglass.models.functional import _nodes_in_order
    inputs = [t._keras_history[0]._inbound_nodes[t._keras_history[1]] for t in model.inputs]
    return {id(node): node for node in inputs + _nodes_in_order(model.inputs, model.outputs)}


def _box(layer, node, path, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable):
    """A layer's box, with the lines Keras's `make_layer_label` shows."""
    from deepglass.layers.core import InputLayer
    from deepglass.models.model import Model
    class_name = type(layer).__name__
    title = f"{layer.name} ({class_name})" if show_layer_names else class_name
    activation = None
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        activation = f"Activation: {_activation_name(layer.activation)}"
    cells = []
    if show_shapes:
        if not isinstance(layer, InputLayer):
            cells.append(("Input shape: " + _shapes(node.input_tensors if node else None), None))
        cells.append(("Output shape: " + _shapes(node.output_tensors if node else None), None))
    if show_dtype:
        dtypes = [str(t.dtype).replace("torch.", "") for t in node.output_tensors] if node else []
        cells.append(("Output dtype: " + (", ".join(dict.fromkeys(dtypes)) or "?"), None))
    if show_trainable and list(layer.weights):
        cells.append(("Trainable", "trainable") if layer.trainable else ("Non-trainable", "frozen"))
    kind = "input" if isinstance(layer, InputLayer) else "model" if isinstance(layer, Model) else "layer"
    return Box(id(layer), layer.name, title, activation, cells, path, kind)


def _shapes(tensors):
    if not tensors:
        return "?"
    shapes = [f"({', '.join(str(d) for d in t.shape)}{',' if len(t.shape) == 1 else ''})" for t in tensors]
    return shapes[0] if len(shapes) == 1 else f"[{', '.join(shapes)}]"


def _activation_name(activation):
    from deepglass import activations
    name = activations.serialize(activation)
    if isinstance(name, dict):
        config = name.get("config")
        return config if isinstance(config, str) else name.get("class_name", "?")
    return str(name)


def _notebook_image(path, extension):
    """What Keras returns: an IPython image of the file for notebooks, when IPython is installed."""
    if extension == "pdf":
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    return display.SVG(filename=path) if extension == "svg" else display.Image(filename=path)
