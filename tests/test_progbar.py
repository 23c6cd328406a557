"""Progbar and ProgbarLogger output, with a fake clock; the terminal display is compared with Keras's Progbar."""
import io
import os
import re
import sys
import types

import pytest

from deepglass.callbacks import CallbackList
from deepglass.training import progbar as progbar_module
from deepglass.training.progbar import Progbar, format_eta, format_time_per_unit, format_value

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BAR = "━" * 20


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: `clock.now += 0.006` is one 6 ms step."""
    state = types.SimpleNamespace(now=1000.0)
    monkeypatch.setattr(progbar_module, "_clock", lambda: state.now)
    return state


def use_terminal(monkeypatch):
    """Make `sys.stdout` a terminal; done in the test body, since pytest resets `sys.stdout` between phases."""
    stream = Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    return stream


def run_steps(bar, clock, steps, values=lambda step: [("loss", 0.5)], step_time=0.006, finalize_values=None):
    for step in range(1, steps + 1):
        clock.now += step_time
        last = step == steps and finalize_values is not None
        bar.update(step, finalize_values if last else values(step))


def visible_lines(text):
    """What a terminal shows: each `\\r` returns to the line start, escape codes are not shown."""
    return [ANSI.sub("", line.rsplit("\r", 1)[-1]).rstrip() for line in text.split("\n")]


def test_formatting_helpers():
    assert [format_eta(s) for s in (42.7, 125, 3725)] == ["42s", "2:05", "1:02:05"]
    assert [format_time_per_unit(s) for s in (2.4, 0, 0.0061, 8.5e-5)] == ["2s/step", "0s/step", "6ms/step",
                                                                          "85us/step"]
    assert format_time_per_unit(0.5, "sample") == "500ms/sample"
    assert [format_value(v) for v in (0.43671, 2.5e-4, -0.5, 0.0, "n/a")] == [
        "0.4367", "2.5000e-04", "-0.5000", "0.0000e+00", "n/a"]


def test_not_a_terminal_prints_only_the_final_line(capsys, clock):
    bar = Progbar(target=3)
    run_steps(bar, clock, 3)
    assert capsys.readouterr().out == f"3/3 {BAR} 0s 6ms/step - loss: 0.5000\n"


def test_verbose_2_prints_one_line(capsys, clock):
    bar = Progbar(target=422, verbose=2)
    run_steps(bar, clock, 422, step_time=0.25)
    assert capsys.readouterr().out == "422/422 - 106s - 250ms/step - loss: 0.5000\n"


def test_terminal_redraws_one_line_with_eta_then_elapsed_time(monkeypatch, clock):
    terminal = use_terminal(monkeypatch)
    bar = Progbar(target=10)
    run_steps(bar, clock, 10, step_time=1.0)
    out = terminal.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n") and out.count("\r") == 10
    assert "\x1b[1m" in out and "\x1b[32m" in out  # Keras's bold count and green bar
    frames = [ANSI.sub("", frame).rstrip("\n") for frame in out.split("\r")[1:]]
    assert frames[1] == " 2/10 ━━━━" + "━" * 16 + " 8s 1s/step - loss: 0.5000"  # ETA while running
    assert frames[-1] == "10/10 " + BAR + " 10s 1s/step - loss: 0.5000"  # elapsed when done


def test_terminal_redraws_at_most_every_interval(monkeypatch, clock):
    terminal = use_terminal(monkeypatch)
    bar = Progbar(target=1000, interval=0.1)
    run_steps(bar, clock, 1000, step_time=0.001)
    # first step, then every 100 steps of 1 ms, and the final line
    assert 10 <= terminal.getvalue().count("\r") <= 12


def test_terminal_pads_over_a_longer_previous_line(monkeypatch, clock):
    terminal = use_terminal(monkeypatch)
    bar = Progbar(target=3, stateful_metrics=["loss"])
    run_steps(bar, clock, 3, values=lambda step: [("loss", 12345.0 if step == 1 else 1.0)], step_time=0.2)
    frames = [ANSI.sub("", frame).rstrip("\n") for frame in terminal.getvalue().split("\r")[1:]]
    assert len(frames[1]) == len(frames[0]) and frames[1].endswith("loss: 1.0000    ")


def test_metrics_are_averaged_unless_stateful(monkeypatch, clock):
    terminal = use_terminal(monkeypatch)
    bar = Progbar(target=4, stateful_metrics=["acc"], interval=0)
    for step, (loss, acc) in enumerate([(1.0, 0.1), (3.0, 0.2)], start=1):
        clock.now += 0.006
        bar.update(step, [("loss", loss), ("acc", acc)])
    clock.now += 0.012
    bar.update(4, [("loss", 5.0), ("acc", 0.4)], finalize=False)  # covers two steps: weight 2
    lines = visible_lines(terminal.getvalue())
    assert lines[-1].endswith("- loss: 3.5000 - acc: 0.4000")  # (1 + 3 + 2 * 5) / 4
    bar.update(4, [("loss", 2.0)], finalize=True)  # the final values are shown as given
    assert visible_lines(terminal.getvalue())[-2].endswith("- loss: 2.0000 - acc: 0.4000")


def test_unknown_target_add_and_argument_check(capsys, clock):
    bar = Progbar(target=None)
    for _ in range(3):
        clock.now += 0.006
        bar.add(1, [("loss", 0.25)])
    bar.update(3, [("loss", 0.25)], finalize=True)
    assert capsys.readouterr().out == "      3/Unknown 0s 6ms/step - loss: 0.2500\n"
    with pytest.raises(ValueError, match="at most one"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_mapping_values_are_read_only_when_drawn(monkeypatch, clock):
    terminal = use_terminal(monkeypatch)
    class Counting(dict):
        reads = 0

        def __getitem__(self, key):
            Counting.reads += 1
            return super().__getitem__(key)

    bar = Progbar(target=1000, stateless_metrics=(), interval=0.1)
    run_steps(bar, clock, 1000, values=lambda step: Counting(loss=1.0, acc=0.5), step_time=0.001)
    draws = terminal.getvalue().count("\r")
    assert Counting.reads == 2 * draws and draws < 15


def test_encoding_fallback(monkeypatch, clock):
    class Ascii(io.StringIO):
        def write(self, text):
            text.encode("ascii")
            return super().write(text)

    stream = Ascii()
    monkeypatch.setattr(sys, "stdout", stream)
    bar = Progbar(target=2, width=4)
    run_steps(bar, clock, 2)
    assert stream.getvalue() == "2/2 ==== 0s 6ms/step - loss: 0.5000\n"


@pytest.fixture(scope="module")
def keras_progbar():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from keras.src.utils import progbar
    return progbar


@pytest.mark.parametrize("verbose", [1, 2])
def test_display_matches_keras(keras_progbar, monkeypatch, clock, verbose):
    monkeypatch.setattr(keras_progbar, "time", types.SimpleNamespace(time=lambda: clock.now))
    outputs = []
    for cls in (Progbar, keras_progbar.Progbar):
        stream = Terminal()
        monkeypatch.setattr(sys, "stdout", stream)
        clock.now = 1000.0
        bar = cls(target=422, verbose=verbose, interval=0.05)
        values = lambda step: [("loss", 1.0 / step), ("accuracy", 0.5 + step / 1000), ("tiny", 1e-4)]
        run_steps(bar, clock, 421, values=values, step_time=0.006)
        assert "ETA" not in stream.getvalue()
        clock.now += 0.006
        bar.update(422, [("loss", 0.4367), ("accuracy", 0.8712), ("tiny", 2.5e-4), ("val_loss", 0.1547)])
        outputs.append([line for line in visible_lines(stream.getvalue().replace("\b", "")) if line])
    ours, keras = outputs
    assert ours[-1] == keras[-1]
    if verbose == 1:
        assert ours[-1] == f"422/422 {BAR} 3s 6ms/step - loss: 0.4367 - accuracy: 0.8712 - tiny: 2.5000e-04 " \
                           "- val_loss: 0.1547"
    else:
        assert ours == keras == ["422/422 - 3s - 6ms/step - loss: 0.4367 - accuracy: 0.8712 - tiny: 2.5000e-04 "
                                 "- val_loss: 0.1547"]


def test_keras_running_line_matches(keras_progbar, monkeypatch, clock):
    monkeypatch.setattr(keras_progbar, "time", types.SimpleNamespace(time=lambda: clock.now))
    frames = []
    for cls in (Progbar, keras_progbar.Progbar):
        stream = Terminal()
        monkeypatch.setattr(sys, "stdout", stream)
        clock.now = 1000.0
        bar = cls(target=422, interval=0)
        run_steps(bar, clock, 12, values=lambda step: [("loss", 1.0 / step)], step_time=0.006)
        frames.append(visible_lines(stream.getvalue().replace("\b", ""))[-1])
    assert frames[0] == frames[1] == f" 12/422 {BAR} 2s 6ms/step - loss: 0.2586"


# ProgbarLogger through CallbackList ---------------------------------------------------------------------------

def drive_fit(cbs, epochs, steps, clock, val_steps=2):
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        for batch in range(steps):
            clock.now += 0.006
            cbs.on_train_batch_begin(batch)
            cbs.on_train_batch_end(batch, {"loss": 1.0, "accuracy": 0.5})
        cbs.on_test_begin()
        for batch in range(val_steps):
            cbs.on_test_batch_end(batch, {"loss": 0.5})
        cbs.on_test_end({"loss": 0.25})
        cbs.on_epoch_end(epoch, {"accuracy": 0.875, "loss": 0.4367, "val_accuracy": 0.956, "val_loss": 0.1547})
    cbs.on_train_end()


@pytest.mark.parametrize("verbose,line", [
    (1, f"2/2 {BAR} 0s 6ms/step - accuracy: 0.8750 - loss: 0.4367 - val_accuracy: 0.9560 - val_loss: 0.1547"),
    (2, "2/2 - 0s - 6ms/step - accuracy: 0.8750 - loss: 0.4367 - val_accuracy: 0.9560 - val_loss: 0.1547"),
])
def test_fit_prints_an_epoch_line_and_no_validation_bar(capsys, clock, verbose, line):
    cbs = CallbackList(add_progbar=True, verbose=verbose, epochs=2, steps=2)
    drive_fit(cbs, epochs=2, steps=2, clock=clock)
    assert capsys.readouterr().out == f"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n"


def test_fit_on_a_terminal_and_unknown_steps(monkeypatch, clock):
    terminal = use_terminal(monkeypatch)
    cbs = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=None)
    drive_fit(cbs, epochs=1, steps=3, clock=clock)
    lines = visible_lines(terminal.getvalue())
    assert lines == [f"3/3 {BAR} 0s 6ms/step - accuracy: 0.8750 - loss: 0.4367 - val_accuracy: 0.9560 "
                     "- val_loss: 0.1547", ""]
    assert "Unknown" in ANSI.sub("", terminal.getvalue())  # shown while the number of steps was unknown


def test_evaluate_and_predict_print_their_own_bar(capsys, clock):
    evaluate = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=2)
    evaluate.on_test_begin()
    for batch in range(2):
        clock.now += 0.006
        evaluate.on_test_batch_end(batch, {"loss": 0.5})
    evaluate.on_test_end({"loss": 0.25, "mae": 0.125})
    predict = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=2)
    predict.on_predict_begin()
    for batch in range(2):
        clock.now += 0.006
        predict.on_predict_batch_end(batch, {"outputs": [1, 2]})
    predict.on_predict_end()
    assert capsys.readouterr().out == f"2/2 {BAR} 0s 6ms/step - loss: 0.2500 - mae: 0.1250\n2/2 {BAR} 0s 6ms/step\n"
