"""The end-of-fit `Insight:` line, the per-step losses behind it, and the registry that lets fit add it."""
import ast
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import deepglass
from deepglass import layers
from deepglass.insight import FitSummary
from deepglass.insight.summary import fit_summary_factory
from deepglass.training import default_callbacks, trainer


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def model():
    net = deepglass.Sequential([deepglass.Input((5,)), layers.Dense(8, activation="relu"),
                                layers.Dense(2, activation="softmax")])
    net.compile(optimizer=deepglass.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    return net


@pytest.fixture
def insight_on():
    deepglass.config.set_insight(True)
    yield
    deepglass.config.set_insight(True)


def test_fit_with_verbose_1_ends_with_one_insight_line(capsys, insight_on):
    x, y = data()
    model().fit(x, y, epochs=5, batch_size=16, validation_split=0.25, verbose=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[-1].startswith("Insight: ") and sum(line.startswith("Insight:") for line in lines) == 1


@pytest.mark.parametrize("verbose", [0, 2])
def test_other_verbosities_print_no_insight(capsys, verbose, insight_on):
    model().fit(*data(), epochs=2, batch_size=16, verbose=verbose)
    assert "Insight:" not in capsys.readouterr().out


def test_set_insight_false_turns_the_line_off(capsys, insight_on):
    deepglass.config.set_insight(False)
    assert not deepglass.config.insight_enabled()
    model().fit(*data(), epochs=2, batch_size=16, verbose=1)
    assert "Insight:" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="set_insight\\(True\\) or set_insight\\(False\\); got 'no'"):
        deepglass.config.set_insight("no")


def test_step_losses_are_each_batch_loss_at_the_weights_of_that_step():
    # With a learning rate of 0 the weights never change: each step's loss is the batch's loss under them.
    x, y = data(n=40)
    net = model()
    summary = FitSummary(print_fn=lambda line: None)
    history = net.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, callbacks=[summary])
    probabilities = net.predict(x, verbose=0).astype("float64")
    per_sample = -np.log(probabilities[np.arange(len(y)), y])
    expected = [per_sample[start:start + 16].mean() for start in range(0, 40, 16)]  # batches of 16, 16 and 8
    assert np.allclose(history.step_losses, [expected, expected], rtol=1e-5)
    # The epoch's loss is the sample-weighted mean of its steps.
    assert history.history["loss"][0] == pytest.approx(per_sample.mean(), rel=1e-5)


def test_the_summary_keeps_its_findings_and_prints_through_print_fn():
    lines = []
    summary = FitSummary(print_fn=lines.append)
    model().fit(*data(), epochs=1, batch_size=16, verbose=0, callbacks=[summary])
    assert lines == ["Insight: no problems found"] and summary.findings == []


def test_the_registry_creates_one_callback_per_factory_and_skips_none():
    made = []

    def factory(verbose=None, **context):
        made.append(verbose)
        return FitSummary() if verbose == 3 else None

    default_callbacks.register(factory)
    default_callbacks.register(factory)  # registering twice has no effect
    try:
        assert default_callbacks.factories().count(factory) == 1
        callbacks = default_callbacks.create(verbose=3)
        assert [type(c) for c in callbacks if isinstance(c, FitSummary)] and made == [3]
        assert not any(isinstance(c, FitSummary) for c in default_callbacks.create(verbose=0))
    finally:
        default_callbacks.unregister(factory)
    assert factory not in default_callbacks.factories()


def test_the_insight_factory_answers_verbose_1_only_while_enabled(insight_on):
    assert isinstance(fit_summary_factory(verbose=1), FitSummary)
    assert fit_summary_factory(verbose=2) is None and fit_summary_factory(verbose=0) is None
    deepglass.config.set_insight(False)
    assert fit_summary_factory(verbose=1) is None


def test_the_fit_loop_does_not_import_insight():
    source = pathlib.Path(trainer.__file__).read_text()
    imported = [node.module if isinstance(node, ast.ImportFrom) else alias.name
                for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names]
    assert not [name for name in imported if name and "insight" in name]


def test_importing_deepglass_registers_the_summary_without_matplotlib():
    code = ("import sys, deepglass\n"
            "from deepglass.training import default_callbacks\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
            "assert [f.__module__ for f in default_callbacks.factories()] == ['deepglass.insight.summary']\n")
    subprocess.run([sys.executable, "-c", code], check=True)
