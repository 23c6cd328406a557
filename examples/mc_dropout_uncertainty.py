"""How sure is a classifier, and should it be? Monte Carlo dropout, calibration and out-of-distribution inputs.

A CNN with dropout learns five Fashion-MNIST classes (T-shirt, trouser, pullover, dress, coat). Keeping dropout on at
prediction time and averaging many passes (Monte Carlo dropout, Gal & Ghahramani 2016) gives a predictive
distribution whose entropy measures uncertainty. Look at `reliability_*.png` (is 90 % confidence right 90 % of the
time? ECE in the title), `entropy.png` (the five classes the model never saw, and noise images, should get higher
entropy than its own classes) and `examples.png` (the most and least certain test images, and unseen ones).
"""
import argparse
import json
import pathlib
import time

import matplotlib

matplotlib.use("Agg")  # draw to files, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import deepglass as keras  # noqa: E402
from deepglass import insight  # noqa: E402

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SEEN = [0, 1, 2, 3, 4]  # the classes the model learns; 5-9 are out of distribution


def load_data(quick):
    """Training and test images of the seen classes, test images of the unseen classes, and uniform noise images."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train, x_test = x_train[..., None] / np.float32(255), x_test[..., None] / np.float32(255)
    seen_train, seen_test = np.isin(y_train, SEEN), np.isin(y_test, SEEN)
    sizes = (500, 100) if quick else (None, 2500)
    train = x_train[seen_train][:sizes[0]], y_train[seen_train][:sizes[0]]
    test = x_test[seen_test][:sizes[1]], y_test[seen_test][:sizes[1]]
    unseen = x_test[~seen_test][:sizes[1]], y_test[~seen_test][:sizes[1]]
    noise = np.random.default_rng(0).uniform(size=(sizes[1] // 4, 28, 28, 1)).astype("float32")
    return train, test, unseen, noise


def build_model():
    """A small CNN with dropout after the convolutions and before the classifier: the dropout that MC dropout
    keeps on at prediction time."""
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Dropout(0.25),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(len(SEEN), activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def auroc(in_distribution, out_of_distribution):
    """Area under the ROC curve for flagging out-of-distribution inputs by their entropy: the probability that an
    out-of-distribution input is more uncertain than an in-distribution one (0.5: no better than chance)."""
    labels = np.r_[np.zeros(len(in_distribution)), np.ones(len(out_of_distribution))]
    return float(roc_auc_score(labels, np.r_[in_distribution, out_of_distribution]))


def plot_entropy(entropies, out):
    """Histograms of the MC-dropout predictive entropy for each group of inputs."""
    figure, axis = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, np.log(len(SEEN)), 31)
    colours = {"seen classes (test)": "#0072B2", "unseen classes": "#E69F00", "uniform noise": "#D55E00"}
    for (name, values), colour in zip(entropies.items(), colours.values()):
        axis.hist(values, bins=bins, density=True, alpha=0.5, color=colour,
                  label=f"{name}: mean {values.mean():.2f}")
    axis.axvline(np.log(len(SEEN)), color="#999999", linestyle=":", label="maximum, log 5")
    axis.set_xlabel("predictive entropy (nats)")
    axis.set_ylabel("density")
    axis.set_title("MC dropout: how unsure the model is, by kind of input")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "entropy.png", dpi=100)
    plt.close(figure)


def plot_examples(test, unseen, mc, out, count=8):
    """Rows: the most certain test images, the least certain ones, and unseen-class images; each titled with the
    prediction and the entropy."""
    (x_test, y_test), (x_unseen, y_unseen) = test, unseen
    (mean_test, _, entropy_test), (mean_unseen, _, entropy_unseen) = mc["test"], mc["unseen"]
    order = np.argsort(entropy_test)
    rows = [("most certain", x_test, y_test, mean_test, entropy_test, order[:count]),
            ("least certain", x_test, y_test, mean_test, entropy_test, order[::-1][:count]),
            ("unseen classes", x_unseen, y_unseen, mean_unseen, entropy_unseen, np.arange(count))]
    figure, axes = plt.subplots(3, count, figsize=(1.5 * count, 5.4))
    for row, (label, x, y, mean, entropy, indices) in zip(axes, rows):
        for axis, index in zip(row, indices):
            axis.imshow(x[index, ..., 0], cmap="gray_r")
            predicted = SEEN[int(mean[index].argmax())]
            axis.set_title(f"{NAMES[predicted][:8]}?\nH={entropy[index]:.2f}", fontsize=7,
                           color="#D55E00" if predicted != y[index] else "black")
            axis.set_xticks([])
            axis.set_yticks([])
        row[0].set_ylabel(label, fontsize=8)
    figure.suptitle("Prediction (red: wrong) and MC-dropout entropy H", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "examples.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a little data and few passes, to see it run")
    parser.add_argument("--out", default="example-output/mc_dropout_uncertainty",
                        help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    train, test, unseen, noise = load_data(args.quick)
    epochs, passes = (1, 3) if args.quick else (6, 50)

    model = build_model()
    history = model.fit(*train, batch_size=128, epochs=epochs, validation_split=0.1, verbose=2)
    keras.utils.plot_history(history, out / "history.png")
    plt.close("all")

    # One deterministic prediction (dropout off) against the mean of `passes` predictions with dropout on.
    softmax = {"test": model.predict(test[0], verbose=0), "unseen": model.predict(unseen[0], verbose=0),
               "noise": model.predict(noise, verbose=0)}
    mc = {name: insight.mc_dropout_predict(model, x, n=passes, batch_size=256)
          for name, x in (("test", test[0]), ("unseen", unseen[0]), ("noise", noise))}
    labels = test[1]  # the seen classes are 0-4, so a label is also the index of its output
    figure = insight.plot_reliability(labels, softmax["test"], filename=out / "reliability_softmax.png")
    plt.close(figure)
    figure = insight.plot_reliability(labels, mc["test"][0], filename=out / "reliability_mc_dropout.png")
    plt.close(figure)
    entropies = {"seen classes (test)": mc["test"][2], "unseen classes": mc["unseen"][2],
                 "uniform noise": mc["noise"][2]}
    plot_entropy(entropies, out)
    plot_examples(test, unseen, mc, out)

    softmax_entropy = {name: insight.predictive_entropy(p) for name, p in softmax.items()}
    per_unseen_class = {NAMES[c]: float(mc["unseen"][2][unseen[1] == c].mean()) for c in np.unique(unseen[1])}
    results = {
        "test_accuracy": {"softmax": float(np.mean(softmax["test"].argmax(1) == labels)),
                          "mc_dropout": float(np.mean(mc["test"][0].argmax(1) == labels))},
        "ece": {"softmax": insight.expected_calibration_error(labels, softmax["test"]),
                "mc_dropout": insight.expected_calibration_error(labels, mc["test"][0])},
        "mean_entropy": {"softmax": {name: float(h.mean()) for name, h in softmax_entropy.items()},
                         "mc_dropout": {name: float(mc[name][2].mean()) for name in mc}},
        "mean_entropy_per_unseen_class": per_unseen_class,
        # How well entropy alone flags out-of-distribution inputs (0.5: not at all, 1: perfectly).
        "auroc": {method: {group: auroc(h["test"], h[group]) for group in ("unseen", "noise")}
                  for method, h in (("softmax", softmax_entropy), ("mc_dropout", {n: mc[n][2] for n in mc}))},
        "mean_std_of_predicted_class": float(np.mean(mc["test"][1][np.arange(len(labels)), mc["test"][0].argmax(1)])),
        "passes": passes, "epochs": epochs, "train_images": len(train[0]),
        "device": str(keras.config.device()), "seconds": time.perf_counter() - start,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'':<22}{'softmax':>10}{'MC dropout':>12}")
    for key, label, fmt in (("test_accuracy", "test accuracy", ".1%"), ("ece", "ECE", ".3f")):
        print(f"{label:<22}{results[key]['softmax']:>10{fmt}}{results[key]['mc_dropout']:>12{fmt}}")
    for group, label in (("test", "entropy: seen (test)"), ("unseen", "entropy: unseen"),
                         ("noise", "entropy: noise")):
        print(f"{label:<22}{results['mean_entropy']['softmax'][group]:>10.3f}"
              f"{results['mean_entropy']['mc_dropout'][group]:>12.3f}")
    for group in ("unseen", "noise"):
        print(f"{'AUROC ' + group:<22}{results['auroc']['softmax'][group]:>10.3f}"
              f"{results['auroc']['mc_dropout'][group]:>12.3f}")
    return results


if __name__ == "__main__":
    main()
