"""Transfer learning: reuse a CNN trained on one task to learn another from a few examples.

A CNN learns five Fashion-MNIST classes (T-shirt, trouser, pullover, dress, coat); its convolutional base then serves
a new task, the other five classes (sandal, shirt, sneaker, bag, ankle boot), given only 1 to 20 images of each. Three
ways to learn the new task are compared: a new head on the frozen base, then the whole network fine-tuned at a low
learning rate, against the same network trained from scratch on the same few images (each averaged over two random
draws of them). Look at `accuracy.png` (test accuracy against images per class) and `curves.png` (accuracy during
training).
"""
import argparse
import json
import pathlib
import time

import matplotlib

matplotlib.use("Agg")  # draw to files, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import deepglass as keras  # noqa: E402

SOURCE_CLASSES = [0, 1, 2, 3, 4]  # T-shirt/top, Trouser, Pullover, Dress, Coat
TARGET_CLASSES = [5, 6, 7, 8, 9]  # Sandal, Shirt, Sneaker, Bag, Ankle boot
METHODS = ("scratch", "frozen_base", "fine_tuned")


def load_tasks(quick):
    """The source task (classes 0-4) and the target task (classes 5-9, relabelled 0-4), pixels in [0, 1]."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train, x_test = x_train[..., None] / np.float32(255), x_test[..., None] / np.float32(255)

    def task(x, y, classes):
        keep = np.isin(y, classes)
        return x[keep], np.searchsorted(classes, y[keep])  # labels 0..4 in the order of `classes`

    source = task(x_train, y_train, SOURCE_CLASSES)
    target_pool = task(x_train, y_train, TARGET_CLASSES)
    target_test = task(x_test, y_test, TARGET_CLASSES)
    if quick:
        source, target_test = (source[0][:640], source[1][:640]), (target_test[0][:300], target_test[1][:300])
    return source, target_pool, target_test


def few_shot(x, y, per_class, seed=0):
    """`per_class` images of each class, drawn at random: the small training set of the new task."""
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    rng.shuffle(chosen)
    return x[chosen], y[chosen]


def build_base():
    """The convolutional base: two conv/pool blocks, flattened to 7 x 7 x 64 = 3136 features. The dense layers that
    follow it during pre-training are specific to the source classes and are left behind, as is usual."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
    ], name="base")


def with_head(base, hidden=None, classes=5):
    """A classification head on `base` (with a hidden Dense layer of `hidden` units, if given). `training=False`
    keeps the base in inference mode even while the head trains, as the Keras transfer-learning guide does (it
    matters for BatchNormalization and Dropout in the base)."""
    inputs = keras.Input((28, 28, 1))
    x = base(inputs, training=False)
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def compile_model(model, learning_rate):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def pretrain(source, epochs):
    """Train base + head on the source task; return the base (its weights are what transfers) and the source task's
    validation accuracy."""
    base = build_base()
    model = compile_model(with_head(base, hidden=128), 1e-3)
    history = model.fit(*source, batch_size=128, epochs=epochs, validation_split=0.1, verbose=2)
    return base, history.history["val_accuracy"][-1]


def epochs_for(steps, samples, batch_size=32):
    """Epochs that make about `steps` optimizer steps: every training set size gets the same number of updates."""
    return max(1, round(steps / -(-samples // batch_size)))


def fit(model, train, test, steps, points):
    """Train for about `steps` steps, measuring the accuracy on 1,000 test images about `points` times; returns the
    curve as (step, accuracy) pairs."""
    epochs = epochs_for(steps, len(train[0]))
    every = max(1, epochs // points)
    history = model.fit(*train, batch_size=32, epochs=epochs, validation_data=(test[0][:1000], test[1][:1000]),
                        validation_freq=every, verbose=0)
    steps_per_epoch = -(-len(train[0]) // 32)
    epochs_seen = range(every, epochs + 1, every)
    return list(zip([e * steps_per_epoch for e in epochs_seen], history.history["val_accuracy"]))


def transfer(pretrained_weights, train, test, head_steps, tune_steps, points):
    """Stage 1: the pre-trained base frozen, only the new head learns. Stage 2: everything unfrozen and fine-tuned
    with a learning rate 10 times lower, so that the pre-trained features are adjusted, not wiped out."""
    base = build_base()
    base.set_weights(pretrained_weights)
    base.trainable = False
    model = compile_model(with_head(base), 1e-3)
    head_curve = fit(model, train, test, head_steps, points)
    frozen_accuracy = model.evaluate(*test, verbose=0)[1]
    base.trainable = True
    compile_model(model, 1e-4)  # compile again after changing `trainable`, as in Keras
    tune_curve = fit(model, train, test, tune_steps, points)
    offset = head_curve[-1][0] if head_curve else 0
    curve = head_curve + [(offset + step, accuracy) for step, accuracy in tune_curve]
    return frozen_accuracy, model.evaluate(*test, verbose=0)[1], curve, offset


def from_scratch(train, test, steps, points):
    """The same network, randomly initialised, trained on the same few images for as many steps."""
    model = compile_model(with_head(build_base()), 1e-3)
    curve = fit(model, train, test, steps, points)
    return model.evaluate(*test, verbose=0)[1], curve


def plot_accuracy(results, shots, out):
    figure, axis = plt.subplots(figsize=(6, 4))
    styles = {"scratch": ("#999999", "from scratch"), "frozen_base": ("#56B4E9", "frozen base + new head"),
              "fine_tuned": ("#0072B2", "then fine-tuned")}
    for method, (colour, label) in styles.items():
        axis.plot(shots, [results[str(n)][method] for n in shots], marker="o", color=colour, label=label)
    axis.axhline(0.2, color="#999999", linestyle=":", label="chance")
    axis.set_xscale("log")
    axis.set_xticks(shots, [str(n) for n in shots])
    axis.set_xlabel("training images per class (target task)")
    axis.set_ylabel("test accuracy on classes 5-9")
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title("Transfer from classes 0-4 to classes 5-9 of Fashion-MNIST")
    figure.tight_layout()
    figure.savefig(out / "accuracy.png", dpi=100)
    plt.close(figure)


def plot_curves(curves, out):
    """Test accuracy during training, one panel per training set size."""
    figure, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.6), squeeze=False)
    for axis, (per_class, runs) in zip(axes.flat, curves.items()):
        for name, colour in (("scratch", "#999999"), ("transfer", "#0072B2")):
            steps, accuracy = zip(*runs[name])
            axis.plot(steps, accuracy, color=colour, marker=".", label=name)
        axis.axvline(runs["unfrozen_at"], color="#E69F00", linestyle="--", label="base unfrozen")
        axis.set_xlabel("optimizer step")
        axis.set_ylabel("accuracy on 1,000 test images")
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
        axis.set_title(f"{per_class} image{'s' if per_class > 1 else ''} per class")
    axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "curves.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a little data and few epochs, to see it run")
    parser.add_argument("--out", default="example-output/transfer_learning", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    source, target_pool, target_test = load_tasks(args.quick)
    shots, draws = ([2], 1) if args.quick else ([1, 2, 5, 20], 2)
    pretrain_epochs, head_steps, tune_steps, points = (1, 10, 5, 2) if args.quick else (3, 200, 100, 10)

    base, source_accuracy = pretrain(source, pretrain_epochs)
    pretrained_weights = base.get_weights()
    results, per_draw, curves = {}, {}, {}
    for per_class in shots:
        runs = []
        for draw in range(draws):  # with so few images, which ones are drawn matters: average over draws
            train = few_shot(*target_pool, per_class, seed=draw)
            keras.utils.set_random_seed(draw)
            frozen, tuned, transfer_curve, unfrozen_at = transfer(pretrained_weights, train, target_test,
                                                                  head_steps, tune_steps, points)
            keras.utils.set_random_seed(draw)
            scratch, scratch_curve = from_scratch(train, target_test, head_steps + tune_steps, 2 * points)
            runs.append({"scratch": scratch, "frozen_base": frozen, "fine_tuned": tuned})
            if draw == 0:
                curves[per_class] = {"scratch": scratch_curve, "transfer": transfer_curve, "unfrozen_at": unfrozen_at}
        per_draw[str(per_class)] = runs
        results[str(per_class)] = {m: float(np.mean([run[m] for run in runs])) for m in METHODS}
        print(f"{per_class:>4} per class: " + ", ".join(f"{m} {results[str(per_class)][m]:.1%}" for m in METHODS),
              flush=True)
    plot_accuracy(results, shots, out)
    plot_curves(curves, out)

    summary = {"test_accuracy": results, "test_accuracy_per_draw": per_draw, "images_per_class": shots,
               "draws": draws, "pretrain_images": len(source[0]),
               "source_validation_accuracy": source_accuracy,
               "pretrain_epochs": pretrain_epochs, "steps": {"head": head_steps, "fine_tune": tune_steps},
               "test_images": len(target_test[0]), "device": str(keras.config.device()),
               "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"\nTest accuracy on classes 5-9 ({len(target_test[0])} images, mean of {draws} draws of the training "
          f"images), pre-trained on {len(source[0])} images of classes 0-4:")
    print(f"{'per class':>9} " + " ".join(f"{m:>12}" for m in METHODS))
    for per_class in shots:
        print(f"{per_class:>9} " + " ".join(f"{results[str(per_class)][m]:>12.1%}" for m in METHODS))
    return summary


if __name__ == "__main__":
    main()
