"""Vanishing gradients: one deep MLP (15 hidden layers) on the 8x8 digits, trained six ways.

Sigmoid against ReLU, a naive initialisation against Glorot (Xavier) / He, with and without BatchNormalization.
A `deepglass.insight.Monitor` records every layer's gradient norm while it trains; the script prints the monitor's
findings per configuration and a table of accuracies. Look at `gradient_flow_*.png`: with sigmoid or a naive
initialisation the gradient falls by orders of magnitude towards the first layers, and those runs barely learn.
"""
import argparse
import json
from pathlib import Path
import time

import matplotlib

matplotlib.use("Agg")  # draw to files, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import deepglass as keras  # noqa: E402
from deepglass import insight  # noqa: E402

DEPTH, WIDTH = 15, 64
# name: (activation, kernel initializer, BatchNormalization after each Dense)
CONFIGURATIONS = {
    "sigmoid_naive": ("sigmoid", "naive", False),
    "sigmoid_glorot": ("sigmoid", "glorot_uniform", False),
    "relu_naive": ("relu", "naive", False),
    "relu_he": ("relu", "he_normal", False),
    "sigmoid_glorot_bn": ("sigmoid", "glorot_uniform", True),
    "relu_he_bn": ("relu", "he_normal", True),
}
# "Naive": weights drawn with the same small spread whatever the layer's size (Keras 1's init="normal").
NAIVE_STDDEV = 0.05


def load_digits():
    """The 8x8 digits as flat vectors in [0, 1].

    A 20% test split leaves 1,437 training images, so batches of 32 end with one of 29; with the default split the
    last batch of each epoch would hold 3 images, too few for BatchNormalization's batch statistics.
    """
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data(test_split=0.2)
    return (x_train.reshape(-1, 64) / 255.0, y_train), (x_test.reshape(-1, 64) / 255.0, y_test)


def build_mlp(activation, initializer, batch_norm, depth=DEPTH, width=WIDTH):
    """`depth` hidden Dense layers of `width` units, each followed (optionally) by BatchNormalization."""
    model = keras.Sequential([keras.Input((64,))])
    for index in range(depth):
        # A fresh initializer per layer: one instance shared by all layers would give them the same weights.
        init = keras.initializers.RandomNormal(stddev=NAIVE_STDDEV) if initializer == "naive" else initializer
        if batch_norm:  # Dense -> BatchNormalization -> activation, as in Ioffe & Szegedy (2015)
            model.add(keras.layers.Dense(width, kernel_initializer=init, name=f"dense_{index + 1}"))
            model.add(keras.layers.BatchNormalization(name=f"bn_{index + 1}"))
            model.add(keras.layers.Activation(activation, name=f"{activation}_{index + 1}"))
        else:
            model.add(keras.layers.Dense(width, activation=activation, kernel_initializer=init,
                                         name=f"dense_{index + 1}"))
    model.add(keras.layers.Dense(10, activation="softmax", name="output"))
    # Plain SGD: Adam rescales each weight's step and would hide how small the gradients are.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(name, data, epochs, out):
    """Train one configuration under a Monitor; save its gradient-flow picture; return its figures."""
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    model = build_mlp(*CONFIGURATIONS[name])
    monitor = insight.Monitor(every_n_steps=10)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, callbacks=[monitor], verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    figure = insight.plot_gradient_flow(monitor)
    figure.suptitle(f"{name}: gradient flow over {len(monitor.history['steps'])} sampled steps")
    figure.savefig(out / f"gradient_flow_{name}.png", dpi=100)
    plt.close(figure)
    findings = monitor.findings()
    return {"test_accuracy": float(accuracy), "final_loss": float(history.history["loss"][-1]),
            "first_to_last_gradient": gradient_ratio(monitor), "findings": [f.name for f in findings],
            "seconds": seconds}, findings


def gradient_ratio(monitor):
    """Median gradient RMS of the first Dense layer over that of the output layer (1 = no vanishing)."""
    layers = monitor.history["layers"]
    rms = [np.median(layers[name]["grad_norm"]) / np.sqrt(layers[name]["parameters"]) for name in ("dense_1", "output")]
    return float(rms[0] / rms[1])


def plot_summary(results, out):
    """One bar per configuration: the first layer's gradient relative to the last (log scale) and accuracy."""
    names = list(results)
    figure, (grad_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    grad_axis.bar(names, [results[n]["first_to_last_gradient"] for n in names], color="#0072B2")
    grad_axis.set_yscale("log")
    grad_axis.axhline(1, color="#999999", linestyle=":")
    grad_axis.set_title("Gradient RMS: first hidden layer / output layer")
    accuracy_axis.bar(names, [results[n]["test_accuracy"] for n in names], color="#E69F00")
    accuracy_axis.axhline(0.1, color="#999999", linestyle=":", label="chance")
    accuracy_axis.set_ylim(0, 1)
    accuracy_axis.set_title("Test accuracy")
    accuracy_axis.legend()
    for axis in (grad_axis, accuracy_axis):
        axis.tick_params(axis="x", rotation=30)
        axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(out / "summary.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs on part of the data, to see it run")
    parser.add_argument("--out", default="example-output/vanishing_gradients", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    (x_train, y_train), test = load_digits()
    if args.quick:
        x_train, y_train = x_train[:256], y_train[:256]
    epochs = 2 if args.quick else 30
    results = {}
    for name in CONFIGURATIONS:
        results[name], findings = train(name, ((x_train, y_train), test), epochs, out)
        print(f"\n== {name}: test accuracy {results[name]['test_accuracy']:.1%}")
        for finding in findings:
            print(finding)
        if not findings:
            print("No problems found by the monitor.")
    plot_summary(results, out)
    summary = {"configurations": results, "epochs": epochs, "depth": DEPTH, "device": str(keras.config.device()),
               "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{'configuration':<20} {'test acc':>8} {'grad first/last':>16}  findings")
    for name, row in results.items():
        print(f"{name:<20} {row['test_accuracy']:>8.1%} {row['first_to_last_gradient']:>16.1e}  "
              f"{', '.join(row['findings']) or '-'}")
    return summary


if __name__ == "__main__":
    main()
