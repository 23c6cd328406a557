"""The always-on check: a loss that becomes NaN or infinite stops fit with the epoch and batch named, reading
nothing from the device beyond what the logs read anyway."""
import math
import re

import numpy as np
import pytest

import deepglass
from deepglass import layers
from deepglass.callbacks import LambdaCallback


def diverging_fit(epochs=3, callbacks=()):
    """SGD with learning rate 1e3 on a linear regression: the loss overflows to inf, then NaN, within an epoch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 4)).astype("float32")
    y = x @ np.ones((4, 1), "float32")
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=deepglass.optimizers.SGD(1e3), loss="mse")
    step_losses = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: step_losses.append(float(model._step_loss)))
    with pytest.warns(UserWarning, match="The loss became") as caught:
        history = model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0,
                            callbacks=[record, *callbacks])
    message = str(caught[0].message)
    return history, step_losses, message


def named_batch(message):
    return int(re.search(r"epoch 1, batch (\d+)", message).group(1))


def test_detected_at_the_epoch_end_names_the_first_bad_batch():
    history, step_losses, message = diverging_fit()
    first_bad = next(i for i, loss in enumerate(step_losses) if not math.isfinite(loss))
    assert named_batch(message) == first_bad
    assert len(history.history["loss"]) == 1  # stopped after the first epoch instead of running three


def test_a_callback_reading_the_logs_stops_training_at_that_batch():
    read = LambdaCallback(on_train_batch_end=lambda batch, logs: logs["loss"])
    history, step_losses, message = diverging_fit(callbacks=[read])
    first_bad = named_batch(message)
    assert math.isfinite(step_losses[first_bad - 1]) and not math.isfinite(step_losses[first_bad])
    assert len(step_losses) == first_bad + 1  # no batch after the bad one was trained


def test_terminate_on_nan_takes_over_the_report(recwarn, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=deepglass.optimizers.SGD(1e3), loss="mse")
    model.fit(x, x @ np.ones((4, 1), "float32"), batch_size=8, epochs=2, verbose=0,
              callbacks=[deepglass.callbacks.TerminateOnNaN()])
    assert "Invalid loss" in capsys.readouterr().out
    assert not [w for w in recwarn if "The loss became" in str(w.message)]


def test_a_finite_run_says_nothing(recwarn):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x @ np.ones((4, 1), "float32"), epochs=2, verbose=0)
    assert not [w for w in recwarn if "The loss became" in str(w.message)]
