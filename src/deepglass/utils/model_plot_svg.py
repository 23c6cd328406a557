"""The geometry and the drawing behind `plot_model`: a layered layout of the layer graph, written as SVG in pure
Python or drawn with matplotlib (for PNG, PDF and the other formats it writes).

Sizes are in points (1/72 inch): the SVG's pixels, and matplotlib's font sizes, at the same scale. Text is set in
a monospace font, whose width is known without measuring it.
"""
import collections
import statistics
from xml.sax.saxutils import escape, quoteattr

CHAR = 0.62  # advance of one monospace character, in ems (DejaVu Sans Mono: 0.602)
TITLE_SIZE, TEXT_SIZE = 13, 11
PAD_X, PAD_Y = 9, 5
RANK_GAP, NODE_GAP, DUMMY_GAP = 46, 30, 16
FRAME_PAD, FRAME_LABEL, MARGIN = 10, 16, 14
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
# Okabe & Ito's colours (see deepglass.utils.plotting), dark enough for white text.
HEADER = {"layer": "#0072B2", "input": "#4D4D4D", "model": "#D55E00"}
CELL = {None: ("#FFFFFF", "#111111"), "trainable": ("#009E73", "#FFFFFF"), "frozen": ("#D55E00", "#FFFFFF")}
LINE_COLOUR, FRAME_COLOUR = "#333333", "#777777"


class Drawing:
    """A laid-out graph: its size, the placed boxes, the edges as point lists and the nested-model frames."""

    def __init__(self, width, height, boxes, edges, frames):
        self.width, self.height, self.boxes, self.edges, self.frames = width, height, boxes, edges, frames


def layout_graph(boxes, edges, clusters, rankdir="TB", orthogonal=True):
    """Place `boxes` (from `model_graph`) in ranks along `rankdir` and route `edges` between them."""
    measured = {box.key: _measure(box) for box in boxes}
    horizontal = rankdir in ("LR", "RL")
    span = {key: (m["h"] if horizontal else m["w"]) for key, m in measured.items()}  # along a rank
    depth = {key: (m["w"] if horizontal else m["h"]) for key, m in measured.items()}  # across ranks
    paths = {box.key: box.path for box in boxes}
    keys = [box.key for box in boxes]
    forward, loops = _acyclic(keys, edges)
    rank = _ranks(keys, forward)
    chains, pred, succ = {}, collections.defaultdict(list), collections.defaultdict(list)
    nodes = list(keys)
    for source, target in forward:
        chain = [source]
        for level in range(rank[source] + 1, rank[target]):  # placeholders where an edge crosses a rank
            dummy = ("dummy", source, target, level)
            rank[dummy], span[dummy], depth[dummy] = level, 0.0, 0.0
            paths[dummy] = _common(paths[source], paths[target])
            nodes.append(dummy)
            chain.append(dummy)
        chain.append(target)
        for a, b in zip(chain, chain[1:]):
            succ[a].append(b)
            pred[b].append(a)
        chains[(source, target)] = chain
    levels = [[] for _ in range(max(rank.values(), default=0) + 1)]
    for node in nodes:
        levels[rank[node]].append(node)
    levels = _order(levels, pred, succ, paths)
    frame_depth = max((len(p) for p in paths.values()), default=0)
    along = _place(levels, pred, succ, span, paths)
    _straighten(chains.values(), levels, along, span, paths)
    band, across = _bands(levels, depth, frame_depth)
    placed = {key: (along[key], across[key]) for key in nodes}
    ports = {**_ports(succ, placed, span, "out"), **_ports(pred, placed, span, "in")}
    routes = {}
    for source, target in edges:
        if source == target:
            routes[(source, target)] = _loop(placed[source], span[source])
        elif (source, target) in chains:
            routes[(source, target)] = _route(chains[(source, target)], placed, depth, band, rank, ports, orthogonal)
        else:  # laid out the other way round to keep the ranks acyclic: the same line, drawn back
            routes[(source, target)] = _route(chains[(target, source)], placed, depth, band, rank, ports,
                                              orthogonal)[::-1]
    return _finish(boxes, measured, placed, routes, clusters, rankdir)


# ---------------------------------------------------------------------------------------------------- measuring
def _text_width(text, size):
    return len(text) * CHAR * size


def _measure(box):
    """The box's width and height, and its bands: the title, the activation, and a row of cells."""
    title_h, text_h = TITLE_SIZE * 1.35 + 2 * PAD_Y, TEXT_SIZE * 1.35 + 2 * PAD_Y
    widths = [_text_width(box.title, TITLE_SIZE) + 2 * PAD_X]
    if box.activation:
        widths.append(_text_width(box.activation, TEXT_SIZE) + 2 * PAD_X)
    cells = [_text_width(text, TEXT_SIZE) + 2 * PAD_X for text, _ in box.cells]
    width = max(widths + [sum(cells), 60.0])
    scale = width / sum(cells) if cells else 1.0
    height = title_h + (text_h if box.activation else 0) + (text_h if cells else 0)
    return {"w": width, "h": height, "title_h": title_h, "text_h": text_h, "cells": [c * scale for c in cells]}


# ------------------------------------------------------------------------------------------------------ ranking
def _acyclic(keys, edges):
    """The edges to lay out, without cycles, and the loops. A layer used twice (`d(d(x))`, or `d(f(d(x)))`) makes
    a loop or a cycle in the graph of layers: each edge that closes a cycle (found by a depth-first search in the
    layers' order) is laid out reversed, once."""
    outgoing = collections.defaultdict(list)
    for source, target in edges:
        if source != target:
            outgoing[source].append(target)
    state, closing = {}, set()  # state: 1 while on the search path, 2 once done
    for root in keys:
        if root in state:
            continue
        state[root], stack = 1, [(root, iter(outgoing[root]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                closing.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(outgoing[child])))
    forward = []
    for source, target in edges:
        pair = (target, source) if (source, target) in closing else (source, target)
        if source != target and pair not in forward:
            forward.append(pair)
    return forward, [(s, t) for s, t in edges if s == t]


def _ranks(keys, edges):
    """Each box one rank below the deepest box feeding it; a box fed by nothing (an input) sits just above the
    first box it feeds, so that a late second input does not draw a long edge from the top."""
    incoming, outgoing = collections.defaultdict(list), collections.defaultdict(list)
    for source, target in edges:
        incoming[target].append(source)
        outgoing[source].append(target)
    rank, pending = {}, collections.deque(k for k in keys if not incoming[k])
    waiting = {k: len(incoming[k]) for k in keys}
    while pending:
        key = pending.popleft()
        rank[key] = max((rank[s] + 1 for s in incoming[key]), default=0)
        for target in outgoing[key]:
            waiting[target] -= 1
            if waiting[target] == 0:
                pending.append(target)
    for key in keys:
        if not incoming[key] and outgoing[key]:
            rank[key] = min(rank[t] for t in outgoing[key]) - 1
    return rank


def _common(a, b):
    length = 0
    while length < min(len(a), len(b)) and a[length] == b[length]:
        length += 1
    return a[:length]


# ----------------------------------------------------------------------------------------------------- ordering
def _order(levels, pred, succ, paths, sweeps=8):
    """Order each rank by the mean position of its neighbours (barycentre heuristic), alternating downward and
    upward sweeps, keeping the order with the fewest crossings; boxes of one nested model stay together."""
    levels = [_grouped(level, {n: i for i, n in enumerate(level)}, paths) for level in levels]
    best, fewest = [list(level) for level in levels], _crossings(levels, succ)
    position = {n: i for level in levels for i, n in enumerate(level)}
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        neighbours = pred if downward else succ
        for r in (range(1, len(levels)) if downward else range(len(levels) - 2, -1, -1)):
            centre = {n: statistics.fmean(position[m] for m in neighbours[n]) if neighbours[n] else position[n]
                      for n in levels[r]}
            levels[r] = _grouped(levels[r], centre, paths)
            position.update({n: i for i, n in enumerate(levels[r])})
        count = _crossings(levels, succ)
        if count < fewest:
            best, fewest = [list(level) for level in levels], count
    return best


def _grouped(level, centre, paths, depth=0):
    """`level` sorted by `centre`, the members of each nested model kept together (ordered by their mean)."""
    groups = {}
    for node in level:
        path = paths[node]
        groups.setdefault(("frame", path[depth]) if len(path) > depth else ("node", node), []).append(node)
    ordered = sorted(groups.items(), key=lambda item: statistics.fmean(centre[n] for n in item[1]))
    result = []
    for (kind, _), members in ordered:
        result += _grouped(members, centre, paths, depth + 1) if kind == "frame" else members
    return result


def _crossings(levels, succ):
    count = 0
    for upper, lower in zip(levels, levels[1:]):
        where = {n: i for i, n in enumerate(lower)}
        pairs = [(i, where[t]) for i, n in enumerate(upper) for t in succ[n] if t in where]
        count += sum(1 for a in range(len(pairs)) for b in range(a + 1, len(pairs))
                     if (pairs[a][0] - pairs[b][0]) * (pairs[a][1] - pairs[b][1]) < 0)
    return count


# ---------------------------------------------------------------------------------------------------- placement
def _place(levels, pred, succ, span, paths, rounds=6):
    """Positions along the ranks: each box as near as its order allows to the mean position of the boxes it
    connects to (from above, then from below, alternately), the gaps between neighbours kept."""
    along = {}
    for level in levels:
        gaps = _gaps(level, span, paths)
        along.update({n: sum(gaps[:i]) for i, n in enumerate(level)})
    both = {n: pred[n] + succ[n] for level in levels for n in level}
    for sweep in range(2 * rounds + 1):
        neighbours = both if sweep == 2 * rounds else pred if sweep % 2 == 0 else succ
        for level in (levels if sweep % 2 == 0 else reversed(levels)):
            wanted = [statistics.fmean(along[m] for m in neighbours[n]) if neighbours[n] else along[n] for n in level]
            weights = [0.4 if isinstance(n, tuple) else 1.0 for n in level]  # placeholders give way to boxes
            along.update(zip(level, _closest(wanted, weights, _gaps(level, span, paths))))
    return along


def _gaps(level, span, paths):
    """The least distance between the centres of each pair of neighbours in a rank."""
    gaps = []
    for a, b in zip(level, level[1:]):
        gap = DUMMY_GAP if isinstance(a, tuple) or isinstance(b, tuple) else NODE_GAP
        frames = len(paths[a]) + len(paths[b]) - 2 * len(_common(paths[a], paths[b]))
        gaps.append((span[a] + span[b]) / 2 + gap + frames * FRAME_PAD)
    return gaps


def _closest(wanted, weights, gaps):
    """Positions in the given order, each at least its gap after the previous, as close as possible (weighted
    least squares) to `wanted`: isotonic regression by pooling adjacent violators, after removing the gaps."""
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    blocks = []  # [weighted sum, weight, size]
    for target, weight, offset in zip(wanted, weights, offsets):
        blocks.append([weight * (target - offset), weight, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, weight_, size = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += weight_
            blocks[-1][2] += size
    values = [total / weight for total, weight, size in blocks for _ in range(size)]
    return [value + offset for value, offset in zip(values, offsets)]


def _straighten(chains, levels, along, span, paths):
    """Line up the placeholders of each long edge, where their neighbours leave room, so that it runs straight."""
    where = {n: (level, i) for level in levels for i, n in enumerate(level)}
    for chain in chains:
        dummies = chain[1:-1]
        if len(dummies) < 2:
            continue
        positions = sorted(along[d] for d in dummies)
        for candidate in (positions[len(positions) // 2], positions[-1], positions[0]):
            if all(_fits(d, candidate, where, along, span, paths) for d in dummies):
                along.update({d: candidate for d in dummies})
                break


def _fits(node, position, where, along, span, paths):
    level, index = where[node]
    if index > 0:
        left = level[index - 1]
        if position < along[left] + _gaps([left, node], span, paths)[0]:
            return False
    if index + 1 < len(level):
        right = level[index + 1]
        if position > along[right] - _gaps([node, right], span, paths)[0]:
            return False
    return True


def _bands(levels, depth, frame_depth):
    """Each rank's band `(start, size)` across the ranks, and every node's centre there."""
    gap = RANK_GAP + frame_depth * (FRAME_PAD + FRAME_LABEL)  # room for the frames of nested models
    band, across, start = [], {}, 0.0
    for level in levels:
        size = max((depth[n] for n in level), default=0.0)
        band.append((start, size))
        across.update({n: start + size / 2 for n in level})
        start += size + gap
    return band, across


# ------------------------------------------------------------------------------------------------------ routing
def _route(chain, placed, depth, band, rank, ports, orthogonal):
    """The points of one edge, in (along, across) coordinates: out of the source's far side, straight through the
    bands of the ranks it crosses, into the target's near side."""
    source, target = chain[0], chain[-1]
    start = (placed[source][0] + ports[(source, chain[1], "out")], placed[source][1] + depth[source] / 2)
    end = (placed[target][0] + ports[(target, chain[-2], "in")], placed[target][1] - depth[target] / 2)
    points = [start]
    for dummy in chain[1:-1]:
        top, size = band[rank[dummy]]
        points += [(placed[dummy][0], top), (placed[dummy][0], top + size)]
    points.append(end)
    if not orthogonal:
        return points
    bent = [points[0]]
    for (u0, v0), (u1, v1) in zip(points, points[1:]):
        if abs(u0 - u1) > 0.5:  # right angles: across to the middle, along, then across again
            middle = (v0 + v1) / 2
            bent += [(u0, middle), (u1, middle)]
        bent.append((u1, v1))
    return bent


def _loop(centre, span):
    """A small loop on the far end of a box, for a layer that feeds itself."""
    right, v = centre[0] + span / 2, centre[1]
    return [(right, v - 5), (right + 14, v - 5), (right + 14, v + 5), (right, v + 5)]


def _ports(links, placed, span, side):
    """Where each edge meets a box's side, as an offset from its centre: half-way towards the box at the other end
    (both ends then choose the same point, and the edge runs straight when the boxes overlap), or at a long edge's
    placeholder; at least 12 points apart, within the side."""
    ports = {}
    for node, others in links.items():
        if isinstance(node, tuple):  # a placeholder: a point
            ports.update({(node, other, side): 0.0 for other in others})
            continue
        limit = 0.42 * span[node]
        others = sorted(others, key=lambda n: placed[n][0])
        wanted = [min(max((placed[n][0] - placed[node][0]) / (1 if isinstance(n, tuple) else 2), -limit), limit)
                  for n in others]
        gap = min(12.0, 2 * limit / max(len(others) - 1, 1))
        offsets = _closest(wanted, [1.0] * len(others), [gap] * (len(others) - 1))
        ports.update({(node, other, side): min(max(o, -limit), limit) for other, o in zip(others, offsets)})
    return ports


# ------------------------------------------------------------------------------------------------ final layout
def _finish(boxes, measured, placed, routes, clusters, rankdir):
    """Turn (along, across) coordinates into x and y for `rankdir`, compute the frames, and add the margins."""
    swap, flip_x, flip_y = rankdir in ("LR", "RL"), rankdir == "RL", rankdir == "BT"

    def to_xy(u, v):
        x, y = (v, u) if swap else (u, v)
        return (-x if flip_x else x), (-y if flip_y else y)

    rects = {}
    for box in boxes:
        (x, y), size = to_xy(*placed[box.key]), measured[box.key]
        rects[box.key] = [x - size["w"] / 2, y - size["h"] / 2, size["w"], size["h"]]
    lines = [(pair, [to_xy(u, v) for u, v in points]) for pair, points in routes.items()]
    frames = _frames(boxes, rects, clusters)
    corners = [(r[0], r[1]) for r in list(rects.values()) + frames] + \
        [(r[0] + r[2], r[1] + r[3]) for r in list(rects.values()) + frames] + [p for _, ps in lines for p in ps]
    low_x, low_y = min(x for x, _ in corners) - MARGIN, min(y for _, y in corners) - MARGIN
    width = max(x for x, _ in corners) - low_x + MARGIN
    height = max(y for _, y in corners) - low_y + MARGIN
    placed_boxes = [(box, _shift(rects[box.key], low_x, low_y), measured[box.key]) for box in boxes]
    edges = [(pair, [(x - low_x, y - low_y) for x, y in points]) for pair, points in lines]
    frames = [(_shift(frame, low_x, low_y), frame[4]) for frame in frames]
    return Drawing(width, height, placed_boxes, edges, frames)


def _shift(rect, dx, dy):
    return [rect[0] - dx, rect[1] - dy, rect[2], rect[3]]


def _frames(boxes, rects, clusters):
    """One rectangle per nested model around its boxes and inner frames, with room for its name on top."""
    frames = {}
    for path in sorted(clusters, key=len, reverse=True):
        inside = [rects[b.key] for b in boxes if b.path[:len(path)] == path]
        inside += [frame[:4] for inner, frame in frames.items() if inner[:len(path)] == path and inner != path]
        if not inside:
            continue
        left = min(r[0] for r in inside) - FRAME_PAD
        top = min(r[1] for r in inside) - FRAME_PAD - FRAME_LABEL
        right = max(r[0] + r[2] for r in inside) + FRAME_PAD
        bottom = max(r[1] + r[3] for r in inside) + FRAME_PAD
        frames[path] = [left, top, right - left, bottom - top, clusters[path]]
    return [frames[path] for path in sorted(frames, key=len)]


# ---------------------------------------------------------------------------------------------------------- SVG
def render_svg(drawing):
    """The drawing as an SVG document: `<g class="node">` per layer box, `<g class="edge">` per connection."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{drawing.width:.0f}" height="{drawing.height:.0f}" '
           f'viewBox="0 0 {drawing.width:.1f} {drawing.height:.1f}" font-family={quoteattr(FONT)}>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{LINE_COLOUR}"/></marker></defs>',
           '<rect width="100%" height="100%" fill="white"/>']
    for (x, y, w, h), label in drawing.frames:
        out.append(f'<g class="frame"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
                   f'fill="#F6F6F6" stroke="{FRAME_COLOUR}" stroke-dasharray="6,4"/>'
                   f'<text x="{x + 8:.1f}" y="{y + FRAME_LABEL - 3:.1f}" font-size="{TEXT_SIZE}" '
                   f'fill="{FRAME_COLOUR}">{escape(label)}</text></g>')
    names = {box.key: box.name for box, _, _ in drawing.boxes}
    for (source, target), points in drawing.edges:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<g class="edge" data-source={quoteattr(names[source])} data-target={quoteattr(names[target])}>'
                   f'<title>{escape(names[source])} -&gt; {escape(names[target])}</title>'
                   f'<polyline points="{line}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.4" '
                   'marker-end="url(#arrow)"/></g>')
    for index, (box, rect, size) in enumerate(drawing.boxes):
        out.append(_svg_box(index, box, rect, size))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_box(index, box, rect, size):
    x, y, w, h = rect
    parts = [f'<g class="node" id="node{index}" data-name={quoteattr(box.name)}><title>{escape(box.name)}</title>',
             f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="white" stroke="{LINE_COLOUR}"/>']
    for text, fill, colour, size_, bold, (cx, cy, cw, ch) in _bands_of(box, rect, size):
        parts.append(f'<rect x="{cx:.1f}" y="{cy:.1f}" width="{cw:.1f}" height="{ch:.1f}" fill="{fill}" '
                     f'stroke="{LINE_COLOUR}" stroke-width="0.6"/>')
        weight = ' font-weight="bold"' if bold else ""
        parts.append(f'<text x="{cx + cw / 2:.1f}" y="{cy + ch / 2 + 0.36 * size_:.1f}" font-size="{size_}"'
                     f'{weight} fill="{colour}" text-anchor="middle">{escape(text)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _bands_of(box, rect, size):
    """The filled parts of a box, top to bottom: (text, fill, text colour, font size, bold, rectangle)."""
    x, y, w, _ = rect
    parts = [(box.title, HEADER[box.kind], "#FFFFFF", TITLE_SIZE, True, (x, y, w, size["title_h"]))]
    top = y + size["title_h"]
    if box.activation:
        parts.append((box.activation, "#FFFFFF", "#111111", TEXT_SIZE, False, (x, top, w, size["text_h"])))
        top += size["text_h"]
    left = x
    for (text, style), cell_w in zip(box.cells, size["cells"]):
        fill, colour = CELL[style]
        parts.append((text, fill, colour, TEXT_SIZE, style is not None, (left, top, cell_w, size["text_h"])))
        left += cell_w
    return parts


# --------------------------------------------------------------------------------------------------- matplotlib
def render_matplotlib(drawing, path, extension, dpi):
    """Draw the layout with matplotlib and save it to `path` in the format of `extension`."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, Rectangle
    except ImportError as error:
        raise ImportError(f"plot_model needs matplotlib to write .{extension} files: pip install 'deepglass[plot]' "
                          "(or write an .svg file, which needs nothing more).") from error
    figure = Figure(figsize=(drawing.width / 72, drawing.height / 72))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, drawing.width)
    axis.set_ylim(drawing.height, 0)
    axis.axis("off")
    for (x, y, w, h), label in drawing.frames:
        axis.add_patch(Rectangle((x, y), w, h, facecolor="#F6F6F6", edgecolor=FRAME_COLOUR, linestyle=(0, (6, 4))))
        axis.text(x + 8, y + FRAME_LABEL / 2 + 1, label, fontsize=TEXT_SIZE, color=FRAME_COLOUR, va="center",
                  family="monospace")
    for _, points in drawing.edges:
        xs, ys = zip(*points)
        axis.plot(xs[:-1], ys[:-1], color=LINE_COLOUR, linewidth=1.4, solid_joinstyle="miter")
        axis.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=11,
                                       color=LINE_COLOUR, linewidth=1.4, shrinkA=0, shrinkB=0))
    for box, rect, size in drawing.boxes:
        axis.add_patch(Rectangle(rect[:2], rect[2], rect[3], facecolor="white", edgecolor=LINE_COLOUR))
        for text, fill, colour, size_, bold, (cx, cy, cw, ch) in _bands_of(box, rect, size):
            axis.add_patch(Rectangle((cx, cy), cw, ch, facecolor=fill, edgecolor=LINE_COLOUR, linewidth=0.6))
            axis.text(cx + cw / 2, cy + ch / 2, text, fontsize=size_, color=colour, ha="center", va="center",
                      family="monospace", weight="bold" if bold else "normal")
    figure.savefig(path, format=extension, dpi=dpi, facecolor="white")
