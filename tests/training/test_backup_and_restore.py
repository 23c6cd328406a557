"""BackupAndRestore: resuming from a DataLoader or a generator, refusing another model's backup, the arguments.
A run killed at any batch or in the middle of a backup, and damaged backups, are in tests/hardening/test_faults.py."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers
from deepglass.callbacks import BackupAndRestore, Callback


def make_model():
    deepglass.config.set_random_seed(3)
    model = deepglass.Sequential([deepglass.Input((6,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                                  layers.Dense(16, activation="relu"), layers.Dropout(0.2, seed=5), layers.Dense(3)])
    model.compile(optimizer=deepglass.optimizers.Adam(deepglass.optimizers.schedules.ExponentialDecay(0.01, 5, 0.7)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((100, 6)).astype("float32"), rng.integers(0, 3, 100)


class Interrupt(Callback):
    """Raises after `after` training batches, as a crash would."""

    def __init__(self, after):
        super().__init__()
        self.after, self.seen = after, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.after:
            raise KeyboardInterrupt


def fit(model, callbacks=(), seed=11, **kwargs):
    x, y = data()
    deepglass.config.set_random_seed(seed)
    return model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=list(callbacks), **kwargs)


def test_resume_with_a_shuffling_dataloader_mid_epoch(tmp_path):
    x, y = data()
    loader = lambda: torch.utils.data.DataLoader(  # noqa: E731
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16, shuffle=True)
    expected = make_model()
    deepglass.config.set_random_seed(11)
    expected.fit(loader(), epochs=2, verbose=0)
    interrupted = make_model()
    deepglass.config.set_random_seed(11)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(loader(), epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path, 2), Interrupt(9)])
    resumed = make_model()
    resumed.fit(loader(), epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path, 2)])
    for mine, theirs in zip(resumed.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_resume_after_a_callback_unfroze_a_layer_trains_as_without_the_interruption(tmp_path, recwarn):
    class Unfreeze(Callback):  # fine-tuning from the second epoch on
        def on_epoch_begin(self, epoch, logs=None):
            if epoch >= 1:
                self.model.layers[0].trainable = True

    def frozen_base():
        model = make_model()
        model.layers[0].trainable = False
        return model
    expected = frozen_base()
    fit(expected, [Unfreeze()])
    interrupted = frozen_base()
    with pytest.raises(KeyboardInterrupt):
        fit(interrupted, [BackupAndRestore(tmp_path, 2), Unfreeze(), Interrupt(11)])  # in the second epoch
    resumed = frozen_base()  # its optimizer is built without the base's weights, which the backup's covers
    fit(resumed, [BackupAndRestore(tmp_path, 2), Unfreeze()])
    for mine, theirs in zip(resumed.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_a_generator_resumes_at_the_start_of_the_interrupted_epoch(tmp_path):
    x, y = data()

    def batches():
        while True:
            for start in range(0, 96, 16):
                yield x[start:start + 16], y[start:start + 16]

    with pytest.raises(KeyboardInterrupt):
        make_model().fit(batches(), steps_per_epoch=6, epochs=2, verbose=0,
                         callbacks=[BackupAndRestore(tmp_path, 2), Interrupt(9)])
    with pytest.warns(UserWarning, match="Resuming epoch 2 from its start"):
        history = make_model().fit(batches(), steps_per_epoch=6, epochs=2, verbose=0,
                                   callbacks=[BackupAndRestore(tmp_path, 2)])
    assert len(history.history["loss"]) == 1


def test_a_backup_of_another_model_is_refused_before_anything_changes(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), [BackupAndRestore(tmp_path, 2), Interrupt(3)])
    other = deepglass.Sequential([deepglass.Input((6,)), layers.Dense(32), layers.Dense(3)])
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = other.get_weights()
    with pytest.raises(ValueError, match="backup of another model|with shape"):
        fit(other, [BackupAndRestore(tmp_path, 2)])
    for mine, theirs in zip(other.get_weights(), before):
        np.testing.assert_array_equal(mine, theirs)


def test_the_backup_opens_without_running_code(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), [BackupAndRestore(tmp_path, 2), Interrupt(3)])
    state = torch.load(tmp_path / "latest.backup", weights_only=True)  # refuses anything but plain data
    assert (state["epoch"], state["step"]) == (0, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("x", save_freq=0)
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")


def test_terminate_on_nan_puts_back_the_weights_of_the_last_finite_loss(capsys):
    """SGD with learning rate 1e3 on a linear regression diverges to inf within a few steps."""
    class Record(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.history = getattr(self, "history", []) + [self.model.get_weights()]

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4)).astype("float32")
    y = x @ np.ones((4, 1), "float32")
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=deepglass.optimizers.SGD(1e3), loss="mse")
    record = Record()
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
              callbacks=[record, deepglass.callbacks.TerminateOnNaN()])
    message = capsys.readouterr().out
    bad_step = int(message.split("batch ")[1].split(":")[0])
    assert "weights of the last step with a finite loss were put back" in message
    assert message.lstrip().startswith("Epoch 1,") and bad_step >= 1 and model.stop_training
    # the weights the last finite-loss step started from, which are finite
    for mine, theirs in zip(model.get_weights(), record.history[bad_step - 1], strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert all(np.isfinite(w).all() for w in model.get_weights())
