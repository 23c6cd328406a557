"""MNIST-1D (Greydanus, 2020) with the four models of its paper, each printed beside the paper's test accuracy.

    python examples/mnist1d_models.py           # the paper's budget: 6000 steps of 100 samples per model
    python examples/mnist1d_models.py --quick   # a few epochs each, to see it run

The models and training follow the paper's code: a linear (logistic regression) model, a two-hidden-layer MLP of 100
units, a CNN of three strided 1-D convolutions with 25 channels, and a bidirectional GRU of 6 units read at every
step; Adam with a learning rate of 0.01, batches of 100, 4000 training and 1000 test signals of 40 steps.
"""
import argparse
import time

import numpy as np

import deepglass as keras

PAPER = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}


def build(name):
    """One of the paper's four models, on `(batch, 40)` signals, returning logits for the 10 digits."""
    layers = keras.layers
    body = {
        "logistic": [],
        "mlp": [layers.Dense(100, activation="relu"), layers.Dense(100, activation="relu")],
        "cnn": [layers.Reshape((40, 1)), layers.ZeroPadding1D(1), layers.Conv1D(25, 5, strides=2, activation="relu"),
                layers.ZeroPadding1D(1), layers.Conv1D(25, 3, strides=2, activation="relu"),
                layers.ZeroPadding1D(1), layers.Conv1D(25, 3, strides=2, activation="relu"), layers.Flatten()],
        "gru": [layers.Reshape((40, 1)), layers.Bidirectional(layers.GRU(6, return_sequences=True)),
                layers.Flatten()],
    }[name]
    model = keras.Sequential([keras.Input((40,)), *body, layers.Dense(10)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main(quick=False, epochs=None, models=tuple(PAPER), seed=0, verbose=True):
    """Train and evaluate each model; returns `{name: (test accuracy, seconds)}`.

    The paper trains for 6000 steps of 100 samples (150 epochs of the 4000 training signals); `quick` trains for 15.
    """
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist1d.load_data()
    epochs = epochs or (15 if quick else 150)
    results = {}
    for name in models:
        keras.utils.set_random_seed(seed)
        model = build(name)
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=100, epochs=epochs, verbose=0)
        accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test))
        results[name] = (accuracy, time.perf_counter() - start)
        if verbose:
            print(f"{name:>8}: test accuracy {accuracy:6.1%}  (paper {PAPER[name]:.0%})  "
                  f"{results[name][1]:6.1f} s for {epochs} epochs", flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train each model for 15 epochs instead of 150")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model (overrides --quick)")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    main(quick=arguments.quick, epochs=arguments.epochs, seed=arguments.seed)
