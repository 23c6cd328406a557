"""Seven optimisers on one problem: SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop and Adam.

Each trains the same MLP on scikit-learn's 8x8 digits from the same initial weights and sees the batches in the same
order, so the optimiser is the only difference. Look at `loss_curves.png` (training loss per epoch, log scale: which
falls fastest, which stalls) and the table of final losses. `--keras-defaults` uses each optimiser's Keras default
learning rate instead of the usual one, to see why Adagrad and Adadelta need theirs raised.
"""
import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import deepglass as keras  # noqa: E402

# Learning rates as they are usually set: plain SGD and its momentum variants share 0.01, so that the curves show
# what momentum adds; Adagrad's 0.01 and Adadelta's 1.0 are those of their papers (and of Keras 2); RMSprop's and
# Adam's are Keras's defaults.
OPTIMIZERS = {
    "SGD": (keras.optimizers.SGD, {"learning_rate": 0.01}),
    "momentum": (keras.optimizers.SGD, {"learning_rate": 0.01, "momentum": 0.9}),
    "Nesterov": (keras.optimizers.SGD, {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True}),
    "Adagrad": (keras.optimizers.Adagrad, {"learning_rate": 0.01}),
    "Adadelta": (keras.optimizers.Adadelta, {"learning_rate": 1.0}),
    "RMSprop": (keras.optimizers.RMSprop, {"learning_rate": 0.001}),
    "Adam": (keras.optimizers.Adam, {"learning_rate": 0.001}),
}


def load_data(train_size=None):
    """The 8x8 digits, pixels scaled to [0, 1], split 75/25 with a fixed seed."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split((x / 16.0).astype("float32"), y, test_size=0.25,
                                                        random_state=0, stratify=y)
    return (x_train[:train_size], y_train[:train_size]), (x_test, y_test)


def build():
    """The model every optimiser trains: a 64-64-32-10 MLP."""
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def make_optimizer(name, keras_defaults):
    cls, settings = OPTIMIZERS[name]
    extra = {key: value for key, value in settings.items() if key != "learning_rate"}
    return cls(**extra) if keras_defaults else cls(**settings)


def train(name, initial_weights, data, epochs, batch_size, keras_defaults):
    """Train a fresh copy of the model, from `initial_weights`, with one optimiser; the same batches every time."""
    (x_train, y_train), (x_test, y_test) = data
    model = build()
    model.set_weights(initial_weights)
    optimizer = make_optimizer(name, keras_defaults)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    keras.utils.set_random_seed(1)  # the shuffling of the batches, identical for every optimiser
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return history.history["loss"], {
        "learning_rate": optimizer.get_config()["learning_rate"],
        "final_training_loss": float(history.history["loss"][-1]), "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy), "seconds": seconds}


def plot_curves(curves, path, title):
    figure, axis = plt.subplots(figsize=(7.5, 4.8))
    styles = {"SGD": "-", "momentum": "-", "Nesterov": "--"}
    for name, losses in curves.items():
        axis.plot(np.arange(1, len(losses) + 1), losses, styles.get(name, "-"), linewidth=1.8, label=name)
    axis.set(yscale="log", xlabel="epoch", ylabel="training loss (cross-entropy, log scale)", title=title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: 512 training digits, 10 epochs")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per optimiser (default 40; 10 with --quick)")
    parser.add_argument("--keras-defaults", action="store_true", help="each optimiser's Keras default learning rate")
    parser.add_argument("--out", default="example-output/optimizers_compared", help="folder for the picture and "
                                                                                     "results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs or (10 if args.quick else 40)
    data = load_data(train_size=512 if args.quick else None)
    started = time.perf_counter()

    keras.utils.set_random_seed(0)
    initial_weights = build().get_weights()  # drawn once, copied into every model
    curves, results = {}, {}
    for name in OPTIMIZERS:
        curves[name], results[name] = train(name, initial_weights, data, epochs, 32, args.keras_defaults)

    rates = "Keras's default learning rates" if args.keras_defaults else "usual learning rates"
    plot_curves(curves, out / "loss_curves.png", f"Seven optimisers, same start, same batches ({rates})")
    summary = {"device": str(keras.config.device()), "epochs": epochs, "train_samples": len(data[0][0]),
               "keras_defaults": args.keras_defaults, "optimizers": results, "curves": curves,
               "seconds": time.perf_counter() - started}
    (out / "results.json").write_text(json.dumps(summary, indent=2))

    print(f"{'optimiser':<10}{'learning rate':>15}{'final loss':>12}{'test accuracy':>15}{'seconds':>9}")
    for name, row in sorted(results.items(), key=lambda item: item[1]["final_training_loss"]):
        print(f"{name:<10}{row['learning_rate']:>15g}{row['final_training_loss']:>12.4g}"
              f"{row['test_accuracy']:>15.3f}{row['seconds']:>9.1f}")
    print(f"{epochs} epochs on {len(data[0][0])} digits, {summary['device']}, {summary['seconds']:.1f} s")
    return summary


if __name__ == "__main__":
    main()
