"""ModelCheckpoint and TensorBoard callbacks on small fits."""
import os

import numpy as np
import pytest

import deepglass as keras
from deepglass.callbacks import Callback, ModelCheckpoint, TensorBoard


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ rng.normal(size=(4, 1))).astype("float32")


def _model(lr=0.05):
    keras.config.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


class _Recorder(Callback):
    """Predictions on `x` and the logs at each epoch end (runs after the checkpoint in the callback list)."""

    def __init__(self, x):
        super().__init__()
        self.x, self.predictions, self.logs = x, [], []

    def on_epoch_end(self, epoch, logs=None):
        self.predictions.append(self.model.predict(self.x, verbose=0))
        self.logs.append(dict(logs))


def test_checkpoint_every_epoch_with_template_matches_predictions(tmp_path):
    x, y = _data()
    model = _model()
    recorder = _Recorder(x)
    template = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
              callbacks=[ModelCheckpoint(template), recorder])
    expected = [f"ckpt-{epoch + 1:02d}-{logs['val_loss']:.2f}.keras" for epoch, logs in enumerate(recorder.logs)]
    assert sorted(os.listdir(tmp_path)) == sorted(expected)
    for name, prediction in zip(expected, recorder.predictions):
        restored = keras.saving.load_model(tmp_path / name)
        np.testing.assert_allclose(restored.predict(x, verbose=0), prediction, rtol=1e-5, atol=1e-6)


def test_save_best_only_writes_only_improvements(tmp_path):
    x, y = _data()
    model = _model(lr=0.3)  # a large step so that the loss both falls and rises
    recorder = _Recorder(x)
    path = tmp_path / "best.weights.h5"
    writes = []

    class Watch(Callback):
        def on_epoch_end(self, epoch, logs=None):
            writes.append(os.stat(path).st_mtime_ns if path.exists() else None)

    model.fit(x, y, epochs=6, batch_size=8, verbose=0,
              callbacks=[ModelCheckpoint(path, monitor="loss", save_best_only=True, save_weights_only=True),
                         recorder, Watch()])
    losses = [logs["loss"] for logs in recorder.logs]
    improved = [loss < min(losses[:i], default=np.inf) for i, loss in enumerate(losses)]
    changed = [writes[0] is not None] + [a != b for a, b in zip(writes, writes[1:])]
    assert changed == improved and not all(improved)
    best = int(np.argmin(losses))
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), recorder.predictions[best], rtol=1e-5, atol=1e-6)


def test_initial_value_threshold_must_be_beaten(tmp_path):
    x, y = _data()
    path = tmp_path / "m.keras"
    _model().fit(x, y, epochs=2, batch_size=8, verbose=0,
                 callbacks=[ModelCheckpoint(path, monitor="loss", save_best_only=True, initial_value_threshold=0.0)])
    assert not path.exists()  # no mse is below 0


def test_save_freq_in_batches(tmp_path):
    x, y = _data()  # 4 batches of 8 per epoch, 2 epochs: saves after global batches 3 and 6
    model = _model()
    seen = {}

    class Snapshot(Callback):
        count = 0

        def on_train_batch_end(self, batch, logs=None):
            Snapshot.count += 1
            seen[Snapshot.count] = self.model.predict(x, verbose=0)

    template = str(tmp_path / "e{epoch}-b{batch}.keras")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False,
              callbacks=[ModelCheckpoint(template, save_freq=3), Snapshot()])
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.keras", "e2-b2.keras"]
    for name, step in (("e1-b3.keras", 3), ("e2-b2.keras", 6)):
        restored = keras.saving.load_model(tmp_path / name)
        np.testing.assert_allclose(restored.predict(x, verbose=0), seen[step], rtol=1e-5, atol=1e-6)


def test_epoch_checkpoint_does_not_take_the_batch_hook(tmp_path):
    from deepglass.callbacks.callback import overrides
    assert not overrides(ModelCheckpoint(str(tmp_path / "m.keras")), "on_train_batch_end")
    assert overrides(ModelCheckpoint(str(tmp_path / "m.keras"), save_freq=2), "on_train_batch_end")
    pytest.importorskip("tensorboard")
    assert not overrides(TensorBoard(str(tmp_path / "logs")), "on_train_batch_end")
    assert overrides(TensorBoard(str(tmp_path / "logs"), update_freq="batch"), "on_train_batch_end")


def test_filepath_endings_and_save_freq_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        ModelCheckpoint(str(tmp_path / "m.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        ModelCheckpoint(str(tmp_path / "m.safetensors"))
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(str(tmp_path / "m.keras"), save_freq="batch")
    with pytest.raises(KeyError, match="nope"):
        ModelCheckpoint(str(tmp_path / "{nope}.keras"), monitor="loss")._get_file_path(0, None, {"loss": 1.0})


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    accumulator = EventAccumulator(str(folder), size_guidance={"histograms": 0, "scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_epoch_scalars_and_learning_rate(tmp_path):
    pytest.importorskip("tensorboard")
    x, y = _data()
    model = _model(lr=0.05)
    recorder = _Recorder(x)
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[TensorBoard(tmp_path, write_graph=True), recorder])
    train, validation = _scalars(tmp_path / "train"), _scalars(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_learning_rate"}
    assert set(validation.Tags()["scalars"]) == {"epoch_loss"}
    for accumulator, key in ((train, "loss"), (validation, "val_loss")):
        events = accumulator.Scalars("epoch_loss")
        assert [event.step for event in events] == [0, 1, 2]
        np.testing.assert_allclose([event.value for event in events], history.history[key], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in train.Scalars("epoch_learning_rate")], [0.05] * 3, rtol=1e-6)
    assert train.Graph() is not None


def test_tensorboard_batch_scalars_every_n_batches(tmp_path):
    pytest.importorskip("tensorboard")
    x, y = _data()
    losses = []

    class Losses(Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(logs["loss"])

    _model().fit(x, y, epochs=2, batch_size=8, verbose=0,
                 callbacks=[TensorBoard(tmp_path, update_freq=3, write_graph=False), Losses()])
    events = _scalars(tmp_path / "train").Scalars("batch_loss")
    assert [event.step for event in events] == [3, 6]
    np.testing.assert_allclose([event.value for event in events], [losses[2], losses[5]], rtol=1e-6)


def test_tensorboard_histograms_and_images(tmp_path):
    pytest.importorskip("tensorboard")
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=3, batch_size=8, verbose=0,
              callbacks=[TensorBoard(tmp_path, histogram_freq=2, write_graph=False, write_images=True)])
    accumulator = _scalars(tmp_path / "train")
    histograms = accumulator.Tags()["histograms"]
    dense = model.layers[-1].name
    assert {f"{layer.name}/{weight}/{kind}" for layer in model.layers for weight in ("kernel", "bias")
            for kind in ("histogram", "gradient")} == set(histograms)
    events = accumulator.Histograms(f"{dense}/kernel/histogram")
    assert [event.step for event in events] == [0, 2]
    kernel = model.layers[-1].get_weights()[0]
    assert events[-1].histogram_value.num == kernel.size
    np.testing.assert_allclose([events[-1].histogram_value.min, events[-1].histogram_value.max],
                               [kernel.min(), kernel.max()], rtol=1e-6)
    gradient = accumulator.Histograms(f"{dense}/kernel/gradient")[-1].histogram_value
    assert gradient.num == kernel.size and gradient.max > gradient.min  # a real gradient, not zeros
    # As Keras draws them: a kernel (in, out) wide, a vector as one row, and nothing for a single number.
    first = model.layers[0].name
    assert set(accumulator.Tags()["images"]) == {f"{first}/kernel/image", f"{first}/bias/image",
                                                 f"{dense}/kernel/image"}
    sizes = {tag: (accumulator.Images(tag)[-1].height, accumulator.Images(tag)[-1].width)
             for tag in accumulator.Tags()["images"]}
    assert sizes == {f"{first}/kernel/image": (3, 4), f"{first}/bias/image": (1, 3), f"{dense}/kernel/image": (1, 3)}


def test_tensorboard_missing_package_says_how_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "torch.utils.tensorboard":
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoard("logs")


def test_tensorboard_warns_when_the_graph_cannot_be_traced(tmp_path):
    pytest.importorskip("tensorboard")

    class Subclassed(keras.Model):  # no symbolic inputs: nothing to trace the graph with
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    x, y = _data()
    model = Subclassed()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="could not write the model's graph"):
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[TensorBoard(tmp_path)])
    loss = _scalars(tmp_path / "train").Scalars("epoch_loss")
    np.testing.assert_allclose([event.value for event in loss], history.history["loss"], rtol=1e-6)


def test_tensorboard_steps_per_second_and_invalid_update_freq(tmp_path):
    pytest.importorskip("tensorboard")
    x, y = _data()
    _model().fit(x, y, epochs=2, batch_size=8, verbose=0,
                 callbacks=[TensorBoard(tmp_path, write_graph=False, write_steps_per_second=True)])
    events = _scalars(tmp_path / "train").Scalars("epoch_steps_per_second")
    assert [event.step for event in events] == [0, 1] and all(event.value > 0 for event in events)
    assert "batch_loss" not in _scalars(tmp_path / "train").Tags()["scalars"]
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq=0)
