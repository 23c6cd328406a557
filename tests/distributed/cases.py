"""Small training cases run by one process (in the tests) and by two (in worker.py), with the same seeds.

114 samples with validation_split=0.2 leave 91 for training: with the global batch of 10, the last batch holds one
sample, so the second process's share of it is empty; the 23 validation samples end with a batch of 3 (2 + 1).
"""
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import deepglass as keras

SAMPLES, FEATURES, CLASSES, BATCH, EPOCHS = 114, 6, 3, 10, 3


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, size=SAMPLES)
    sample_weight = rng.uniform(0.5, 2.0, size=SAMPLES).astype("float32")
    return x, y, sample_weight


def model(seed=1):
    """A tiny classifier with a weight penalty (the same on every process) and an activity penalty (per batch)."""
    keras.utils.set_random_seed(seed)
    built = keras.Sequential([
        keras.Input((FEATURES,)),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3),
                           activity_regularizer=keras.regularizers.L2(1e-4)),
        keras.layers.Dense(CLASSES, activation="softmax"),
    ])
    built.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    return built


def mixed_float16_model(initial_scale=2.0 ** 20):
    """`model()` built under mixed_float16 and compiled with a LossScaleOptimizer whose first scale is so high that
    the first steps' float16 gradients overflow: training skips them and lowers the scale, then updates."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        built = model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2), initial_scale=initial_scale)
    built.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return built


def fit_mixed_float16():
    """mixed_float16 training on arrays with sample weights; returns the model and its history."""
    x, y, sample_weight = arrays()
    trained = mixed_float16_model()
    history = trained.fit(x, y, sample_weight=sample_weight, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    return trained, history.history


def fit_arrays(callbacks=()):
    """Arrays with sample weights, shuffled, with validation; returns the model, history, evaluation, predictions."""
    x, y, sample_weight = arrays()
    trained = model()
    history = trained.fit(x, y, sample_weight=sample_weight, batch_size=BATCH, epochs=EPOCHS, validation_split=0.2,
                          verbose=0, callbacks=list(callbacks))
    evaluation = trained.evaluate(x, y, sample_weight=sample_weight, batch_size=BATCH, verbose=0, return_dict=True)
    return trained, history.history, evaluation, trained.predict(x, batch_size=BATCH, verbose=0)


def fit_torch_data(kind):
    """A torch Dataset (batched by fit) or a shuffling DataLoader, with the global batch of 10."""
    x, y, sample_weight = arrays()
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(sample_weight))
    trained = model()
    if kind == "dataset":
        history = trained.fit(data, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    else:
        history = trained.fit(DataLoader(data, batch_size=BATCH, shuffle=True), epochs=EPOCHS, verbose=0)
    return trained, history.history


def batches_of_ids(count=7):
    """Batches whose inputs are the sample ids, for checking who sees what."""
    ids = np.arange(count * BATCH, dtype="float32").reshape(-1, 1).repeat(FEATURES, axis=1)
    labels = np.arange(count * BATCH) % CLASSES
    return [(ids[i * BATCH:(i + 1) * BATCH], labels[i * BATCH:(i + 1) * BATCH]) for i in range(count)]


class IdBatches(keras.utils.PyDataset):
    """A PyDataset of `batches_of_ids()` that records which batches this process prepared."""

    def __init__(self):
        super().__init__()
        self.batches = batches_of_ids()
        self.prepared = []

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        self.prepared.append(index)
        return self.batches[index]


def fit_batchnorm():
    """A model with a convolution (its kernel stored channels-last), BatchNormalization (its moving statistics are
    buffers) and layers of different sizes, trained on arrays for two epochs; returns the model."""
    x, y, _ = arrays()
    keras.utils.set_random_seed(2)
    built = keras.Sequential([
        keras.Input((FEATURES,)),
        keras.layers.Reshape((3, 1, 2)),
        keras.layers.Conv2D(4, (2, 1), padding="same"),  # 20 weight values
        keras.layers.Flatten(),
        keras.layers.Dense(16),  # 208 weight values
        keras.layers.BatchNormalization(),  # 32 trainable values, and two buffers
        keras.layers.Activation("relu"),
        keras.layers.Dense(CLASSES, activation="softmax"),  # 51 values
    ])
    built.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    built.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
    return built


def fit_again(trained):
    """One more epoch of `fit_arrays`' data on an already trained model (its optimizer state carries on)."""
    x, y, sample_weight = arrays()
    return trained.fit(x, y, sample_weight=sample_weight, batch_size=BATCH, epochs=1, verbose=0).history
