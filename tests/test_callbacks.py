"""Callbacks driven by a fake model and hand-built logs; EarlyStopping, ReduceLROnPlateau and CSVLogger are also
compared with Keras's own callbacks on the same logs."""
import collections.abc
import math
import os

import numpy as np
import pytest

from deepglass.callbacks.callback import HOOKS
from deepglass.callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback,
                                 LearningRateScheduler, ProgbarLogger, ReduceLROnPlateau, TerminateOnNaN)


class FakeOptimizer:
    def __init__(self, learning_rate=1.0):
        self.learning_rate = learning_rate
        self.iterations = 0


class FakeModel:
    """What callbacks may touch: stop_training, optimizer.learning_rate, get/set_weights."""

    def __init__(self, learning_rate=1.0):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]


class CountingLogs(collections.abc.Mapping):
    """Batch logs whose values count how often they are read, as a lazy device-backed mapping would sync."""

    def __init__(self, values):
        self._values = values
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)


def fit(callbacks, epoch_logs, model=None, batch_logs=None, steps=2, verbose=0):
    """Drive the hooks as fit does; the weights after epoch `e` are `[full(2, e)]`. Returns (model, epochs run)."""
    model = model or FakeModel()
    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model, verbose=verbose,
                       epochs=len(epoch_logs), steps=steps)
    cbs.on_train_begin()
    ran = 0
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for batch in range(steps):
            if cbs.needs_batch_hooks("train"):
                cbs.on_train_batch_begin(batch)
                cbs.on_train_batch_end(batch, batch_logs(epoch, batch) if batch_logs else {"loss": 1.0})
            if model.stop_training:
                break
        model.weights = [np.full(2, float(epoch))]
        cbs.on_epoch_end(epoch, dict(logs))
        ran += 1
        if model.stop_training:
            break
    cbs.on_train_end(dict(epoch_logs[ran - 1]))
    return model, ran


@pytest.fixture(scope="module")
def kcallbacks():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.callbacks


def keras_run(callback, epoch_logs, model):
    """Keras's callback on the same logs: returns the epochs run."""
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        callback.on_epoch_begin(epoch)
        model.weights = [np.full(2, float(epoch))]
        callback.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch + 1


def val_losses(*values, name="val_loss"):
    return [{"loss": 1.0, name: v} for v in values]


# EarlyStopping -----------------------------------------------------------------------------------------------

def test_early_stopping_stops_after_patience_and_restores_best_weights():
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    model, ran = fit([stopper], val_losses(1.0, 0.8, 0.9, 0.85, 0.7))
    # best at epoch 1 (0.8); epochs 2 and 3 do not improve: stop at epoch 3 with epoch 1's weights.
    assert ran == 4 and stopper.stopped_epoch == 3 and stopper.best_epoch == 1 and stopper.best == 0.8
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])


def test_early_stopping_min_delta():
    _, ran = fit([EarlyStopping(min_delta=0.1, patience=1)], val_losses(1.0, 0.95, 0.9, 0.85))
    assert ran == 2  # 0.95 is not 0.1 below 1.0
    _, ran = fit([EarlyStopping(min_delta=0.01, patience=1)], val_losses(1.0, 0.95, 0.9, 0.85))
    assert ran == 4


def test_early_stopping_baseline_keeps_counting_until_beaten():
    losses = [{"loss": v} for v in (1.0, 1.1, 1.2, 1.3)]
    _, ran = fit([EarlyStopping(monitor="loss", patience=2, baseline=0.5)], losses)
    assert ran == 2  # epoch 0 does not beat the baseline: the wait is not reset
    _, ran = fit([EarlyStopping(monitor="loss", patience=2)], losses)
    assert ran == 3


def test_early_stopping_start_from_epoch():
    _, ran = fit([EarlyStopping(patience=0, start_from_epoch=2)], val_losses(1, 2, 3, 4, 5))
    assert ran == 4  # epochs 0 and 1 are not watched; epoch 3 is worse than epoch 2
    _, ran = fit([EarlyStopping(patience=0)], val_losses(1, 2, 3, 4, 5))
    assert ran == 2


def test_early_stopping_auto_mode_maximises_accuracy():
    stopper = EarlyStopping(monitor="val_accuracy", patience=0)
    _, ran = fit([stopper], val_losses(0.5, 0.6, 0.55, 0.7, name="val_accuracy"))
    assert ran == 3 and stopper.best == 0.6


def test_auto_mode_uses_the_models_metric_direction_and_rejects_unknown_names():
    class Score:
        name, _direction = "score", "up"

    model = FakeModel()
    model.metrics = [type("Container", (), {"metrics": [Score()], "name": "compile_metrics"})()]
    _, ran = fit([EarlyStopping(monitor="val_score")], val_losses(1, 2, 3, 1, name="val_score"), model=model)
    assert ran == 4
    with pytest.raises(ValueError, match="mode='max'"):
        fit([EarlyStopping(monitor="val_mystery")], val_losses(1, 2, name="val_mystery"))


def test_missing_monitor_warns_and_unknown_mode_falls_back():
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics are: loss"):
        _, ran = fit([EarlyStopping()], [{"loss": 1.0}] * 3)
    assert ran == 3
    with pytest.warns(UserWarning, match="mode 'lowest' is unknown"):
        assert EarlyStopping(mode="lowest").mode == "auto"


def test_early_stopping_verbose_messages(capsys):
    fit([EarlyStopping(patience=1, verbose=1, restore_best_weights=True)], val_losses(1.0, 0.5, 0.6, 0.7))
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: early stopping", "Restoring model weights from the end of the best epoch: 2."]


def _sequences():
    """Deterministic noisy curves of binary fractions (exact in float32 and float64, as Keras compares)."""
    rng = np.random.default_rng(7)
    for _ in range(6):
        steps = rng.integers(-3, 4, size=12)
        yield list(np.cumsum(steps) / 64.0 + 2.0)


@pytest.mark.parametrize("kwargs", [
    dict(patience=0), dict(patience=2), dict(patience=3, min_delta=2 / 64), dict(patience=1, baseline=1.5),
    dict(patience=2, baseline=2.0), dict(patience=2, start_from_epoch=3), dict(patience=2, restore_best_weights=True),
    dict(patience=2, mode="max", restore_best_weights=True), dict(patience=1, min_delta=1 / 64, mode="max"),
])
def test_early_stopping_matches_keras(kcallbacks, kwargs):
    for values in _sequences():
        logs = val_losses(*values)
        ours = EarlyStopping(**kwargs)
        model, ran = fit([ours], logs)
        theirs = kcallbacks.EarlyStopping(**kwargs)
        keras_model = FakeModel()
        keras_ran = keras_run(theirs, logs, keras_model)
        assert (ran, ours.stopped_epoch, ours.best_epoch) == (keras_ran, theirs.stopped_epoch, theirs.best_epoch)
        np.testing.assert_array_equal(model.weights[0], keras_model.weights[0])


# ReduceLROnPlateau -------------------------------------------------------------------------------------------

def lr_trace(callback, epoch_logs, model):
    """The learning rate after each epoch, and the logs each epoch end left behind."""
    cbs = CallbackList([callback], add_history=True, model=model)
    cbs.on_train_begin()
    rates = []
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_end(epoch, dict(logs))
        rates.append(model.optimizer.learning_rate)
    return rates, cbs._history.history


def test_reduce_lr_on_plateau_with_cooldown_and_min_lr():
    model = FakeModel(learning_rate=1.0)
    rates, history = lr_trace(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.2),
                              val_losses(*[1.0] * 8), model)
    # reduce at epoch 1; cooldown covers epoch 2; reduce at 3; cooldown 4; reduce at 5 (clipped to min_lr).
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]
    assert history["learning_rate"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]  # the rate the epoch ran with


def test_reduce_lr_on_plateau_resets_wait_on_improvement(capsys):
    model = FakeModel(learning_rate=0.1)
    rates, _ = lr_trace(ReduceLROnPlateau(monitor="loss", patience=2, verbose=1),
                        [{"loss": v} for v in (1.0, 1.0, 0.5, 0.5, 0.5)], model)
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.01])
    assert capsys.readouterr().out == f"\nEpoch 5: ReduceLROnPlateau reducing learning rate to {0.1 * 0.1}.\n"


def test_reduce_lr_on_plateau_arguments():
    with pytest.raises(ValueError, match="factor=1.5"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.warns(UserWarning, match="use `min_delta`"):
        assert ReduceLROnPlateau(epsilon=0.5).min_delta == 0.5
    with pytest.warns(UserWarning, match="Learning rate reduction is conditioned on metric `val_loss`"):
        lr_trace(ReduceLROnPlateau(), [{"loss": 1.0}], FakeModel())


@pytest.mark.parametrize("kwargs", [
    dict(factor=0.5, patience=1, cooldown=2, min_lr=0.125), dict(factor=0.5, patience=2, min_delta=2 / 64),
    dict(factor=0.25, patience=0, cooldown=1, mode="max"), dict(factor=0.5, patience=3, cooldown=0, min_lr=0.5),
])
def test_reduce_lr_on_plateau_matches_keras(kcallbacks, kwargs):
    for values in _sequences():
        logs = val_losses(*values)
        ours, _ = lr_trace(ReduceLROnPlateau(**kwargs), logs, FakeModel(learning_rate=1.0))
        keras_model = FakeModel(learning_rate=1.0)
        theirs = kcallbacks.ReduceLROnPlateau(**kwargs)
        theirs.set_model(keras_model)
        theirs.on_train_begin()
        keras_rates = []
        for epoch, epoch_logs in enumerate(logs):
            theirs.on_epoch_end(epoch, dict(epoch_logs))
            keras_rates.append(keras_model.optimizer.learning_rate)
        assert ours == keras_rates


# LearningRateScheduler ---------------------------------------------------------------------------------------

def test_learning_rate_scheduler_epoch_only_and_epoch_lr_signatures():
    model = FakeModel(learning_rate=0.8)
    seen = []
    fit([LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)),
         LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))],
        [{"loss": 1.0}] * 3, model=model)
    assert seen == [0.1, 0.05, 0.1 / 3]

    def halve(epoch, lr):
        return lr * 0.5

    model = FakeModel(learning_rate=0.8)
    fit([LearningRateScheduler(halve)], [{"loss": 1.0}] * 3, model=model)
    assert model.optimizer.learning_rate == 0.1
    assert model.history.history["learning_rate"] == [0.4, 0.2, 0.1]


def test_learning_rate_scheduler_output_checks(capsys):
    model = FakeModel()
    fit([LearningRateScheduler(lambda epoch, lr: np.float32(0.5) * np.ones(()), verbose=1)], [{}], model=model)
    assert model.optimizer.learning_rate == 0.5 and type(model.optimizer.learning_rate) is float
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.5." in capsys.readouterr().out
    with pytest.raises(ValueError, match="should be a float. Received: 'fast'"):
        fit([LearningRateScheduler(lambda epoch: "fast")], [{}])


def test_learning_rate_scheduler_does_not_hide_errors_in_the_schedule():
    def broken(epoch, lr):
        return lr + "x"

    with pytest.raises(TypeError, match="unsupported operand"):
        fit([LearningRateScheduler(broken)], [{}])


# History, CSVLogger, LambdaCallback, TerminateOnNaN ----------------------------------------------------------

def test_history_records_epoch_logs_and_becomes_model_history():
    logs = [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}]
    model, _ = fit([], logs)
    history = model.history
    assert isinstance(history, History)
    assert history.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5]} and history.epoch == [0, 1]
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 2}


def test_csv_logger_contents_and_append(tmp_path):
    path = tmp_path / "log.csv"
    fit([CSVLogger(path)], [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5}])
    expected = ["epoch,accuracy,loss,val_accuracy,val_loss", "0,0.25,0.5,NA,NA", "1,0.5,0.25,NA,NA"]
    assert path.read_text().splitlines() == expected
    fit([CSVLogger(path, append=True)], [{"loss": 0.125, "accuracy": 0.75}])
    assert path.read_text().splitlines() == expected + ["0,0.75,0.125,NA,NA"]
    fit([CSVLogger(path, separator=";")], [{"loss": 1.0, "val_loss": 2.0}])
    assert path.read_text().splitlines() == ["epoch;loss;val_loss", "0;1.0;2.0"]


def test_csv_logger_flushes_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(str(path))
    cbs = CallbackList([logger], model=FakeModel())
    cbs.on_train_begin()
    cbs.on_epoch_end(0, {"loss": 1.0})
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.0,NA"]
    cbs.on_train_end()
    assert logger.csv_file.closed


def test_csv_logger_matches_keras_bytes(kcallbacks, tmp_path):
    logs = [{"loss": 0.5, "val_loss": 0.75, "acc": 0.1}, {"loss": 0.4, "val_loss": 0.7, "acc": 0.2},
            {"loss": 0.3, "val_loss": 0.72, "acc": "n/a", "per_class": np.array([0.5, 0.25])}]
    for append in (False, True):
        for cls, name in ((CSVLogger, "ours.csv"), (kcallbacks.CSVLogger, "keras.csv")):
            callback = cls(str(tmp_path / name), separator=",", append=append)
            keras_run(callback, logs, FakeModel())
        assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "keras.csv").read_bytes()


def test_lambda_callback_hooks_and_unknown_hook_names():
    calls = []
    cb = LambdaCallback(on_train_begin=lambda logs: calls.append("begin"),
                        on_epoch_end=lambda epoch, logs: calls.append(("epoch", epoch, logs["loss"])),
                        on_train_batch_end=lambda batch, logs: calls.append(("batch", batch)),
                        on_test_end=lambda logs: calls.append("test_end"))
    cbs = CallbackList([cb], model=FakeModel())
    assert cbs.needs_batch_hooks("train") and not cbs.needs_batch_hooks("test")
    cbs.on_train_begin()
    cbs.on_train_batch_end(0, {"loss": 2.0})
    cbs.on_epoch_end(0, {"loss": 1.0})
    cbs.on_test_end()
    assert calls == ["begin", ("batch", 0), ("epoch", 0, 1.0), "test_end"]
    with pytest.raises(ValueError, match="Did you mean 'on_epoch_end'"):
        LambdaCallback(on_epoch_ned=print)


def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    def batch_logs(epoch, batch):
        return {"loss": math.nan if (epoch, batch) >= (1, 2) else 1.0}

    model, ran = fit([TerminateOnNaN(restore_good_weights=False)], [{"loss": 1.0}] * 4, batch_logs=batch_logs,
                     steps=4)
    assert model.stop_training and ran == 2
    assert capsys.readouterr().out == "\nEpoch 2, batch 2: Invalid loss (nan), terminating training.\n"
    with pytest.raises(RuntimeError, match="at epoch 1, batch 0. Loss value: inf"):
        fit([TerminateOnNaN(raise_error=True, restore_good_weights=False)], [{"loss": 1.0}],
            batch_logs=lambda e, b: {"loss": math.inf})


# CallbackList ------------------------------------------------------------------------------------------------

class Recorder(Callback):
    """Overrides every hook and records (name, hook[, epoch or batch])."""

    def __init__(self, name, calls):
        super().__init__()
        self.name, self.calls = name, calls


def _recording(hook):
    def method(self, *args, **kwargs):
        self.calls.append((self.name, hook) + (args[:1] if "batch" in hook or "epoch" in hook else ()))
    return method


for _hook in HOOKS:
    if _hook not in ("on_batch_begin", "on_batch_end"):
        setattr(Recorder, _hook, _recording(_hook))


def test_order_of_calls_and_default_callbacks_come_last():
    calls = []
    model = FakeModel()
    cbs = CallbackList([Recorder("a", calls), [Recorder("b", calls)]], add_history=True, add_progbar=True,
                       model=model, verbose=0, epochs=1, steps=1)
    assert [type(cb).__name__ for cb in cbs.callbacks] == ["Recorder", "Recorder", "History", "ProgbarLogger"]
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {})
    cbs.on_test_begin()
    cbs.on_test_batch_begin(0)
    cbs.on_test_batch_end(0, {})
    cbs.on_test_end({"loss": 1.0})
    cbs.on_epoch_end(0, {"loss": 1.0})
    cbs.on_train_end()
    hooks = ["on_train_begin", ("on_epoch_begin", 0), ("on_train_batch_begin", 0), ("on_train_batch_end", 0),
             "on_test_begin", ("on_test_batch_begin", 0), ("on_test_batch_end", 0), "on_test_end",
             ("on_epoch_end", 0), "on_train_end"]
    expected = []
    for hook in hooks:
        hook = hook if isinstance(hook, tuple) else (hook,)
        expected += [("a",) + hook, ("b",) + hook]
    assert calls == expected
    assert model.history is cbs._history
    given = [ProgbarLogger(), History()]
    assert CallbackList(given, add_history=True, add_progbar=True).callbacks == given  # no second copies


def test_needs_batch_hooks():
    class OnBatchEnd(Callback):  # Keras 2's alias counts as a train batch hook
        def on_batch_end(self, batch, logs=None):
            pass

    plain = CallbackList([History(), EarlyStopping(), ReduceLROnPlateau(), CSVLogger(os.devnull),
                          LearningRateScheduler(lambda e: 0.1)], add_history=True)
    assert not any(plain.needs_batch_hooks(kind) for kind in ("train", "test", "predict"))
    progbar = CallbackList(add_progbar=True)
    assert all(progbar.needs_batch_hooks(kind) for kind in ("train", "test", "predict"))
    assert CallbackList([TerminateOnNaN()]).needs_batch_hooks("train")
    alias = CallbackList([OnBatchEnd()])
    assert alias.needs_batch_hooks("train") and not alias.needs_batch_hooks("predict")
    late = CallbackList([History()])
    late.append(OnBatchEnd())
    assert late.needs_batch_hooks("train")
    with pytest.raises(ValueError, match="Did you mean 'train'"):
        plain.needs_batch_hooks("trian")


def test_hooks_reach_only_callbacks_that_override_them(monkeypatch):
    base_calls = []
    monkeypatch.setattr(Callback, "on_test_batch_end", lambda self, batch, logs=None: base_calls.append(batch))
    monkeypatch.setattr(Callback, "on_epoch_end", lambda self, epoch, logs=None: base_calls.append(epoch))
    seen = []

    class Overrider(Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

    cbs = CallbackList([History(), Overrider(), EarlyStopping(monitor="loss")], model=FakeModel())
    cbs.on_test_batch_end(3, {})
    cbs.on_epoch_end(0, {"loss": 1.0})
    assert seen == [3] and base_calls == []


def test_lazy_batch_logs_are_not_read(capsys):
    logs = CountingLogs({"loss": 1.0, "accuracy": 0.5})
    callbacks = [History(), EarlyStopping(monitor="loss", patience=5), ReduceLROnPlateau(monitor="loss"),
                 LearningRateScheduler(lambda e, lr: lr), LambdaCallback(on_epoch_end=lambda e, l: None)]
    for verbose in (0, 1, 2):  # the progress bar on a non-terminal reads only epoch logs
        fit(callbacks, [{"loss": 1.0}] * 3, batch_logs=lambda e, b: logs, steps=50, verbose=verbose)
    assert logs.reads == 0
    fit([TerminateOnNaN(restore_good_weights=False)], [{"loss": 1.0}] * 2, batch_logs=lambda e, b: logs, steps=5)
    assert logs.reads == 10  # this one callback reads the loss at every step
    assert "Epoch 3/3" in capsys.readouterr().out


def test_callback_list_copies_epoch_logs_and_rejects_non_callbacks():
    epoch_logs = {"loss": 1.0}
    cbs = CallbackList([ReduceLROnPlateau(monitor="loss")], add_history=True, model=FakeModel())
    cbs.on_train_begin()
    cbs.on_epoch_end(0, epoch_logs)
    assert epoch_logs == {"loss": 1.0} and cbs._history.history["learning_rate"] == [1.0]
    with pytest.raises(TypeError, match="received: 'stop' of type str"):
        CallbackList(["stop"])


def test_set_model_sees_through_distributed_data_parallel():
    import torch
    from torch.nn.parallel import DistributedDataParallel

    class Wrapped(DistributedDataParallel):  # skips the process group a real one needs
        def __init__(self, module):
            torch.nn.Module.__init__(self)
            self.module = module

    inner = FakeModel()
    callback = Callback()
    callback.set_model(Wrapped(inner))
    assert callback.model is inner
