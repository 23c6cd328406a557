"""The cheat sheet's MLP and three families of CNN on Fashion-MNIST, each beside its published benchmark accuracy.

The same data, optimiser (Adam) and epochs for all four models, so that the architecture is the only difference:
a multilayer perceptron that sees pixels as a flat list, then convolutions that see them as an image. Look at the
table (test accuracy and training time per model), `learning_curves.png` (test accuracy and loss per epoch; the
dashed lines are the benchmark figures) and `report.html`, the insight report of the best model.
"""
import argparse
import json
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import deepglass as keras  # noqa: E402
from deepglass.layers import (Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten,  # noqa: E402
                              MaxPooling2D)

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
# Test accuracies of these families in the Fashion-MNIST benchmark (github.com/zalandoresearch/fashion-mnist).
BENCHMARK = {"2 Conv + pooling": 0.91, "2 Conv + pooling + BatchNormalization": 0.93,
             "3 Conv + pooling + 2 Dense + dropout": 0.92}


def load_data(train_size=None, test_size=None):
    """Fashion-MNIST as float32 images `(n, 28, 28, 1)` in [0, 1], with integer labels."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    prepare = lambda x: (x[..., None] / 255.0).astype("float32")  # noqa: E731
    return (prepare(x_train[:train_size]), y_train[:train_size]), (prepare(x_test[:test_size]), y_test[:test_size])


def cheat_sheet_mlp():
    """The course cheat sheet's multi-class MLP: 512-512 ReLU units with dropout 0.2, after flattening the image."""
    return [Flatten(), Dense(512, activation="relu"), Dropout(0.2), Dense(512, activation="relu"), Dropout(0.2)]


def two_conv():
    """2 Conv + pooling: two 3x3 convolutions, each followed by 2x2 max pooling, then one hidden Dense layer."""
    return [Conv2D(32, 3, padding="same", activation="relu"), MaxPooling2D(),
            Conv2D(64, 3, padding="same", activation="relu"), MaxPooling2D(),
            Flatten(), Dense(128, activation="relu")]


def two_conv_batchnorm():
    """2 Conv + pooling + BatchNormalization: each layer normalised before its ReLU, with dropout after each block."""
    return [Conv2D(64, 3, padding="same", use_bias=False), BatchNormalization(), Activation("relu"), MaxPooling2D(),
            Dropout(0.25),
            Conv2D(128, 3, padding="same", use_bias=False), BatchNormalization(), Activation("relu"), MaxPooling2D(),
            Dropout(0.25),
            Flatten(), Dense(256, use_bias=False), BatchNormalization(), Activation("relu"), Dropout(0.5)]


def three_conv_dropout():
    """3 Conv + pooling + 2 Dense + dropout: three convolution blocks, two hidden Dense layers, dropout between."""
    return [Conv2D(32, 3, padding="same", activation="relu"), MaxPooling2D(),
            Conv2D(64, 3, padding="same", activation="relu"), MaxPooling2D(),
            Conv2D(128, 3, padding="same", activation="relu"), MaxPooling2D(),
            Flatten(), Dropout(0.3), Dense(256, activation="relu"), Dropout(0.3), Dense(128, activation="relu"),
            Dropout(0.3)]


MODELS = {"cheat-sheet MLP": cheat_sheet_mlp, "2 Conv + pooling": two_conv,
          "2 Conv + pooling + BatchNormalization": two_conv_batchnorm,
          "3 Conv + pooling + 2 Dense + dropout": three_conv_dropout}


def build(body, total_steps):
    """A classifier of 28x28x1 images: the given hidden layers, then a softmax over the 10 classes.

    Adam's learning rate falls from 1e-3 to 0 along a cosine over the whole run: large steps early, small ones at the
    end, so that the last epoch's accuracy is not the luck of one noisy step."""
    model = keras.Sequential([keras.Input((28, 28, 1)), *body(), Dense(10, activation="softmax")])
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=total_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(name, data, epochs, batch_size, verbose):
    """Train one model from a fixed seed; the curves follow the test set, which takes no part in any choice."""
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    model = build(MODELS[name], total_steps=epochs * math.ceil(len(x_train) / batch_size))
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_data=(x_test, y_test),
                        verbose=verbose)
    seconds = time.perf_counter() - start
    # The last epoch's validation figures are those of model.evaluate(x_test, y_test): no need for another pass.
    accuracy, loss = history.history["val_accuracy"][-1], history.history["val_loss"][-1]
    return model, history, {"test_accuracy": float(accuracy), "test_loss": float(loss), "train_seconds": seconds,
                            "epochs": epochs, "parameters": model.count_params(), "benchmark": BENCHMARK.get(name)}


def plot_learning_curves(histories, path):
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    for (name, history), color in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        epochs = np.arange(1, len(history["loss"]) + 1)
        left.plot(epochs, history["val_accuracy"], "o-", color=color, markersize=3, label=name)
        if name in BENCHMARK:
            left.axhline(BENCHMARK[name], color=color, linestyle="--", linewidth=1)
        right.plot(epochs, history["loss"], color=color, label=f"{name}, training")
        right.plot(epochs, history["val_loss"], "--", color=color)
    left.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy (dashed: benchmark figures)")
    right.set(xlabel="epoch", ylabel="cross-entropy", title="Loss: training (solid) and test (dashed)")
    left.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="512 training images, 1 epoch: to see it run")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model (default 15; 1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default="example-output/fashion_mnist_cnn", help="folder for the pictures, report "
                                                                                   "and results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs or (1 if args.quick else 15)
    data = load_data(train_size=512, test_size=300) if args.quick else load_data()
    verbose = 0 if args.quick else 2
    started = time.perf_counter()
    results, histories, models = {}, {}, {}
    for name in MODELS:
        print(f"--- {name}", flush=True)
        models[name], history, results[name] = train(name, data, epochs, args.batch_size, verbose)
        histories[name] = history.history
    plot_learning_curves(histories, out / "learning_curves.png")

    best = max(results, key=lambda name: results[name]["test_accuracy"])
    x_test, y_test = data[1]
    report_size = 100 if args.quick else 2000
    keras.insight.report(models[best], histories[best], x_test[:report_size], y_test[:report_size],
                         path=out / "report.html", class_names=CLASS_NAMES, title=f"Fashion-MNIST: {best}")
    summary = {"device": str(keras.config.device()), "epochs": epochs, "train_images": len(data[0][0]),
               "test_images": len(y_test), "best": best, "models": results,
               "seconds": time.perf_counter() - started}
    (out / "results.json").write_text(json.dumps(summary, indent=2))

    print(f"\n{'model':<40}{'test accuracy':>14}{'benchmark':>11}{'train s':>9}{'params':>10}")
    for name, row in results.items():
        benchmark = f"{row['benchmark']:.2f}" if row["benchmark"] else "-"
        print(f"{name:<40}{row['test_accuracy']:>14.4f}{benchmark:>11}{row['train_seconds']:>9.1f}"
              f"{row['parameters']:>10,}")
    print(f"{epochs} epochs on {len(data[0][0])} images, {summary['device']}; report of the best model "
          f"({best}): {out / 'report.html'}")
    return summary


if __name__ == "__main__":
    main()
