"""plot_model: one box per layer and one arrow per connection, laid out in ranks without overlaps; SVG without
matplotlib, PNG and PDF with it; Keras's signature."""
import importlib.util
import inspect
import sys
import xml.etree.ElementTree as ElementTree

import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.utils import plot_model

SVG = "{http://www.w3.org/2000/svg}"
needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")


def residual_inception():
    """Two residual blocks, then three parallel branches joined by a Concatenate."""
    inputs = deepglass.Input((16, 16, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    for block in range(2):
        y = layers.Conv2D(8, 3, padding="same", name=f"conv_{block}a")(x)
        y = layers.BatchNormalization(name=f"bn_{block}")(y)
        y = layers.Conv2D(8, 3, padding="same", name=f"conv_{block}b")(y)
        x = layers.Add(name=f"add_{block}")([x, y])
    branches = [layers.Conv2D(4, 1, name="branch_1x1")(x), layers.Conv2D(4, 3, padding="same", name="branch_3x3")(x),
                layers.MaxPooling2D(3, strides=1, padding="same", name="branch_pool")(x)]
    x = layers.Concatenate(name="concat")(branches)
    outputs = layers.Dense(10, activation="softmax", name="classifier")(layers.GlobalAveragePooling2D(name="gap")(x))
    return deepglass.Model(inputs, outputs)


def connections(model):
    """(source, target) layer names read from the model's graph: an independent walk of its nodes."""
    pairs = set()
    for layer in model.layers:
        for node in layer._inbound_nodes:
            pairs |= {(tensor._keras_history[0].name, layer.name) for tensor in node.input_tensors}
    return pairs


def parse(path):
    root = ElementTree.parse(path).getroot()
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            rect = group.find(f"{SVG}rect")
            nodes[group.get("data-name")] = [float(rect.get(key)) for key in ("x", "y", "width", "height")]
    edges = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "edge":
            points = [tuple(map(float, p.split(","))) for p in group.find(f"{SVG}polyline").get("points").split()]
            edges.append((group.get("data-source"), group.get("data-target"), points))
    return root, nodes, edges


def inside(point, rect, slack=0.6):
    x, y, w, h = rect
    return x - slack <= point[0] <= x + w + slack and y - slack <= point[1] <= y + h + slack


def test_a_residual_model_has_one_box_per_layer_and_one_arrow_per_connection(tmp_path):
    model = residual_inception()
    path = tmp_path / "model.svg"
    plot_model(model, str(path), show_shapes=True, show_layer_names=True)
    root, nodes, edges = parse(path)
    assert sorted(nodes) == sorted(layer.name for layer in model.layers)
    assert len(edges) == len(connections(model)) == 19
    assert {(source, target) for source, target, _ in edges} == connections(model)
    width, height = float(root.get("width")), float(root.get("height"))
    for source, target, points in edges:
        assert inside(points[0], nodes[source]) and inside(points[-1], nodes[target])  # from box to box
        assert points[-1][1] > points[0][1]  # top to bottom
        assert all(0 <= x <= width and 0 <= y <= height for x, y in points)
    names = list(nodes)
    for i, a in enumerate(names):  # no two boxes overlap
        for b in names[i + 1:]:
            (ax, ay, aw, ah), (bx, by, bw, bh) = nodes[a], nodes[b]
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a, b)
    # Layered by depth: each box below the boxes feeding it; the three branches side by side on one rank.
    for source, target, _ in edges:
        assert nodes[target][1] >= nodes[source][1] + nodes[source][3]
    tops = {nodes[name][1] for name in ("branch_1x1", "branch_3x3", "branch_pool")}
    assert len(tops) == 1
    text = path.read_text()
    assert "Output shape: (None, 16, 16, 8)" in text and "add_0 (Add)" in text


def test_the_skip_connection_goes_around_the_block(tmp_path):
    model = residual_inception()
    path = tmp_path / "model.svg"
    plot_model(model, str(path))
    _, nodes, edges = parse(path)
    skip = next(points for source, target, points in edges if (source, target) == ("stem", "add_0"))
    block = [nodes[name] for name in ("conv_0a", "bn_0", "conv_0b")]
    for (x0, y0), (x1, y1) in zip(skip, skip[1:]):  # no segment of the long edge crosses a box of the block
        for x, y, w, h in block:
            samples = [(x0 + (x1 - x0) * t / 20, y0 + (y1 - y0) * t / 20) for t in range(21)]
            assert not any(x + 1 < px < x + w - 1 and y + 1 < py < y + h - 1 for px, py in samples)


def test_a_layer_used_twice_gets_a_loop_and_a_way_back(tmp_path):
    inputs = deepglass.Input((8,), name="x")
    shared = layers.Dense(8, name="shared")
    outputs = layers.Dense(2, name="out")(shared(layers.Activation("relu", name="act")(shared(shared(inputs)))))
    model = deepglass.Model(inputs, outputs)
    plot_model(model, str(tmp_path / "shared.svg"))
    _, nodes, edges = parse(tmp_path / "shared.svg")
    assert sorted(nodes) == ["act", "out", "shared", "x"]
    assert {(s, t) for s, t, _ in edges} == connections(model) == {
        ("x", "shared"), ("shared", "shared"), ("shared", "act"), ("act", "shared"), ("shared", "out")}
    for source, target, points in edges:
        assert inside(points[0], nodes[source]) and inside(points[-1], nodes[target])


def test_sequential_models_are_a_chain_and_left_to_right_works(tmp_path):
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(3, activation="relu", name="hidden"),
                                  layers.Dense(2, name="out")])
    path = tmp_path / "chain.svg"
    plot_model(model, str(path), rankdir="LR", show_shapes=True, show_dtype=True, show_layer_activations=True,
               show_trainable=True)
    _, nodes, edges = parse(path)
    assert list(nodes) == ["hidden", "out"]  # Keras draws no box for a Sequential's Input
    assert [(s, t) for s, t, _ in edges] == [("hidden", "out")]
    assert edges[0][2][-1][0] > edges[0][2][0][0]  # left to right
    text = path.read_text()
    for line in ("Activation: relu", "Input shape: (None, 4)", "Output shape: (None, 2)", "Output dtype: float32",
                 "Trainable"):
        assert line in text


def test_nested_models_are_one_box_or_expanded_in_a_frame(tmp_path):
    inner_input = deepglass.Input((6,), name="inner_in")
    encoder = deepglass.Model(inner_input, layers.Dense(4, name="inner_dense")(inner_input), name="encoder")
    head = deepglass.Sequential([deepglass.Input((8,)), layers.Dense(2, name="head_dense")], name="head")
    left, right = deepglass.Input((6,), name="left"), deepglass.Input((6,), name="right")
    joined = layers.Concatenate(name="join")([encoder(left), encoder(right)])
    model = deepglass.Model([left, right], head(joined))
    plot_model(model, str(tmp_path / "flat.svg"))
    _, nodes, edges = parse(tmp_path / "flat.svg")
    assert sorted(nodes) == ["encoder", "head", "join", "left", "right"]
    assert len(edges) == 4
    plot_model(model, str(tmp_path / "nested.svg"), expand_nested=True)
    root, nodes, edges = parse(tmp_path / "nested.svg")
    assert sorted(nodes) == ["head_dense", "inner_dense", "inner_in", "join", "left", "right"]
    assert {(s, t) for s, t, _ in edges} == {("left", "inner_in"), ("right", "inner_in"),
                                             ("inner_in", "inner_dense"), ("inner_dense", "join"),
                                             ("join", "head_dense")}
    frames = [group for group in root.iter(f"{SVG}g") if group.get("class") == "frame"]
    assert sorted(frame.find(f"{SVG}text").text for frame in frames) == ["encoder", "head"]


def test_subclassed_models_are_a_single_box_and_unbuilt_models_are_refused(tmp_path):
    class Net(deepglass.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    with pytest.raises(ValueError, match="not yet been built"):
        plot_model(net, str(tmp_path / "net.svg"))
    net(torch.zeros(1, 3))
    plot_model(net, str(tmp_path / "net.svg"), show_layer_names=True)
    _, nodes, edges = parse(tmp_path / "net.svg")
    assert list(nodes) == ["net"] and edges == []


def test_keras_signature_and_argument_checks(tmp_path):
    keras = pytest.importorskip("keras")
    ours, theirs = inspect.signature(plot_model).parameters, inspect.signature(keras.utils.plot_model).parameters
    assert list(ours) == list(theirs) and [p.default for p in ours.values()] == [p.default for p in theirs.values()]
    model = deepglass.Sequential([deepglass.Input((2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match="layer_range"):
        plot_model(model, str(tmp_path / "m.svg"), layer_range=["a", "b"])
    with pytest.raises(ValueError, match="rankdir"):
        plot_model(model, str(tmp_path / "m.svg"), rankdir="UP")
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        plot_model(model, str(tmp_path / "m.svg"), colour="red")
    with pytest.raises(ValueError, match="not yet been built"):
        plot_model(deepglass.Sequential([deepglass.Input((2,))]), str(tmp_path / "m.svg"))


@needs_matplotlib
def test_png_and_pdf_are_written_with_matplotlib(tmp_path):
    model = residual_inception()
    plot_model(model, tmp_path / "model.png", show_shapes=True, dpi=50)
    plot_model(model, tmp_path / "model.svg", show_shapes=True)
    png = (tmp_path / "model.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
    root = ElementTree.parse(tmp_path / "model.svg").getroot()  # the same layout, in points
    assert width == pytest.approx(float(root.get("width")) * 50 / 72, abs=2)
    assert height == pytest.approx(float(root.get("height")) * 50 / 72, abs=2)
    plot_model(model, tmp_path / "model.pdf")
    assert (tmp_path / "model.pdf").read_bytes()[:5] == b"%PDF-"


def test_svg_needs_no_matplotlib_and_png_says_what_to_install(monkeypatch, tmp_path):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.patches"):
        monkeypatch.setitem(sys.modules, name, None)
    model = deepglass.Sequential([deepglass.Input((2,)), layers.Dense(1)])
    plot_model(model, str(tmp_path / "m.svg"))
    assert ElementTree.parse(tmp_path / "m.svg").getroot().tag == f"{SVG}svg"
    with pytest.raises(ImportError, match=r"pip install 'deepglass\[plot\]'"):
        plot_model(model, str(tmp_path / "m.png"))
