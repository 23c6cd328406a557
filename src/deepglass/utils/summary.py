"""`model.summary()`: Keras's table of layers, output shapes and parameter counts, drawn in plain text.

The table is the one Keras 3 draws with `rich` (heavy-headed box, one line between rows, cells wrapped at word
boundaries and cut with "…"), computed here without `rich` and without colour codes.
"""
import re
import shutil
import unicodedata

from deepglass.utils import tree


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                  layer_range=None, explain=False):
    """Print the model's layers (name and type, output shape, parameter count) and its parameter totals.

    Arguments:
        model: a `Model`, `Sequential` or subclassed model.
        line_length: the width of the table in characters; default 88 (108 for branched functional models, plus 12
            with `show_trainable`), at most the terminal width less 4.
        positions: where each column ends, as fractions of `line_length` (default `[0.45, 0.80, 1.0]`, or
            `[0.3, 0.56, 0.74, 1.0]` with the "Connected to" column); numbers above 1 are character positions.
        print_fn: called once with the whole summary (a string ending in a newline); default: print it.
        expand_nested: also list the layers of nested models, indented under them.
        show_trainable: add a "Trainable" column (Y, N, or - for layers without weights).
        layer_range: `[first, last]`, names or regular expressions of the first and last layers to list.
        explain: after the table, the arithmetic behind each layer with the numbers filled in: its output size,
            parameter count, receptive field, FLOPs and activation memory per sample, and their totals (see
            `deepglass.insight.explain_model`). Not in Keras.

    Example:
        >>> model = deepglass.Sequential([deepglass.Input((784,)), deepglass.layers.Dense(10)])
        >>> model.summary()  # doctest: +SKIP
        Model: "sequential"
        ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
        ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
        ...
    """
    text = summary_string(model, line_length=line_length, positions=positions, expand_nested=expand_nested,
                          show_trainable=show_trainable, layer_range=layer_range, explain=explain)
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)


def summary_string(model, line_length=None, positions=None, expand_nested=False, show_trainable=False,
                   layer_range=None, explain=False):
    """The text `print_summary` prints (lines joined by newlines, ending in one)."""
    graph = _Graph(model)
    header, justify, widths, table_width = _columns(graph.sequential_like, line_length, positions, show_trainable)
    layers = model.layers
    first, stop = layer_index_range(layers, layer_range)
    rows = [row for layer in layers[first:stop] for row in _layer_rows(layer, graph, show_trainable, expand_nested)]
    table = render_table(header, rows, justify, widths, table_width)
    lines = [f'Model: "{model.name}"', *table, *_totals(model)]
    if explain:
        lines += explained_lines(model, layers[first:stop], expand_nested)
    return "\n".join(lines) + "\n"


def explained_lines(model, layers, expand_nested=False):
    """The arithmetic behind each of `layers` (of `model`), one block per layer, and the totals, as lines."""
    from deepglass.insight.explain import explain_model, explain_totals, format_count, format_receptive_field
    explanations = explain_model(model, expand_nested=expand_nested)
    shown = {layer.name for layer in layers}
    lines, keep = ["", "Explained, per sample (FLOPs: a multiply-add counts 2; r: receptive field, j: jump, in input "
                   "positions):"], False
    for row in explanations:
        keep = row.name in shown if row.level == 0 else keep  # a nested model's layers follow it
        if keep:
            lines += _explained_block(row, format_receptive_field(row.receptive_field))
    totals = explain_totals(explanations)
    flops = f" Total: {totals['flops']:,} FLOPs ({format_count(totals['flops'])})"
    if totals["unknown_flops"]:
        flops += f", not counting {', '.join(totals['unknown_flops'])}"
    memory = f" Activations: {readable_memory_size(totals['activation_bytes'])} of layer outputs"
    if totals["unknown_activations"]:
        memory += f", not counting {', '.join(totals['unknown_activations'])}"
    lines += [flops, memory]
    if totals["receptive_field"] is not None:
        lines.append(f" Receptive field of {totals['receptive_field_layer']}: "
                     f"{format_receptive_field(totals['receptive_field'])} input positions")
    return lines


def _explained_block(row, field):
    """A layer's name, type and output shape, then one labelled line per item (more for per-axis arithmetic)."""
    indent = "   " * row.level
    shape = _format_shape(row.output_shape) if isinstance(row.output_shape, tuple) else _shapes_text(row.output_shape)
    lines = [f"{indent}{row.name} ({row.class_name}) -> {shape}"]
    fields = [] if field == "-" else [field]
    if len(row.receptive_field_formula) == 1:
        fields = [f"{row.receptive_field_formula[0]} ({field})"]
    elif row.receptive_field_formula:
        fields = row.receptive_field_formula
    items = [("output size", row.output_size), ("parameters", [row.params_formula]), ("receptive field", fields),
             ("FLOPs", ["?" if row.flops is None else row.flops_formula]),
             ("activations", ["?" if row.activation_bytes is None else row.activation_formula])]
    for label, texts in items:
        texts = [text for text in texts if text]
        labels = [label + ":"] + [""] * (len(texts) - 1)  # the lines of one item (one per axis) share its label
        lines += [f"{indent}  {name:<17}{text}" for name, text in zip(labels, texts)]
    return lines


def _columns(sequential_like, line_length, positions, show_trainable):
    """Headers, alignments, widths and the table's width, as Keras lays the columns out."""
    header, justify = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    if sequential_like:
        default_length, positions = 88, positions or [0.45, 0.80, 1.0]
    else:
        default_length, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header.append("Connected to")
        justify.append("left")
    absolute = positions[-1] > 1
    if show_trainable:
        default_length += 12
        positions = list(positions) if absolute else [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        justify.append("center")
    # Keras leaves 4 columns of the terminal free; shutil reads $COLUMNS and falls back to 80 off a terminal.
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    ends = [int(p) if absolute else int(p * line_length) for p in positions]
    if show_trainable and absolute:
        ends.append(line_length)
    widths = [end - start for start, end in zip([0] + ends, ends)]
    if len(widths) != len(header):
        raise ValueError(f"`positions` needs one entry per column {header}; received: positions={positions}.")
    if min(widths) < 4:
        raise ValueError(f"Every summary column needs at least 4 characters; line_length={line_length} with "
                         f"positions={positions} gives widths {widths}. Pass a larger line_length.")
    return header, justify, widths, ends[-1] if absolute else line_length


def layer_index_range(layers, layer_range=None):
    """`[start, stop)` indices of the layers from the first matching `layer_range[0]` to the last matching
    `layer_range[1]` (names or regular expressions, matched at the start of the name); all layers for None."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2 or not all(isinstance(name, str) for name in layer_range):
        raise ValueError("`layer_range` must be a list or tuple of two strings (the first and last layer names, or "
                         f"regular expressions); received: layer_range={layer_range!r}.")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(f"`layer_range` {layer_range!r} does not match the model's layer names "
                         f"{[layer.name for layer in layers]}.")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


# ------------------------------------------------------------------------------------------------------- rows
class _Graph:
    """What the summary needs of a model's graph: whether it is a plain chain, and which nodes belong to it."""

    def __init__(self, model):
        from deepglass.models.functional import Functional, _nodes_in_order
        self.sequential_like, self.node_ids = True, set()
        if not isinstance(model, Functional):
            return  # Sequential and subclassed models are listed as a stack of layers
        nodes = [t._keras_history[0]._inbound_nodes[t._keras_history[1]] for t in model.inputs]
        nodes = list(dict.fromkeys(nodes + _nodes_in_order(model.inputs, model.outputs)))
        self.node_ids = {id(node) for node in nodes}
        by_depth = {}
        for node, depth in _node_depths(nodes).items():
            by_depth.setdefault(depth, []).append(node)
        chain = all(len(group) == 1 and len(group[0].input_tensors) <= 1 for group in by_depth.values())
        shared = any(sum(id(node) in self.node_ids for node in layer._inbound_nodes) > 1 for layer in model.layers)
        self.sequential_like = chain and not shared


def _node_depths(nodes):
    """Keras's node depths: 0 for the outputs, one more than the deepest consumer for the others; a layer called
    several times gets its deepest call's depth. `nodes` are in topological order (parents first)."""
    known = {id(node) for node in nodes}
    depth_of, layer_depth, result = {}, {}, {}
    for node in reversed(nodes):
        depth = max(depth_of.get(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        result[node] = depth
        for parent in node.parent_nodes:
            if id(parent) in known:
                depth_of[id(parent)] = max(depth + 1, depth_of.get(id(parent), 0))
    return result


def _layer_rows(layer, graph, show_trainable, expand_nested, level=0):
    prefix = "   " * level + "└ " if level else ""
    row = [f"{prefix}{layer.name} ({type(layer).__name__})", _output_shape(layer), _params(layer)]
    if not graph.sequential_like:
        row.append(_connections(layer, graph))
    if show_trainable:
        row.append(("Y" if layer.trainable else "N") if getattr(layer, "weights", None) else "-")
    rows = [row]
    sublayers = getattr(layer, "layers", None) if expand_nested else None
    for sublayer in sublayers or []:
        rows.extend(_layer_rows(sublayer, graph, show_trainable, expand_nested, level + 1))
    return rows


def _shapes_text(shapes):
    """Several shapes (or none known) as one string."""
    if not shapes:
        return "?"
    return "[" + ", ".join(_format_shape(s) if isinstance(s, tuple) else "?" for s in shapes) + "]"


def _format_shape(shape):
    return f"({', '.join(str(d) for d in shape)})"


def _output_shape(layer):
    """The shapes of the layer's last symbolic call; without one, its `output_shape` if it can tell; else "?"."""
    from deepglass.layers.layer import map_shapes
    if layer._inbound_nodes:
        shapes = tree.map_structure(lambda t: _format_shape(t.shape), layer._inbound_nodes[-1].outputs)
    else:
        try:
            shapes = map_shapes(_format_shape, layer.output_shape)
        except Exception:  # not built, or a shape it cannot compute: Keras shows "?" then too
            return "?"
    flat = tree.flatten(shapes)
    return flat[0] if len(flat) == 1 else str(shapes).replace("'", "")


def _params(layer):
    if _is_built(layer):
        return f"{layer.count_params() if layer.built else 0:,}"
    return "0 (unbuilt)"


def _is_built(layer):
    """Keras counts a layer with no `build` of its own (Dropout, Flatten) as built from the start."""
    from deepglass.layers.layer import Layer
    if layer.built:
        return True
    return type(layer).build is Layer.build and all(_is_built(sub) for sub in layer._sublayers())


def _connections(layer, graph):
    """`name[node][tensor]` of each input of the layer's calls inside this model, or "-"."""
    names = []
    for node in layer._inbound_nodes:
        if id(node) not in graph.node_ids:
            continue
        for tensor in node.input_tensors:
            source, node_index, tensor_index = tensor._keras_history
            names.append(f"{source.name}[{node_index}][{tensor_index}]")
    return ", ".join(names) or "-"


def _totals(model):
    """The "Total", "Trainable", "Non-trainable" (and, once a compiled model's optimizer has state, "Optimizer")
    parameter lines; the total counts all the others."""
    groups = [("Trainable", model.trainable_weights), ("Non-trainable", model.non_trainable_weights)]
    optimizer = getattr(model, "optimizer", None)
    if getattr(model, "compiled", False) and getattr(optimizer, "built", False) and hasattr(optimizer, "variables"):
        groups.append(("Optimizer", list(optimizer.variables)))
    counted = [(label, sum(w.numel() for w in weights), _memory_size(weights)) for label, weights in groups]
    total = ("Total", sum(count for _, count, _ in counted), sum(size for _, _, size in counted))
    return [f" {label} params: {count:,} ({readable_memory_size(size)})" for label, count, size in [total, *counted]]


def _memory_size(weights):
    unique = {id(w): w for w in weights}.values()  # a weight shared by two layers is stored once
    return sum(w.numel() * w.element_size() for w in unique)


def readable_memory_size(size):
    """Bytes as Keras shows them: `244.00 B`, `1.55 MB` (powers of 1024)."""
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    for unit in units:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} {units[-1]}"


# ------------------------------------------------------------------------------------------------------ table
_TOP, _HEAD_RULE, _RULE, _BOTTOM = "┏━┳┓", "┡━╇┩", "├─┼┤", "└─┴┘"  # left, fill, cross, right


def render_table(header, rows, justify, widths, table_width):
    """Lines of a boxed table `table_width` characters wide whose columns take `widths` in proportion, as rich
    draws Keras's summary: one space of padding per side, a rule between rows, the header aligned to the bottom."""
    cells = _fit_columns([w + 2 for w in widths], table_width - len(widths) - 1)
    lines = [_rule(_TOP, cells)]
    lines += _row_lines(header, cells, justify, "┃", bottom=True)
    lines.append(_rule(_HEAD_RULE, cells))
    for index, row in enumerate(rows):
        if index:
            lines.append(_rule(_RULE, cells))
        lines += _row_lines(row, cells, justify, "│", bottom=False)
    lines.append(_rule(_BOTTOM, cells))
    return lines


def _fit_columns(widths, available):
    """Shrink or grow the columns to fill `available` characters, spreading the difference as rich does."""
    total = sum(widths)
    if total > available:
        excess, left = total - available, len(widths)
        result = []
        for width in widths:  # rich's ratio_reduce with equal ratios: round half to even
            cut = min(width, round(excess / left))
            result.append(width - cut)
            excess, left = excess - cut, left - 1
        return result
    spare, weight, result = available - total, total, []
    for width in widths:  # rich's ratio_distribute, weighted by the widths: round up
        extra = -(-width * spare // weight) if weight > 0 else spare
        result.append(width + extra)
        spare, weight = spare - extra, weight - width
    return result


def _rule(chars, widths):
    left, fill, cross, right = chars
    return left + cross.join(fill * w for w in widths) + right


def _row_lines(values, widths, justify, bar, bottom):
    columns = [_cell_lines(str(value), width, how) for value, width, how in zip(values, widths, justify)]
    height = max([1] + [len(lines) for lines in columns])
    for lines, width in zip(columns, widths):
        blank = [" " * width] * (height - len(lines))
        lines[:] = blank + lines if bottom else lines + blank
    return [bar + bar.join(column[i] for column in columns) + bar for i in range(height)]


def _cell_lines(text, width, justify):
    """The lines of one cell `width` characters wide: words wrapped, one space each side, cut with "…"."""
    inner = width - 2
    if inner < 1:  # rich renders nothing into a cell with no room inside its padding
        return []
    lines = []
    for paragraph in text.split("\n"):
        breaks = _breaks(paragraph, inner)
        for start, end in zip([0] + breaks, breaks + [len(paragraph)]):
            lines.append(_justify(_rstrip_beyond(paragraph[start:end], inner), inner, justify))
    return [" " + _set_cells(line, inner) + " " for line in lines]


def _breaks(text, width):
    """Where to start new lines so that words fit `width` (rich's divide_line; a word too long stays whole)."""
    breaks, offset = [], 0
    for match in re.finditer(r"\s*\S+\s*", text):
        start, word = match.start(), match.group(0)
        length = _cell_len(word.rstrip())
        if width - offset >= length:
            offset += _cell_len(word)
        elif length > width or (offset and start):
            if start:
                breaks.append(start)
            offset = _cell_len(word)
    return breaks


def _rstrip_beyond(text, width):
    excess = len(text) - width
    if excess > 0:
        spaces = len(text) - len(text.rstrip())
        return text[:len(text) - min(spaces, excess)]
    return text


def _justify(text, width, how):
    if how == "left":
        return _truncate(text, width) if _cell_len(text) > width else _set_cells(text, width)
    text = _truncate(text.rstrip(), width)
    pad = width - _cell_len(text)
    left = pad // 2 if how == "center" else pad
    return " " * left + text + " " * (pad - left if how == "center" else 0)


def _truncate(text, width):
    return _set_cells(text, width - 1) + "…" if _cell_len(text) > width else text


def _char_cells(char):
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cell_len(text):
    return len(text) if text.isascii() else sum(_char_cells(c) for c in text)


def _set_cells(text, size):
    """`text` cut or padded with spaces to `size` terminal cells (wide characters take two)."""
    if text.isascii():
        return text[:size] if len(text) >= size else text + " " * (size - len(text))
    if size <= 0:
        return ""
    out, used = [], 0
    for char in text:
        cells = _char_cells(char)
        if used + cells > size:
            break
        out.append(char)
        used += cells
    return "".join(out) + " " * (size - used)
