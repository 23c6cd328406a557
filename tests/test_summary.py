"""model.summary(): the same models built in deepglass and in Keras (the oracle) print the same text."""
import random

import numpy as np
import pytest
import torch

import deepglass
from deepglass.utils import print_summary
from deepglass.utils.summary import readable_memory_size, render_table, summary_string

keras = pytest.importorskip("keras")


def keras_text(model, **kwargs):
    captured = []
    model.summary(print_fn=captured.append, **kwargs)
    assert len(captured) == 1  # Keras 3 hands print_fn the whole summary at once
    return captured[0]


def same_as_keras(build, **kwargs):
    """Check that `build(library)` gives the same summary in deepglass and in Keras; return the text."""
    ours = summary_string(build(deepglass), **kwargs)
    assert ours == keras_text(build(keras), **kwargs)
    return ours


def mlp(k):
    return k.Sequential([k.Input((784,)), k.layers.Dense(512, activation="relu", name="dense"),
                         k.layers.Dropout(0.2, name="dropout"), k.layers.Dense(10, activation="softmax",
                                                                                name="dense_1")],
                        name="sequential")


def two_heads(k):
    inputs = k.Input((8,), name="features")
    hidden = k.layers.Dense(16, activation="relu", name="trunk")(inputs)
    score = k.layers.Dense(1, name="score")(hidden)
    kind = k.layers.Dense(3, activation="softmax", name="a_rather_long_classifier_head_name")(hidden)
    return k.Model(inputs, [score, kind], name="two_heads")


def nested(k, freeze_inner=False):
    inner = k.Sequential([k.Input((8,)), k.layers.Dense(4, name="inner_1"), k.layers.Dense(3, name="inner_2")],
                         name="inner")
    inner.trainable = not freeze_inner
    inputs = k.Input((8,), name="x")
    outputs = k.layers.Dense(2, name="head")(inner(inputs))
    return k.Model(inputs, outputs, name="outer")


def frozen(k):
    model = k.Sequential([k.Input((6,)), k.layers.Dense(5, name="base"), k.layers.Dropout(0.1, name="drop"),
                          k.layers.Dense(2, name="top")], name="partly_frozen")
    model.get_layer("base").trainable = False
    return model


def merged(k):
    a, b = k.Input((4,), name="a"), k.Input((4,), name="b")
    total = k.layers.Lambda(lambda pair: pair[0] + pair[1], name="add")([a, b])
    shared = k.layers.Dense(4, name="shared")
    return k.Model([a, b], shared(shared(total)), name="merge")


def test_mlp_matches_keras():
    ours = same_as_keras(mlp, line_length=76)
    assert ours.splitlines()[-3:] == [" Total params: 407,050 (1.55 MB)", " Trainable params: 407,050 (1.55 MB)",
                                      " Non-trainable params: 0 (0.00 B)"]
    same_as_keras(mlp, line_length=50)


def test_default_width_follows_the_terminal_as_keras_does(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # 88 columns wanted, terminal width less 4 allowed: 76
    ours = same_as_keras(mlp)
    assert len(ours.splitlines()[1]) == 76


def test_branched_functional_has_connections_and_matches_keras():
    ours = same_as_keras(two_heads, line_length=80)
    assert "Connected to" in ours and "trunk[0][0]" in ours
    same_as_keras(two_heads, line_length=60, show_trainable=True)  # wrapped header and cells


def test_merge_shared_layer_and_layer_range_match_keras():
    assert "add[0][0]," in same_as_keras(merged, line_length=70)
    ours = same_as_keras(merged, line_length=70, layer_range=["add", "sh.*"])
    assert "a (InputLayer)" not in ours


@pytest.mark.parametrize("expand_nested", [False, True])
@pytest.mark.parametrize("freeze_inner", [False, True])
def test_nested_model_matches_keras(expand_nested, freeze_inner):
    def build(k):
        return nested(k, freeze_inner)

    ours = same_as_keras(build, line_length=80, expand_nested=expand_nested, show_trainable=True)
    assert ("└ inner_1 (Dense)" in ours) == expand_nested


def test_frozen_layer_matches_keras():
    ours = same_as_keras(frozen, line_length=72, show_trainable=True)
    assert " Non-trainable params: 35 (140.00 B)" in ours


def test_unbuilt_sequential_matches_keras():
    def build(k):
        return k.Sequential([k.layers.Dense(3, name="a"), k.layers.Dropout(0.5, name="b"),
                             k.layers.Dense(2, name="c")], name="unbuilt")

    ours = same_as_keras(build, line_length=70)
    assert "0 (unbuilt)" in ours and "?" in ours


def test_sequential_built_later_matches_keras():
    def build(k):
        model = k.Sequential([k.layers.Dense(3, name="a"), k.layers.Dense(2, name="b")], name="later")
        model.build((None, 5))
        return model

    assert "(None, 3)" in same_as_keras(build, line_length=70)


def subclassed(k):
    class TwoLayers(k.Model):
        def __init__(self):
            super().__init__(name="two_layers")
            self.hidden = k.layers.Dense(4, name="hidden")
            self.out = k.layers.Dense(2, name="out")

        def call(self, x):
            return self.out(self.hidden(x))

    return TwoLayers()


def test_subclassed_model():
    same_as_keras(subclassed, line_length=70)  # before any call: every shape "?", every count unbuilt
    model = subclassed(deepglass)
    x = torch.zeros(3, 8)
    hidden = model.hidden(x)
    model(x)
    text = summary_string(model, line_length=70)
    # Without symbolic calls the shapes are the layers' output shapes, batch axis unknown.
    assert f"(None, {hidden.shape[1]})" in text and "(None, 2)" in text
    assert " Total params: 46 (184.00 B)" in text


def test_print_fn_gets_the_whole_text_and_default_prints_it(capsys):
    model = mlp(deepglass)
    captured = []
    model.summary(print_fn=captured.append, line_length=70)
    assert captured == [summary_string(model, line_length=70)]
    assert captured[0].endswith(" Non-trainable params: 0 (0.00 B)\n")
    print_summary(model, line_length=70)
    assert capsys.readouterr().out == captured[0]


def test_bad_arguments_raise_like_keras():
    model = mlp(deepglass)
    for kwargs in ({"layer_range": ["nothing", "dense"]}, {"layer_range": ["dense"]}, {"line_length": 8}):
        with pytest.raises(ValueError):
            summary_string(model, **kwargs)
        with pytest.raises(ValueError):
            keras_text(mlp(keras), **kwargs)


def test_absolute_positions_are_column_ends():
    relative = same_as_keras(mlp, line_length=70, positions=[0.5, 0.8, 1.0])
    assert summary_string(mlp(deepglass), positions=[35, 56, 70]) == relative


def test_readable_memory_size_matches_keras():
    from keras.src.utils.summary_utils import readable_memory_size as keras_size
    for size in [0, 4, 244, 1023, 1024, 1536, 1628200, 5 * 1024 ** 3, 3 * 1024 ** 6]:
        assert readable_memory_size(size) == keras_size(size)


def test_table_drawing_matches_rich():
    rich_console = pytest.importorskip("rich.console")
    import rich.markup
    import rich.table
    rng = random.Random(0)
    words = ["a", "dense_1", "(Dense)", "(None, 28, 28, 3)", "x[0][0],", "1,234,567", "0 (unbuilt)", "-", "└",
             "an_extremely_long_layer_name_that_fits_nowhere", "層_密集", "café"]
    for _ in range(150):
        n = rng.choice([3, 4, 5])
        length = rng.randint(6 * n, 110)
        ends = [int(p * length) for p in sorted(rng.sample(range(1, 100), n - 1))] + [length]
        widths = [end - start for start, end in zip([0] + ends, ends)]
        if min(widths) < 4:
            continue
        justify = [rng.choice(["left", "right", "center"]) for _ in range(n)]
        phrase = lambda: " ".join(rng.choice(words) for _ in range(rng.randint(0, 4)))  # noqa: E731
        header, rows = [phrase() for _ in range(n)], [[phrase() for _ in range(n)] for _ in range(rng.randint(0, 3))]
        table = rich.table.Table(*[rich.table.Column(rich.markup.escape(h), justify=j, width=w)
                                   for h, j, w in zip(header, justify, widths)], width=length, show_lines=True)
        for row in rows:
            table.add_row(*[rich.markup.escape(cell) for cell in row])
        console = rich_console.Console(highlight=False, force_terminal=False, color_system=None, width=200)
        console.begin_capture()
        console.print(table)
        assert "\n".join(render_table(header, rows, justify, widths, length)) + "\n" == console.end_capture()



@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_optimizer_line_after_fit_matches_keras(optimizer):
    x, y = np.zeros((8, 6), "float32"), np.zeros((8, 2), "float32")

    def build(k):
        model = frozen(k)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        return model

    ours = summary_string(build(deepglass), line_length=72).splitlines()
    theirs = keras_text(build(keras), line_length=72).splitlines()
    assert ours[-1].startswith(" Optimizer params: ")
    # The sizes in bytes depend on the dtype each optimizer keeps its step count in; the counts must agree.
    assert ours[:-4] + ours[-3:-1] == theirs[:-4] + theirs[-3:-1]
    assert [line.split(" (")[0] for line in ours[-4:]] == [line.split(" (")[0] for line in theirs[-4:]]
