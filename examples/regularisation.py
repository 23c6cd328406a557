"""Regularisation: an MLP that overfits 200 handwritten digits, and five ways to make it generalise.

The baseline (two hidden layers of 256 units, no regularisation, many epochs) learns its 200 training images by
heart: the training loss goes to zero while the validation loss turns and climbs. `history.diagnose()` says so
("overfitting from epoch ..."). Then the same network with an L2 or L1 weight penalty, with Dropout, stopped early
(EarlyStopping), and trained on randomly shifted copies of its images (data augmentation). Look at
`learning_curves.png`: the gap between the training and validation loss, large for the baseline, shrinks.
"""
import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import deepglass as keras  # noqa: E402

VARIANTS = ("baseline", "l2", "l1", "dropout", "early_stopping", "augmentation")
HIDDEN = 256


def load_digits(train_size, val_size):
    """Few training images, a larger validation set drawn from the same shuffled pool, and the test set."""
    (x, y), (x_test, y_test) = keras.datasets.digits.load_data()
    x, x_test = x[..., None] / 255.0, x_test[..., None] / 255.0  # (n, 8, 8, 1) in [0, 1]
    val = slice(train_size, train_size + val_size)
    return (x[:train_size], y[:train_size]), (x[val], y[val]), (x_test, y_test)


def augmentation():
    """Shift each image by up to one pixel (1/8 of its size) in each direction, filling with background."""
    return keras.layers.RandomTranslation(0.125, 0.125, fill_mode="constant")


def build(variant):
    """The same MLP for every variant; only the regulariser differs."""
    layers = keras.layers
    penalty = {"l2": keras.regularizers.L2(3e-3), "l1": keras.regularizers.L1(3e-4)}.get(variant)
    model = keras.Sequential([keras.Input((8, 8, 1))])
    if variant == "augmentation":
        # Active only while training. No RandomFlip: digits are not mirror-symmetric (a flipped 2 is no digit),
        # and no RandomRotation: at 8x8 pixels a rotated digit is mostly interpolation blur.
        model.add(augmentation())
    model.add(layers.Flatten())
    if variant == "dropout":  # Srivastava et al. (2014): drop 20% of the inputs and 50% of the hidden units
        model.add(layers.Dropout(0.2))
    for _ in range(2):
        model.add(layers.Dense(HIDDEN, activation="relu", kernel_regularizer=penalty))
        if variant == "dropout":
            model.add(layers.Dropout(0.5))
    model.add(layers.Dense(10, activation="softmax", kernel_regularizer=penalty))
    # The cross-entropy as a metric as well: the loss of the L1 / L2 variants includes their weight penalty.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseCategoricalCrossentropy(name="cross_entropy")])
    return model


def train(variant, data, epochs):
    """Fit one variant; returns the model and its History."""
    (x_train, y_train), validation, _ = data
    keras.utils.set_random_seed(0)
    model = build(variant)
    callbacks = []
    if variant == "early_stopping":
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True))
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_data=validation,
                        callbacks=callbacks, verbose=0)
    return model, history


def generalisation_gap(model, data):
    """Cross-entropy on the validation set minus that on the training set, for the weights the model ends with
    (inference mode: no dropout, no augmentation; for early stopping, the restored best weights)."""
    (x_train, y_train), (x_val, y_val), _ = data
    train = model.evaluate(x_train, y_train, verbose=0, return_dict=True)["cross_entropy"]
    val = model.evaluate(x_val, y_val, verbose=0, return_dict=True)["cross_entropy"]
    return {"train_cross_entropy": float(train), "val_cross_entropy": float(val), "gap": float(val - train)}


def plot_curves(histories, results, path):
    """Training and validation cross-entropy per variant, one panel each, on one scale so that the gaps compare."""
    figure, axes = plt.subplots(2, 3, figsize=(13, 7), sharey=True)
    for axis, (variant, history) in zip(axes.flat, histories.items()):
        logs = history.history
        epochs = np.arange(1, len(logs["loss"]) + 1)
        axis.plot(epochs, logs["cross_entropy"], color="#0072B2", label="training")
        axis.plot(epochs, logs["val_cross_entropy"], color="#E69F00", label="validation")
        best = int(np.argmin(logs["val_loss"])) + 1
        axis.axvline(best, color="#999999", linestyle=":", label=f"lowest validation loss ({best})")
        axis.set_title(f"{variant}: gap at the end {results[variant]['gap']:.3f}")
        axis.set_xlabel("epoch")
        axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    for axis in axes[:, 0]:
        axis.set_ylabel("cross-entropy (log scale)")
    figure.suptitle("Training vs validation cross-entropy: the gap between them is what the model learnt by heart")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_augmented(x, path):
    """One training image and what the augmentation layer makes of it on eight draws."""
    copies = np.asarray(augmentation()(np.repeat(x[:1], 8, axis=0).astype("float32"), training=True))
    figure, axes = plt.subplots(1, 9, figsize=(11, 1.6))
    for axis, image, title in zip(axes, [x[0], *copies], ["original"] + [f"draw {i + 1}" for i in range(8)]):
        axis.imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1)
        axis.set_title(title, fontsize=8)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, to see it run")
    parser.add_argument("--out", default="example-output/regularisation", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = load_digits(train_size=200, val_size=500)
    epochs = 15 if args.quick else 150
    histories, results = {}, {}
    for variant in VARIANTS:
        model, history = train(variant, data, epochs)
        histories[variant] = history
        findings = history.diagnose()
        accuracy = model.evaluate(*data[2], verbose=0, return_dict=True)["accuracy"]
        results[variant] = {"test_accuracy": float(accuracy), "epochs_run": len(history.history["loss"]),
                            **generalisation_gap(model, data),
                            "best_val_cross_entropy": float(np.min(history.history["val_cross_entropy"])),
                            "findings": [finding.name for finding in findings]}
        print(f"\n== {variant}: the learning curves say")
        for finding in findings:
            print(finding)
    plot_curves(histories, results, out / "learning_curves.png")
    plot_augmented(data[0][0], out / "augmentation.png")
    summary = {"variants": results, "epochs": epochs, "train_samples": len(data[0][0]),
               "device": str(keras.config.device()), "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{'variant':<15} {'epochs':>6} {'train CE':>8} {'val CE':>7} {'gap':>6} {'test acc':>8}  findings")
    for variant, row in results.items():
        print(f"{variant:<15} {row['epochs_run']:>6} {row['train_cross_entropy']:>8.3f} "
              f"{row['val_cross_entropy']:>7.3f} {row['gap']:>6.3f} {row['test_accuracy']:>8.1%}  "
              f"{', '.join(row['findings']) or '-'}")
    return summary


if __name__ == "__main__":
    main()
