"""The explained summary: every number against a hand computation or a closed form, and the output sizes against
the shapes the layers really produce."""
import math

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.insight import LayerExplanation, explain_model, explain_totals
from deepglass.utils import print_summary
from deepglass.utils.summary import summary_string


def explained(model):
    return {row.name: row for row in explain_model(model)}


def real_shape(model, input_shape):
    """The output shape of a forward pass (batch of 2), to check the arithmetic against what torch computes."""
    with torch.no_grad():
        return tuple(model(torch.zeros((2,) + tuple(input_shape))).shape[1:])


def test_course_cnn_numbers():
    model = deepglass.Sequential([deepglass.Input((28, 28, 1)),
                                  layers.Conv2D(32, 3, activation="relu", name="conv"),
                                  layers.MaxPooling2D(2, name="pool"), layers.Flatten(name="flatten"),
                                  layers.Dense(10, activation="softmax", name="dense")])
    rows = explained(model)
    conv = rows["conv"]
    assert isinstance(conv, LayerExplanation)
    assert conv.output_size == ["height, width: (28 - 3 + 2*0) / 1 + 1 = 26"]
    assert conv.params == 320 and conv.params_formula == "(3*3*1 + 1) * 32 = 320"
    assert conv.flops == 2 * 3 * 3 * 1 * 32 * 26 * 26
    assert conv.flops_formula == f"2 * 3*3*1 * 32 * 26*26 = {2 * 3 * 3 * 32 * 26 * 26:,}"
    assert conv.activation_bytes == 26 * 26 * 32 * 4
    assert rows["pool"].output_size == ["height, width: (26 - 2 + 2*0) / 2 + 1 = 13"]
    assert rows["pool"].flops == 0 and rows["pool"].params_formula == ""
    assert rows["flatten"].output_size == ["13*13*32 = 5,408"]
    dense = rows["dense"]
    assert dense.params_formula == f"(5408 + 1) * 10 = {5409 * 10:,}" and dense.flops == 2 * 5408 * 10
    totals = explain_totals(list(rows.values()))
    assert totals["params"] == model.count_params()
    assert totals["flops"] == conv.flops + dense.flops and totals["unknown_flops"] == []
    assert totals["activation_bytes"] == 4 * (26 * 26 * 32 + 13 * 13 * 32 + 5408 + 10)


def test_dense_mlp_and_same_padding_flops():
    mlp = deepglass.Sequential([deepglass.Input((784,)), layers.Dense(512, name="hidden"),
                                layers.Dense(10, use_bias=False, name="out")])
    rows = explained(mlp)
    assert rows["hidden"].params_formula == "(784 + 1) * 512 = 401,920"
    assert rows["hidden"].flops == 2 * 784 * 512
    assert rows["out"].params_formula == "512 * 10 = 5,120"
    assert rows["hidden"].receptive_field == "-"  # no spatial axes
    same = explained(deepglass.Sequential([deepglass.Input((28, 28, 1)), layers.Conv2D(32, 3, padding="same",
                                                                                       name="c")]))["c"]
    assert same.flops == 2 * 3 * 3 * 1 * 32 * 28 * 28
    assert same.output_size == ["height, width: same: ⌈28 / 1⌉ = 28 (padding 1 + 1)"]


def test_dense_on_sequences_counts_every_position():
    row = explained(deepglass.Sequential([deepglass.Input((7, 5)), layers.Dense(3, name="d")]))["d"]
    assert row.flops == 2 * 5 * 3 * 7 and row.receptive_field == (1,)


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", [
    (200, 3, 2, "valid", 1), (200, 3, 3, "same", 1), (28, 5, 1, "same", 1), (20, 3, 1, "valid", 2),
    (21, 3, 1, "same", 3), (9, 4, 2, "same", 1), (10, 3, 1, "causal", 2)])
def test_conv1d_output_size_arithmetic(size, kernel, stride, padding, dilation):
    model = deepglass.Sequential([deepglass.Input((size, 2)), layers.Conv1D(4, kernel, strides=stride, padding=padding,
                                                                            dilation_rate=dilation, name="c")])
    row = explained(model)["c"]
    span = dilation * (kernel - 1) + 1
    expected = (size - span) // stride + 1 if padding == "valid" else math.ceil(size / stride)
    assert real_shape(model, (size, 2)) == (expected, 4) == row.output_shape[1:]
    text = row.output_size[0]
    assert text.startswith("steps: ") and f"= {expected}" in text
    if dilation > 1:
        assert f"k_eff = {dilation}*({kernel} - 1) + 1 = {span}; " in text
    if padding == "valid":
        division = f"({size} - {span} + 2*0) / {stride}"
        assert (division in text) and (("⌊" in text) == ((size - span) % stride != 0))
    elif padding == "same":
        total = max((expected - 1) * stride + span - size, 0)
        assert f"same: ⌈{size} / {stride}⌉ = {expected} (padding {total // 2} + {total - total // 2})" in text
    else:
        assert f"causal, {span - 1} zeros before: ⌈{size} / {stride}⌉ = {expected}" in text
    assert row.params_formula == f"({kernel}*2 + 1) * 4 = {(kernel * 2 + 1) * 4}"
    assert row.flops == 2 * kernel * 2 * 4 * expected
    assert row.receptive_field == (span,)


def test_valid_stride_two_example_and_grouped_conv():
    model = deepglass.Sequential([deepglass.Input((200, 200, 4)),
                                  layers.Conv2D(8, 3, strides=2, groups=2, name="c")])
    row = explained(model)["c"]
    assert row.output_size == ["height, width: ⌊(200 - 3 + 2*0) / 2⌋ + 1 = 99"]
    assert real_shape(model, (200, 200, 4)) == (99, 99, 8)
    assert row.params == (3 * 3 * 2 + 1) * 8 and row.params_formula == "(3*3*4/2 + 1) * 8 = 152"
    assert row.flops == 2 * 3 * 3 * 2 * 8 * 99 * 99


def test_different_axes_get_a_line_each():
    model = deepglass.Sequential([deepglass.Input((10, 12, 1)), layers.Conv2D(2, (3, 5), strides=(1, 2), name="c")])
    assert explained(model)["c"].output_size == ["height: (10 - 3 + 2*0) / 1 + 1 = 8",
                                                 "width: ⌊(12 - 5 + 2*0) / 2⌋ + 1 = 4"]


@pytest.mark.parametrize("pool, stride, padding, size", [(3, 2, "valid", 7), (3, 2, "same", 7), (2, None, "valid", 9)])
def test_pooling_output_size(pool, stride, padding, size):
    model = deepglass.Sequential([deepglass.Input((size, size, 3)),
                                  layers.MaxPooling2D(pool, strides=stride, padding=padding, name="p")])
    row = explained(model)["p"]
    step = stride or pool
    expected = (size - pool) // step + 1 if padding == "valid" else math.ceil(size / step)
    assert real_shape(model, (size, size, 3)) == (expected, expected, 3)
    if padding == "valid":
        division = f"({size} - {pool} + 2*0) / {step}"
        exact = (size - pool) % step == 0
        assert row.output_size == [f"height, width: {division if exact else '⌊' + division + '⌋'} + 1 = {expected}"]
    else:
        total = (expected - 1) * step + pool - size
        assert row.output_size == [f"height, width: same: ⌈{size} / {step}⌉ = {expected} "
                                   f"(padding {total // 2} + {total - total // 2})"]
    assert row.params == 0 and row.flops == 0 and row.receptive_field == (pool, pool)
    assert row.jump == (step, step)


@pytest.mark.parametrize("padding, output_padding, text, size", [
    ("valid", None, "(5 - 1) * 2 + max(3, 2) = 11", 11), ("same", None, "same: 5 * 2 = 10", 10),
    ("valid", 1, "(5 - 1) * 2 + 3 + 1 = 12", 12), ("same", 0, "same: (5 - 1) * 2 + (3 mod 2) + 0 = 9", 9)])
def test_transposed_convolution(padding, output_padding, text, size):
    model = deepglass.Sequential([deepglass.Input((5, 5, 6)), layers.Conv2DTranspose(
        4, 3, strides=2, padding=padding, output_padding=output_padding, name="t")])
    row = explained(model)["t"]
    assert real_shape(model, (5, 5, 6)) == (size, size, 4)
    assert row.output_size == [f"height, width: {text}"]
    assert row.params == 3 * 3 * 6 * 4 + 4 and row.params_formula == "(3*3*6 + 1) * 4 = 220"
    assert row.flops == 2 * 3 * 3 * 6 * 4 * 5 * 5  # every input position times the whole kernel
    # An output position is reached by at most ceil(3 / 2) = 2 input positions, and neighbours are half apart.
    assert row.receptive_field == (2, 2) and row.jump == (0.5, 0.5)


def test_batch_normalization_depthwise_and_separable():
    model = deepglass.Sequential([deepglass.Input((9, 9, 8)), layers.BatchNormalization(name="bn"),
                                  layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw"),
                                  layers.SeparableConv2D(16, 3, name="sep"),
                                  layers.BatchNormalization(center=False, name="bn_scale_only")])
    rows = explained(model)
    bn = rows["bn"]
    assert bn.params == 4 * 8 and bn.trainable_params == 2 * 8
    assert bn.params_formula == "4 * 8 = 32 (2 * 8 trainable: gamma, beta)" and bn.flops == 0
    assert rows["bn_scale_only"].params_formula == "3 * 16 = 48 (1 * 16 trainable: gamma)"
    dw = rows["dw"]
    assert dw.params == (3 * 3 + 1) * 8 * 2 and dw.params_formula == "(3*3 + 1) * 8*2 = 160"
    assert dw.flops == 2 * 3 * 3 * 8 * 2 * 7 * 7
    sep = rows["sep"]
    assert sep.params == 3 * 3 * 16 * 1 + (16 + 1) * 16 and sep.params_formula == "3*3*16*1 + (16*1 + 1) * 16 = 416"
    assert sep.flops == 2 * (3 * 3 * 16 + 16 * 16) * 5 * 5
    assert [r.params for r in rows.values()] == [layer.count_params() for layer in model.layers]


def vgg16_like(filters=2):
    stack = [deepglass.Input((32, 32, 3))]
    for block, convs in enumerate([2, 2, 3, 3, 3]):
        stack += [layers.Conv2D(filters, 3, padding="same", name=f"conv{block + 1}_{i + 1}") for i in range(convs)]
        stack.append(layers.MaxPooling2D(2, name=f"pool{block + 1}"))
    return deepglass.Sequential(stack)


def test_vgg_receptive_fields_match_the_closed_form():
    rows = explain_model(vgg16_like())
    # Closed form: r_L = 1 + sum_l (k_l - 1) * prod_{i < l} s_i, along the chain of layers.
    kernels = [(3, 1) if row.class_name == "Conv2D" else (2, 2) for row in rows]
    for index, row in enumerate(rows):
        field = 1 + sum((k - 1) * math.prod(s for _, s in kernels[:l]) for l, (k, _) in enumerate(kernels[:index + 1]))
        assert row.receptive_field == (field, field)
    by_name = {row.name: row.receptive_field[0] for row in rows}
    assert [by_name[f"pool{b}"] for b in range(1, 6)] == [6, 16, 44, 100, 212]  # VGG16's published values
    assert by_name["conv5_3"] == 196
    assert explain_totals(rows)["receptive_field"] == (212, 212)
    assert rows[2].receptive_field_formula == ["height, width: r = 5 + (2 - 1) * 1 = 6, j = 1 * 2 = 2"]


def test_branches_shared_layers_and_nested_models():
    inputs = deepglass.Input((12, 12, 3))
    shared = layers.Conv2D(3, 3, padding="same", name="shared")
    left = shared(inputs)
    right = shared(layers.Conv2D(3, 5, padding="same", name="wide")(inputs))
    outputs = layers.Add(name="add")([left, right])
    model = deepglass.Model(inputs, outputs)
    rows = explained(model)
    assert rows["add"].receptive_field == (5 + 2, 5 + 2)  # the larger branch: 5x5 then 3x3
    assert rows["shared"].calls == 2 and rows["shared"].flops == 2 * (2 * 3 * 3 * 3 * 3 * 12 * 12)
    assert rows["shared"].activation_bytes == 2 * 12 * 12 * 3 * 4

    inner = deepglass.Sequential([deepglass.Input((8, 8, 2)), layers.Conv2D(3, 3, name="a"),
                                  layers.Conv2D(3, 3, name="b")], name="inner")
    x = deepglass.Input((8, 8, 2))
    outer = deepglass.Model(x, layers.Dense(2, name="head")(layers.Flatten()(inner(x))))
    flat = explain_model(outer)
    nested = explain_model(outer, expand_nested=True)
    assert [row.name for row in nested if row.level == 1] == ["a", "b"]
    row = {r.name: r for r in flat}["inner"]
    assert row.flops == 2 * 3 * 3 * 2 * 3 * 6 * 6 + 2 * 3 * 3 * 3 * 3 * 4 * 4
    assert row.receptive_field == (5, 5) and row.params == inner.count_params()
    assert row.activation_bytes == 4 * (6 * 6 * 3 + 4 * 4 * 3)


def test_subclassed_model_is_explained_as_a_chain():
    class Net(deepglass.Model):
        def __init__(self):
            super().__init__()
            self.conv = layers.Conv2D(4, 3)
            self.pool = layers.MaxPooling2D(2)
            self.flat = layers.Flatten()
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(self.flat(self.pool(self.conv(x))))

    net = Net()
    net(np.zeros((1, 10, 10, 1), "float32"))
    rows = explain_model(net)
    assert [row.receptive_field for row in rows] == [(3, 3), (4, 4), "all", "all"]
    assert rows[0].flops == 2 * 3 * 3 * 1 * 4 * 8 * 8 and rows[3].params_formula == "(64 + 1) * 2 = 130"


def test_unknown_cost_is_none_and_listed():
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Lambda(lambda t: t * 2, name="double"),
                                  layers.Dense(3, name="d")])
    rows = explained(model)
    assert rows["double"].flops is None
    assert explain_totals(list(rows.values()))["unknown_flops"] == ["double"]


def test_summary_explain_adds_the_block_and_keeps_the_table():
    model = vgg16_like()
    plain = summary_string(model)
    text = summary_string(model, explain=True)
    assert text.startswith(plain.rstrip("\n")) and summary_string(model) == plain
    assert "conv1_1 (Conv2D) -> (None, 32, 32, 2)" in text
    assert "parameters:      (3*3*3 + 1) * 2 = 56" in text
    assert "Receptive field of pool5: 212x212 input positions" in text
    total = sum(row.flops for row in explain_model(model))
    assert f" Total: {total:,} FLOPs" in text
    printed = []
    model.summary(explain=True, print_fn=printed.append)
    print_summary(model, explain=True, print_fn=printed.append)
    assert printed == [text, text]
    ranged = summary_string(model, explain=True, layer_range=["conv2_1", "pool2"])
    assert "conv2_1 (Conv2D) ->" in ranged and "conv1_1 (Conv2D) ->" not in ranged


def test_to_dict_is_json_safe():
    import json
    rows = explain_model(vgg16_like())
    json.dumps([row.to_dict() for row in rows])


def test_embedding_and_recurrent_layers():
    if not all(hasattr(layers, name) for name in ("Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional")):
        pytest.skip("this build has no recurrent layers")
    model = deepglass.Sequential([deepglass.Input((12,), dtype="int32"), layers.Embedding(100, 16, name="emb"),
                                  layers.SimpleRNN(8, return_sequences=True, name="rnn"),
                                  layers.GRU(6, return_sequences=True, name="gru"),
                                  layers.GRU(5, reset_after=False, return_sequences=True, name="gru_v1"),
                                  layers.Bidirectional(layers.LSTM(4, use_bias=False), name="bi")])
    rows = explained(model)
    # Hand counts: units * (inputs + units + biases) per gate; GRU's reset_after keeps two biases per gate.
    expected = {"emb": (100 * 16, "100 * 16 = 1,600"), "rnn": (8 * (16 + 8 + 1), "(16 + 8 + 1) * 8 = 200"),
                "gru": (3 * 6 * (8 + 6 + 2), "3 * (8 + 6 + 2) * 6 = 288"),
                "gru_v1": (3 * 5 * (6 + 5 + 1), "3 * (6 + 5 + 1) * 5 = 180"),
                "bi": (2 * 4 * 4 * (5 + 4), "4 * (5 + 4) * 4 + 4 * (5 + 4) * 4 = 288")}
    for name, (count, formula) in expected.items():
        assert rows[name].params == count == model.get_layer(name).count_params()
        assert rows[name].params_formula == formula
    assert rows["emb"].flops == 0 and rows["emb"].receptive_field == (1,)
    assert rows["rnn"].flops == 2 * 8 * (16 + 8) * 12 and rows["rnn"].receptive_field == "all"
    assert rows["gru"].flops == 2 * 3 * 6 * (8 + 6) * 12
    assert rows["bi"].flops == 2 * 2 * 4 * 4 * (5 + 4) * 12
    assert explain_totals(list(rows.values()))["receptive_field"] is None  # no convolution or pooling
