"""1-D convolutions on spectra: which kind of source is it, and how far away (its redshift)?

The script simulates optical spectra of four kinds of source (star, passive galaxy, star-forming galaxy, quasar),
each with its own emission and absorption lines at their rest wavelengths, a continuum slope, photon (Poisson)
noise and a redshift that stretches the wavelength axis: a line emitted at `lambda` is seen at `lambda * (1 + z)`.
A Conv1D network classifies them and a second one measures z. Look at `spectra.png` (one spectrum per class),
`filters.png` (the first layer's learned kernels: line and edge detectors), `confusion.png` and `redshift.png`
(predicted against true redshift).
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
from deepglass import insight  # noqa: E402

WAVELENGTH = np.linspace(3800.0, 9200.0, 512)  # observed wavelengths in angstrom, as an SDSS-like spectrograph
CLASSES = ("star", "passive galaxy", "star-forming galaxy", "quasar")
# Rest wavelengths (angstrom) of the lines each class shows: (name, wavelength, sign, profile, width, strength).
# Sign +1 is emission, -1 absorption; width is the Gaussian sigma or the Lorentzian half width, in the rest frame.
LINES = {
    "star": [("H-delta", 4102, -1, "lorentz", 12, 0.45), ("H-gamma", 4340, -1, "lorentz", 12, 0.5),
             ("H-beta", 4861, -1, "lorentz", 14, 0.5), ("H-alpha", 6563, -1, "lorentz", 16, 0.45)],
    "passive galaxy": [("Ca K", 3934, -1, "gauss", 8, 0.45), ("Ca H", 3969, -1, "gauss", 8, 0.4),
                       ("G band", 4304, -1, "gauss", 10, 0.2), ("Mg b", 5175, -1, "gauss", 10, 0.25),
                       ("Na D", 5894, -1, "gauss", 8, 0.2)],
    "star-forming galaxy": [("[OII]", 3727, 1, "gauss", 3, 3.0), ("H-beta", 4861, 1, "gauss", 3, 1.5),
                            ("[OIII]", 4959, 1, "gauss", 3, 1.2), ("[OIII]", 5007, 1, "gauss", 3, 3.5),
                            ("H-alpha", 6563, 1, "gauss", 3, 5.0), ("[NII]", 6583, 1, "gauss", 3, 1.5),
                            ("[SII]", 6716, 1, "gauss", 3, 1.0)],
    "quasar": [("Mg II", 2798, 1, "lorentz", 40, 2.0), ("H-gamma", 4340, 1, "lorentz", 35, 0.8),
               ("H-beta", 4861, 1, "lorentz", 40, 1.6), ("[OIII]", 5007, 1, "gauss", 5, 1.0),
               ("H-alpha", 6563, 1, "lorentz", 45, 3.0)],
}
# Continuum: a power law F ~ (lambda / 5500)^slope, slope drawn around the class's value; passive galaxies also
# have the 4000 angstrom break (less light bluewards of 4000 angstrom in the rest frame).
SLOPES = {"star": -2.0, "passive galaxy": 1.5, "star-forming galaxy": -0.5, "quasar": -1.5}
MAX_REDSHIFT = 0.6
# The spectrograph blurs every line by its resolution: a Gaussian of about one pixel (10.5 angstrom here).
INSTRUMENT_SIGMA = float(WAVELENGTH[1] - WAVELENGTH[0])


def profile(wavelength, centre, kind, width):
    """A line profile of peak 1: Gaussian (thermal and velocity broadening) or Lorentzian (pressure broadening)."""
    offset = (wavelength - centre) / width
    return np.exp(-0.5 * offset**2) if kind == "gauss" else 1.0 / (1.0 + offset**2)


def spectrum(label, redshift, snr, rng):
    """One observed spectrum: continuum times absorption, plus emission, redshifted, with photon noise."""
    kind = CLASSES[label]
    stretch = 1.0 + redshift
    rest = WAVELENGTH / stretch  # the rest-frame wavelength each pixel sees
    flux = (rest / 5500.0) ** (SLOPES[kind] + rng.normal(0, 0.3))
    if kind == "passive galaxy":
        flux *= np.where(rest < 4000, rng.uniform(0.45, 0.65), 1.0)
    emission = np.zeros_like(flux)
    for _, centre, sign, shape, width, strength in LINES[kind]:
        width = width * stretch  # observed, a line is (1 + z) times wider...
        if shape == "gauss":  # ...and blurred by the instrument (Gaussian widths add in quadrature)
            width = np.hypot(width, INSTRUMENT_SIGMA)
        line = strength * rng.uniform(0.6, 1.4) * profile(WAVELENGTH, centre * stretch, shape, width)
        if sign < 0:
            flux *= 1.0 - np.clip(line, 0, 0.95)
        else:
            emission += line * np.median(flux)
    flux = (flux + emission) / np.median(flux + emission)
    # Photon noise: the counts in a pixel are Poisson; `snr` is the signal-to-noise ratio of a median pixel.
    counts = rng.poisson(flux * snr**2)
    return (counts / snr**2).astype("float32")


def make_spectra(count, seed):
    """`count` spectra `(count, 512, 1)`, their classes and redshifts; stars have Galactic velocities only."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), count)
    redshifts = np.where(labels == 0, rng.normal(0, 0.0005, count), rng.uniform(0.0, MAX_REDSHIFT, count))
    snrs = rng.uniform(4, 25, count)
    x = np.stack([spectrum(label, z, snr, rng) for label, z, snr in zip(labels, redshifts, snrs)])
    return x[..., None], labels, redshifts.astype("float32")


def conv_body(inputs):
    """Three Conv1D blocks: kernels of 9, 7 and 5 pixels, each followed by max pooling."""
    x = inputs
    for filters, size in ((16, 9), (32, 7), (64, 5)):
        x = keras.layers.Conv1D(filters, size, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling1D(2)(x)
    return keras.layers.Flatten()(x)  # keeps where along the spectrum a feature was: the redshift is a position


def build_classifier():
    inputs = keras.Input((len(WAVELENGTH), 1))
    x = keras.layers.Dense(64, activation="relu")(conv_body(inputs))
    model = keras.Model(inputs, keras.layers.Dense(len(CLASSES), activation="softmax")(x), name="classifier")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_regressor():
    inputs = keras.Input((len(WAVELENGTH), 1))
    x = keras.layers.Dense(64, activation="relu")(conv_body(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(x), name="redshift")
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def plot_spectra(x, labels, redshifts, path):
    """The first spectrum of each class, with its lines marked where the redshift puts them."""
    figure, axes = plt.subplots(len(CLASSES), 1, figsize=(10, 9), sharex=True)
    for label, axis in enumerate(axes):
        index = int(np.flatnonzero(labels == label)[0])
        axis.plot(WAVELENGTH, x[index, :, 0], color="#0072B2", linewidth=0.8)
        for name, centre, *_ in LINES[CLASSES[label]]:
            observed = centre * (1 + redshifts[index])
            if WAVELENGTH[0] < observed < WAVELENGTH[-1]:
                axis.axvline(observed, color="#D55E00", linestyle=":", linewidth=0.8)
                axis.text(observed, axis.get_ylim()[1], name, fontsize=7, rotation=90, va="top", ha="right")
        axis.set_title(f"{CLASSES[label]} at z = {redshifts[index]:.4f}", fontsize=10)
        axis.set_ylabel("flux / median")
    axes[-1].set_xlabel("observed wavelength (angstrom)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_redshift(z_true, z_pred, labels, path):
    figure, axis = plt.subplots(figsize=(5.5, 5))
    for label, colour in zip(range(len(CLASSES)), ("#999999", "#D55E00", "#009E73", "#0072B2")):
        chosen = labels == label
        axis.scatter(z_true[chosen], z_pred[chosen], s=6, alpha=0.6, color=colour, label=CLASSES[label])
    axis.plot([0, MAX_REDSHIFT], [0, MAX_REDSHIFT], color="black", linewidth=0.8, label="perfect")
    axis.set_xlabel("true redshift")
    axis.set_ylabel("predicted redshift")
    axis.set_title("Redshift from the spectrum (test set)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def redshift_scores(z_true, z_pred):
    """Mean absolute error, and the normalised median absolute deviation astronomers quote for redshifts,
    `1.4826 * median(|dz - median(dz)|)` with `dz = (z_pred - z_true) / (1 + z_true)`."""
    dz = (z_pred - z_true) / (1 + z_true)
    return {"mae": float(np.mean(np.abs(z_pred - z_true))),
            "sigma_nmad": float(1.4826 * np.median(np.abs(dz - np.median(dz)))),
            "outlier_fraction": float(np.mean(np.abs(dz) > 0.05))}  # catastrophic errors: |dz| above 0.05


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred spectra and two epochs, to see it run")
    parser.add_argument("--out", default="example-output/spectra_conv1d", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    train_count, epochs = (600, 3) if args.quick else (8000, 20)
    x_train, y_train, z_train = make_spectra(train_count, seed=1)
    x_test, y_test, z_test = make_spectra(train_count // 4, seed=2)
    plot_spectra(x_test, y_test, z_test, out / "spectra.png")

    classifier = build_classifier()
    classifier.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.1, verbose=2 if args.quick else 0)
    _, accuracy = classifier.evaluate(x_test, y_test, verbose=0)
    first_conv = next(layer for layer in classifier.layers if isinstance(layer, keras.layers.Conv1D))
    insight.plot_filters(first_conv, filename=out / "filters.png")
    insight.plot_confusion_matrix(classifier, x_test, y_test, class_names=list(CLASSES), path=out / "confusion.png")
    plt.close("all")

    regressor = build_regressor()
    regressor.fit(x_train, z_train, batch_size=64, epochs=epochs, validation_split=0.1, verbose=2 if args.quick else 0)
    z_pred = regressor.predict(x_test, verbose=0)[:, 0]
    plot_redshift(z_test, z_pred, y_test, out / "redshift.png")
    galaxies = y_test != 0  # stars sit at z = 0: score the redshift on the galaxies and quasars
    results = {"classification_accuracy": float(accuracy), "chance_accuracy": 1 / len(CLASSES),
               "redshift": redshift_scores(z_test[galaxies], z_pred[galaxies]), "train_spectra": train_count,
               "epochs": epochs, "device": str(keras.config.device()), "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"classification accuracy  {accuracy:.1%}  (chance {1 / len(CLASSES):.0%})")
    for name, value in results["redshift"].items():
        print(f"redshift {name:<16}{value:.4f}")
    return results


if __name__ == "__main__":
    main()
