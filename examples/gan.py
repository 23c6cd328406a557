"""A generative adversarial network (DCGAN-style) that learns to draw 8x8 handwritten digits.

Two networks and two optimizers: the generator turns 16 random numbers into an image, the discriminator tells real
digits from generated ones. The training loop is the classic Keras one: `discriminator.train_on_batch` on real and
generated images, then `gan.train_on_batch` (generator -> frozen discriminator) with the labels flipped to "real".
A digit classifier trained on the real digits scores the samples each epoch (the Inception score with it in place of
Inception: high when samples are clearly digits and all ten appear). Look at `progress.png` (the same 12 random codes
decoded after each snapshot epoch), `samples_epoch_*.png`, and `training.png` (both losses and the score).
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

LATENT = 16
BATCH = 32


def load_digits():
    """scikit-learn's 8x8 digits scaled to [-1, 1], the range of the generator's tanh output."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train, x_test = (x[..., None].astype("float32") / 127.5 - 1.0 for x in (x_train, x_test))
    return (x_train, y_train), (x_test, y_test)


def build_generator():
    """16 numbers -> 4x4x64 -> (transposed convolution) 8x8x32 -> 8x8 image in [-1, 1]."""
    return keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(4 * 4 * 64),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Reshape((4, 4, 64)),
        keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2D(1, 3, padding="same", activation="tanh"),
    ], name="generator")


def build_discriminator():
    """8x8 image -> probability that it is a real digit."""
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2D(64, 3, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")


def build_gan():
    """The discriminator compiled on its own, and the generator -> discriminator stack compiled with a second
    optimizer; Adam with beta_1 = 0.5, as in DCGAN (Radford et al., 2016)."""
    generator, discriminator = build_generator(), build_discriminator()
    discriminator.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy")
    gan = keras.Sequential([generator, discriminator], name="gan")
    gan.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy")
    return generator, discriminator, gan


def train_step(generator, discriminator, gan, real, rng):
    """One step for each network; returns their losses."""
    fake = generator.predict_on_batch(rng.normal(size=(len(real), LATENT)).astype("float32"))
    images = np.concatenate([real, fake])
    # "real" is 0.9 rather than 1 (one-sided label smoothing): a discriminator less sure of itself gives the
    # generator gradients that do not vanish.
    labels = np.concatenate([np.full((len(real), 1), 0.9), np.zeros((len(fake), 1))]).astype("float32")
    discriminator.trainable = True
    d_loss = discriminator.train_on_batch(images, labels)
    # The generator learns through the discriminator, whose weights must stay as they are for this step.
    discriminator.trainable = False
    noise = rng.normal(size=(2 * len(real), LATENT)).astype("float32")
    g_loss = gan.train_on_batch(noise, np.ones((len(noise), 1), dtype="float32"))
    return d_loss, g_loss


def build_classifier(train, test, epochs):
    """A CNN trained on the real digits, which later judges the generated ones."""
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="judge")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    return model, model.evaluate(*test, verbose=0)[1]


def digit_score(classifier, images):
    """exp(E_x KL(p(y|x) || p(y))) with the digit classifier: 1 for images it cannot tell apart, up to 10 for
    confident predictions spread evenly over the ten digits (Salimans et al., 2016, with this classifier)."""
    p = np.clip(classifier.predict(images, verbose=0).astype("float64"), 1e-12, 1)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def tile(images, columns):
    """Images (n, 8, 8, 1) laid out as one picture, `columns` wide, with a 1-pixel gap (white) between them."""
    rows = -(-len(images) // columns)
    picture = np.full((rows * 9 + 1, columns * 9 + 1), -1.0)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        picture[1 + row * 9:row * 9 + 9, 1 + column * 9:column * 9 + 9] = image[..., 0]
    return picture


def save_grid(images, filename, title, columns=8):
    figure, axis = plt.subplots(figsize=(4, 4.3))
    axis.imshow(tile(images, columns), cmap="gray_r", vmin=-1, vmax=1)
    axis.axis("off")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(filename, dpi=100)
    plt.close(figure)


def plot_progress(snapshots, out):
    """Rows: snapshot epochs; columns: the same 12 random codes."""
    figure, axis = plt.subplots(figsize=(7, 0.6 * len(snapshots) + 0.6))
    axis.imshow(tile(np.concatenate([images[:12] for images in snapshots.values()]), 12), cmap="gray_r",
                vmin=-1, vmax=1)
    axis.set_xticks([])
    axis.set_yticks(np.arange(len(snapshots)) * 9 + 5, [f"epoch {epoch}" for epoch in snapshots], fontsize=7)
    axis.set_title("The same 12 codes through the generator as it learns", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "progress.png", dpi=100)
    plt.close(figure)


def plot_training(log, real_score, out):
    epochs = np.arange(1, len(log["d_loss"]) + 1)
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss_axis.plot(epochs, log["d_loss"], color="#0072B2", label="discriminator")
    loss_axis.plot(epochs, log["g_loss"], color="#E69F00", label="generator")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("binary cross-entropy (epoch mean)")
    loss_axis.legend()
    score_axis.plot(np.arange(len(log["score"])), log["score"], color="#009E73", marker=".", label="generated")
    score_axis.axhline(real_score, color="#999999", linestyle="--", label="real test digits")
    score_axis.set_xlabel("epoch (0: before training)")
    score_axis.set_ylabel("digit score (1 to 10)")
    score_axis.legend()
    for axis in (loss_axis, score_axis):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "training.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred digits and two epochs, to see it run")
    parser.add_argument("--out", default="example-output/gan", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    (x_train, y_train), (x_test, y_test) = load_digits()
    if args.quick:
        x_train, y_train = x_train[:128], y_train[:128]
    epochs, scored = (2, 100) if args.quick else (100, 500)  # epochs; generated digits scored per epoch
    snapshots = sorted(set(np.geomspace(1, epochs, 8).round().astype(int).tolist()))

    classifier, classifier_accuracy = build_classifier((x_train, y_train), (x_test, y_test), 2 if args.quick else 30)
    real_score = digit_score(classifier, x_test)
    generator, discriminator, gan = build_gan()
    fixed_codes = rng.normal(size=(64, LATENT)).astype("float32")
    log = {"d_loss": [], "g_loss": [], "score": [digit_score(classifier, generator.predict(
        rng.normal(size=(scored, LATENT)).astype("float32"), verbose=0))]}
    grids = {}
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        steps = [train_step(generator, discriminator, gan, x_train[order[i:i + BATCH]], rng)
                 for i in range(0, len(x_train) - BATCH + 1, BATCH)]
        for key, values in zip(("d_loss", "g_loss"), zip(*steps)):
            log[key].append(float(np.mean(values)))
        samples = generator.predict(rng.normal(size=(scored, LATENT)).astype("float32"), verbose=0)
        log["score"].append(digit_score(classifier, samples))
        if epoch in snapshots:
            grids[epoch] = generator.predict(fixed_codes, verbose=0)
            save_grid(grids[epoch], out / f"samples_epoch_{epoch:03d}.png", f"Generated digits after epoch {epoch}")
        print(f"epoch {epoch:3d}: discriminator loss {log['d_loss'][-1]:.3f}, generator loss "
              f"{log['g_loss'][-1]:.3f}, digit score {log['score'][-1]:.2f}", flush=True)
    plot_progress(grids, out)
    plot_training(log, real_score, out)
    save_grid(x_test[:64], out / "real_digits.png", "Real digits (test set)")

    results = {"digit_score": {"untrained_generator": log["score"][0], "trained_generator": log["score"][-1],
                               "best_epoch": int(np.argmax(log["score"])), "best": float(max(log["score"])),
                               "real_test_digits": real_score},
               "classifier_test_accuracy": float(classifier_accuracy), "history": log, "epochs": epochs,
               "snapshot_epochs": snapshots, "train_images": len(x_train),
               "device": str(keras.config.device()), "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'digit score (1-10)':<28}{'':>6}")
    for name, value in results["digit_score"].items():
        print(f"  {name:<26}{value:>8.2f}" if name != "best_epoch" else f"  {name:<26}{value:>8d}")
    print(f"(judged by a classifier with {classifier_accuracy:.1%} test accuracy on real digits)")
    return results


if __name__ == "__main__":
    main()
