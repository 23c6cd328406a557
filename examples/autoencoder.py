"""Convolutional autoencoders: transposed convolution against resize-convolution, and a denoising autoencoder.

Two autoencoders compress Fashion-MNIST images to 16 numbers and rebuild them; they differ only in how the decoder
upsamples: `Conv2DTranspose(strides=2)`, or `UpSampling2D` then `Conv2D` (resize-convolution, Odena et al. 2016).
A 3x3 transposed convolution with stride 2 covers some output pixels more often than others, which leaves a
checkerboard pattern. Look at `checkerboard.png` (a constant input through one layer of each kind, and the mean
power spectrum of the reconstructions: the pattern is the energy at the highest frequency, the frame's edges),
`checkerboard_training.png` (that energy as each autoencoder trains: the transposed convolution starts with it and
must learn to cancel it), `reconstructions.png`, and `denoising.png` (trained to map noisy images to clean ones).
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
NOISE = 0.3  # standard deviation of the Gaussian noise of the denoising task


def load_images(quick):
    (x_train, _), (x_test, _) = keras.datasets.fashion_mnist.load_data()
    x_train, x_test = x_train[..., None] / np.float32(255), x_test[..., None] / np.float32(255)
    return (x_train[:300], x_test[:100]) if quick else (x_train[:20000], x_test[:2000])


def encoder():
    """28x28 -> 14x14 -> 7x7 by strided convolutions, then 16 numbers."""
    return [keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(LATENT)]


def decoder(upsampling):
    """16 numbers -> 7x7x64 -> 14x14 -> 28x28, upsampling by `Conv2DTranspose` or by `UpSampling2D` + `Conv2D`
    (the same number of weights either way)."""
    def up(filters, activation):
        if upsampling == "transposed":
            return [keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation=activation)]
        return [keras.layers.UpSampling2D(2), keras.layers.Conv2D(filters, 3, padding="same", activation=activation)]
    return [keras.layers.Dense(7 * 7 * 64, activation="relu"), keras.layers.Reshape((7, 7, 64)),
            *up(32, "relu"), *up(1, "sigmoid")]


def build_autoencoder(upsampling):
    """The autoencoder, and its two halves as models of their own (they share their layers with it)."""
    encode = keras.Sequential([keras.Input((28, 28, 1)), *encoder()], name="encoder")
    decode = keras.Sequential([keras.Input((LATENT,)), *decoder(upsampling)], name=f"{upsampling}_decoder")
    autoencoder = keras.Sequential([encode, decode], name=f"{upsampling}_autoencoder")
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    return autoencoder, encode, decode


class CheckerboardMeter(keras.callbacks.Callback):
    """Every `every` training steps (and before the first), the period-2 energy of the model's outputs for
    `images`: how strong the checkerboard is as training goes on."""

    def __init__(self, images, every):
        super().__init__()
        self.images, self.every = images, every
        self.steps, self.energy = [], []

    def measure(self):
        self.energy.append(nyquist_fraction(self.model.predict(self.images, verbose=0)))
        self.steps.append(len(self.steps) * self.every)

    def on_train_begin(self, logs=None):
        self.measure()

    def on_train_batch_end(self, batch, logs=None):
        self.done = getattr(self, "done", 0) + 1
        if self.done % self.every == 0:
            self.measure()


def one_layer_on_constant():
    """A constant 7x7 image through one layer of each kind, every weight 1: the transposed convolution's output
    counts how many times the kernel covers each pixel (1, 2 or 4), the resize-convolution's is flat inside."""
    constant = np.ones((1, 7, 7, 1), dtype="float32")
    transposed = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Conv2DTranspose(
        1, 3, strides=2, padding="same", use_bias=False, kernel_initializer="ones")])
    resized = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.UpSampling2D(2), keras.layers.Conv2D(
        1, 3, padding="same", use_bias=False, kernel_initializer="ones")])
    return transposed.predict(constant, verbose=0)[0, ..., 0], resized.predict(constant, verbose=0)[0, ..., 0]


def power_spectrum(images):
    """The mean power spectrum of `images` (n, 28, 28, 1), zero frequency in the centre, the mean image removed
    first so that only the images' own details count."""
    x = images[..., 0] - images[..., 0].mean(axis=(1, 2), keepdims=True)
    return np.fft.fftshift(np.mean(np.abs(np.fft.fft2(x)) ** 2, axis=0))


def nyquist_fraction(images):
    """The share of the spectrum's energy at the highest frequency of either axis (period 2 pixels: a pattern that
    alternates every pixel, such as a checkerboard). After fftshift that frequency is row 0 and column 0."""
    spectrum = power_spectrum(images)
    return float((spectrum[0, :].sum() + spectrum[:, 0].sum() - spectrum[0, 0]) / spectrum.sum())


def psnr(clean, other):
    """Peak signal-to-noise ratio in dB for images in [0, 1]: 10 log10(1 / MSE)."""
    return float(10 * np.log10(1.0 / np.mean((clean - other) ** 2)))


def plot_checkerboard(layer_outputs, spectra, out):
    figure, axes = plt.subplots(1, 5, figsize=(16, 3.4))
    for axis, image, title in zip(axes[:2], layer_outputs, ("Conv2DTranspose(3, strides=2)",
                                                            "UpSampling2D + Conv2D(3)")):
        shown = axis.imshow(image, cmap="viridis")
        axis.set_title(f"{title}\non a constant input", fontsize=8)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    limits = np.log10(max(s.max() for s in spectra.values()))
    for axis, (name, spectrum) in zip(axes[2:], spectra.items()):
        shown = axis.imshow(np.log10(spectrum + 1e-9), cmap="magma", vmin=limits - 6, vmax=limits)
        axis.set_title(f"log power spectrum: {name}", fontsize=8)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Checkerboard artefacts: uneven overlap of a strided transposed convolution (left); energy at "
                    "the highest frequency, the spectra's top row and left column (right)", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "checkerboard.png", dpi=100)
    plt.close(figure)


def plot_training(meters, reference, out):
    """The period-2 energy of each autoencoder's reconstructions as it trains."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for (name, meter), colour in zip(meters.items(), ("#D55E00", "#0072B2")):
        axis.plot(meter.steps, meter.energy, color=colour, marker=".", label=f"{name} decoder")
    axis.axhline(reference, color="#999999", linestyle="--", label="test images themselves")
    axis.set_yscale("log")
    axis.set_xlabel("training step")
    axis.set_ylabel("share of energy at period 2")
    axis.set_title("Checkerboard energy of the reconstructions during training")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "checkerboard_training.png", dpi=100)
    plt.close(figure)


def plot_rows(rows, filename, title, count=10):
    """One row of images per entry of `rows`."""
    figure, axes = plt.subplots(len(rows), count, figsize=(1.3 * count, 1.4 * len(rows)), squeeze=False)
    for row, (label, images) in zip(axes, rows.items()):
        for axis, image in zip(row, images[:count]):
            axis.imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
        row[0].set_ylabel(label, fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(filename, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a little data and one epoch, to see it run")
    parser.add_argument("--out", default="example-output/autoencoder", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    x_train, x_test = load_images(args.quick)
    epochs = 1 if args.quick else 5

    rng = np.random.default_rng(0)
    reconstructions, random_decodes, losses, meters = {}, {}, {}, {}
    for upsampling in ("transposed", "resize"):
        model, encode, decode = build_autoencoder(upsampling)
        meters[upsampling] = CheckerboardMeter(x_test[:500], every=1 if args.quick else 20)
        model.fit(x_train, x_train, batch_size=128, epochs=epochs, callbacks=[meters[upsampling]], verbose=2)
        reconstructions[upsampling] = model.predict(x_test, verbose=0)
        losses[upsampling] = float(model.evaluate(x_test, x_test, verbose=0))
        # Codes the decoder was not trained on: random, with the spread of the test images' codes.
        codes = encode.predict(x_test, verbose=0)
        random_codes = rng.normal(codes.mean(axis=0), codes.std(axis=0), size=codes.shape).astype("float32")
        random_decodes[upsampling] = decode.predict(random_codes, verbose=0)

    # Denoising: the resize-convolution autoencoder again, now fed noisy images and asked for the clean ones.
    noisy_train = np.clip(x_train + NOISE * rng.normal(size=x_train.shape), 0, 1).astype("float32")
    noisy_test = np.clip(x_test + NOISE * rng.normal(size=x_test.shape), 0, 1).astype("float32")
    denoiser, _, _ = build_autoencoder("resize")
    denoiser.fit(noisy_train, x_train, batch_size=128, epochs=epochs, verbose=2)
    denoised = denoiser.predict(noisy_test, verbose=0)
    plain_on_noisy = model.predict(noisy_test, verbose=0)  # `model` is the plain resize autoencoder

    spectra = {"test images": power_spectrum(x_test), "Conv2DTranspose AE": power_spectrum(reconstructions[
        "transposed"]), "resize-conv AE": power_spectrum(reconstructions["resize"])}
    plot_checkerboard(one_layer_on_constant(), spectra, out)
    plot_training(meters, nyquist_fraction(x_test), out)
    plot_rows({"original": x_test, "Conv2DTranspose": reconstructions["transposed"],
               "resize-conv": reconstructions["resize"], "Conv2DTranspose,\nrandom codes": random_decodes["transposed"],
               "resize-conv,\nrandom codes": random_decodes["resize"]}, out / "reconstructions.png",
              f"Reconstructions from {LATENT} numbers, and images decoded from random codes")
    plot_rows({"clean": x_test, f"noisy (sd {NOISE})": noisy_test, "plain AE": plain_on_noisy,
               "denoising AE": denoised}, out / "denoising.png", "A denoising autoencoder against a plain one")

    results = {
        "test_loss": losses,
        "nyquist_energy_fraction": {"test_images": nyquist_fraction(x_test),
                                    **{name: nyquist_fraction(images) for name, images in reconstructions.items()}},
        "nyquist_energy_fraction_random_codes": {name: nyquist_fraction(images)
                                                 for name, images in random_decodes.items()},
        "nyquist_energy_fraction_during_training": {name: {"steps": meter.steps, "energy": meter.energy}
                                                    for name, meter in meters.items()},
        "psnr_db": {"noisy": psnr(x_test, noisy_test), "plain_autoencoder": psnr(x_test, plain_on_noisy),
                    "denoising_autoencoder": psnr(x_test, denoised)},
        "epochs": epochs, "train_images": len(x_train), "latent": LATENT,
        "device": str(keras.config.device()), "seconds": time.perf_counter() - start,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'share of energy at period 2':<28}{'untrained':>12}{'trained':>12}{'random codes':>14}{'test loss':>11}")
    for name in ("transposed", "resize"):
        print(f"{name + ' decoder':<28}{meters[name].energy[0]:>12.2e}{results['nyquist_energy_fraction'][name]:>12.2e}"
              f"{results['nyquist_energy_fraction_random_codes'][name]:>14.2e}{losses[name]:>11.4f}")
    print(f"{'test images themselves':<28}{'':>12}{results['nyquist_energy_fraction']['test_images']:>12.2e}")
    print("\nPSNR against the clean test images (higher is better):")
    for name, value in results["psnr_db"].items():
        print(f"  {name:<24}{value:6.2f} dB")
    return results


if __name__ == "__main__":
    main()
