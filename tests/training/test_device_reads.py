"""On an accelerator, reading a value back to the host waits for everything queued there, so fit, evaluate and
predict read the device only where they must: fit once before training (the count of NaN values in the inputs,
which it warns about before it starts) and then at the end of each epoch, evaluate and predict for their results.

Checked on the "meta" device, whose tensors have shapes but no values: any read from it fails, and the traceback
names the place that read.
"""
import os
import traceback

import numpy as np
import pytest
import torch

import deepglass
from deepglass import callbacks, layers, optimizers
from deepglass.training.array_data import ArrayData
from deepglass.training.data_adapters import BatchStream

SAMPLES, BATCH = 64, 16


@pytest.fixture(autouse=True)
def device_without_reads():
    deepglass.config.set_device("meta")
    yield
    deepglass.config.set_device(None)


def first_read(call):
    """The deepglass functions on the stack where `call` first read a value from the device."""
    with pytest.raises((RuntimeError, NotImplementedError), match="meta") as caught:
        call()
    package = f"{os.sep}deepglass{os.sep}"
    return [frame.name for frame in traceback.extract_tb(caught.tb) if package in frame.filename]


class CountBatches(callbacks.Callback):
    """Counts the training steps, without reading their logs."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def mlp(**dense_arguments):
    return deepglass.Sequential([deepglass.Input((12,)), layers.Dense(16, activation="relu", **dense_arguments),
                                 layers.Dense(10, activation="softmax")])


def cnn():
    return deepglass.Sequential([
        deepglass.Input((8, 8, 3)), layers.Conv2D(4, 3, strides=2, padding="same"), layers.BatchNormalization(),
        layers.Activation("relu"), layers.MaxPooling2D(), layers.Dropout(0.5), layers.Flatten(),
        layers.Dense(10, activation="softmax")])


def residual():
    inputs = deepglass.Input((8, 8, 3))
    x = layers.Add()([layers.Conv2D(4, 3, padding="same")(inputs), layers.Conv2D(4, 1)(inputs)])
    return deepglass.Model(inputs, layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x)))


def lstm():
    return deepglass.Sequential([deepglass.Input((5, 3)), layers.LSTM(4), layers.Dense(10, activation="softmax")])


def data(model):
    x = np.random.default_rng(0).random((SAMPLES, *model.input_shape[1:]), dtype=np.float32)
    return x, np.arange(SAMPLES) % 10


def compiled(model, optimizer="adam", loss="sparse_categorical_crossentropy"):
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def test_fit_reads_the_nan_count_before_training():
    model = compiled(mlp())
    assert "count_nans" in first_read(lambda: model.fit(*data(model), verbose=0))


TRAININGS = {
    "mlp": lambda: (compiled(mlp()), {}),
    "cnn with batch normalisation and dropout": lambda: (compiled(cnn()), {}),
    "residual functional model": lambda: (compiled(residual()), {}),
    "lstm": lambda: (compiled(lstm()), {}),
    "sgd with a schedule": lambda: (compiled(mlp(), optimizers.SGD(optimizers.schedules.ExponentialDecay(
        0.1, 2, 0.5), momentum=0.9)), {}),
    "clipnorm, ema, accumulation": lambda: (compiled(mlp(), optimizers.Adam(
        clipnorm=1.0, use_ema=True, gradient_accumulation_steps=2)), {}),
    "global_clipnorm": lambda: (compiled(mlp(), optimizers.Adam(global_clipnorm=1.0)), {}),
    "weight penalty": lambda: (compiled(mlp(kernel_regularizer="l2"), "rmsprop"), {}),
    "one-hot labels": lambda: (compiled(mlp(), loss="categorical_crossentropy"), {"one_hot": True}),
    "sample and class weights": lambda: (compiled(mlp()), {"sample_weight": np.ones(SAMPLES),
                                                           "class_weight": {c: 1.0 + c for c in range(10)}}),
    "validation data and early stopping": lambda: (compiled(mlp()), {"validation_split": 0.25, "callbacks": [
        callbacks.EarlyStopping(patience=2)]}),
    "a DataLoader with class weights": lambda: (compiled(mlp()), {"loader": True,
                                                                  "class_weight": {c: 2.0 for c in range(10)}}),
}


@pytest.mark.parametrize("case", TRAININGS)
def test_an_epoch_of_fit_reads_the_device_only_at_its_end(monkeypatch, case):
    monkeypatch.setattr(ArrayData, "count_nans", lambda self, wait=True: 0)  # the read before training, seen above
    monkeypatch.setattr(BatchStream, "count_nans", lambda self, wait=True: 0)
    model, options = TRAININGS[case]()
    x, y = data(model)
    if options.pop("one_hot", False):
        y = np.eye(10, dtype="float32")[y]
    if options.pop("loader", False):
        x = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                        batch_size=BATCH)
        y = None
    counter = CountBatches()
    options["callbacks"] = options.get("callbacks", []) + [counter]
    stack = first_read(lambda: model.fit(x, y, batch_size=None if y is None else BATCH, verbose=0, **options))
    assert "_read_logs" in stack and "_train_epoch" not in stack, stack
    trained = SAMPLES * (3 if "validation_split" in options else 4) // 4
    assert counter.steps == trained // BATCH


@pytest.mark.parametrize("source", ["arrays", "DataLoader"])
def test_evaluate_reads_the_device_only_for_its_results(source):
    model = compiled(cnn())
    x, y = data(model)
    arguments = (x, y) if source == "arrays" else (torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=BATCH),)
    stack = first_read(lambda: model.evaluate(*arguments, batch_size=BATCH if source == "arrays" else None,
                                              verbose=0))
    assert stack[stack.index("_run_evaluation") + 1] == "_read_logs", stack


def test_predict_reads_the_device_only_for_its_results():
    model = cnn()
    stack = first_read(lambda: model.predict(data(model)[0], batch_size=BATCH, verbose=0))
    assert stack[-1] == "_numpy" and "predict" in stack, stack  # (a list comprehension between them before 3.12)


def test_a_loss_of_the_user_checks_labels_on_the_predictions_device():
    seen = []

    class Checked(deepglass.losses.MeanSquaredError):
        def validate_targets(self, y_true, y_pred):
            seen.append((y_true.device.type, y_pred.device.type))

    model = mlp()
    model.compile(optimizer="adam", loss=Checked())
    x, y = data(model)
    first_read(lambda: model.fit(x, np.eye(10, dtype="float32")[y], batch_size=BATCH, verbose=0))
    assert seen == [("meta", "meta")]  # deepglass's own checks read the host's copy; this one gets what it used to

