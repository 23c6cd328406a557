"""Draw the pictures of docs/insight.md: run `python docs/images/make_insight_images.py` from the repository root.

Needs scikit-learn (the digits data), matplotlib and pillow. Prints the findings quoted in the page.
"""
import pathlib

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import deepglass  # noqa: E402
from deepglass import initializers, layers  # noqa: E402
from deepglass.insight import Monitor, diagnose, plot_activation_stats, plot_gradient_flow  # noqa: E402

HERE = pathlib.Path(__file__).parent


def digits():
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    return (data.data[order] / 16).astype("float32"), data.target[order]


def overfitting_curves(x, y):
    deepglass.config.set_random_seed(0)
    model = deepglass.Sequential([deepglass.Input((64,)), layers.Dense(128, activation="relu"),
                                  layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=deepglass.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    history = model.fit(x[:300], y[:300], validation_data=(x[1000:1300], y[1000:1300]), epochs=40, verbose=0)
    findings = diagnose(history, model=model)
    for finding in findings:
        print(finding, end="\n\n")
    draw_overfitting(history.history, findings[0])


def draw_overfitting(logs, finding):
    """The learning curves on a log scale, with the finding's best epoch and overfitting epochs marked."""
    import matplotlib.pyplot as plt
    from deepglass.insight.plots import BLUE, GREY, ORANGE, VERMILION

    epochs = range(1, len(logs["loss"]) + 1)
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.plot(epochs, logs["loss"], color=BLUE, marker="o", markersize=3, label="training loss")
    axis.plot(epochs, logs["val_loss"], color=ORANGE, marker="o", markersize=3, label="validation loss")
    axis.axvspan(finding.epochs[0] - 0.5, finding.epochs[-1] + 0.5, color=VERMILION, alpha=0.08,
                 label=f"overfitting (epochs {finding.epochs[0]}-{finding.epochs[-1]})")
    axis.axvline(finding.evidence["best_epoch"], color=GREY, linestyle="--",
                 label=f"best epoch ({finding.evidence['best_epoch']})")
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("sparse categorical cross-entropy (log scale)")
    axis.set_title("An unregularised MLP on 300 digits: " + finding.summary)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(HERE / "insight_overfitting.png", dpi=100)
    plt.close(figure)


def deep_mlp(activation, initializer, x, y):
    deepglass.config.set_random_seed(0)
    hidden = [layers.Dense(32, activation=activation, kernel_initializer=initializer, name=f"dense_{i + 1}")
              for i in range(19)]
    model = deepglass.Sequential([deepglass.Input((64,))] + hidden
                                 + [layers.Dense(10, activation="softmax", name="output")])
    model.compile(optimizer=deepglass.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    monitor = Monitor(every_n_steps=10)
    model.fit(x[:1000], y[:1000], epochs=2, batch_size=32, verbose=0, callbacks=[monitor])
    for finding in monitor.findings():
        print(finding, end="\n\n")
    return monitor


def shrink(name):
    """Store a picture with a 128-colour palette: the same look in a third of the bytes."""
    path = HERE / name
    Image.open(path).convert("RGB").quantize(128).save(path, optimize=True)


def main():
    x, y = digits()
    overfitting_curves(x, y)
    sigmoid = deep_mlp("sigmoid", "glorot_uniform", x, y)
    plot_gradient_flow(sigmoid, HERE / "insight_gradient_flow_sigmoid.png")
    plot_activation_stats(sigmoid, HERE / "insight_activations_sigmoid.png")
    relu = deep_mlp("relu", "he_normal", x, y)
    plot_gradient_flow(relu, HERE / "insight_gradient_flow_relu.png")
    saturated = deep_mlp("tanh", initializers.RandomNormal(stddev=1.5), x, y)
    plot_activation_stats(saturated, HERE / "insight_activations_tanh_large_init.png")
    for path in HERE.glob("insight_*.png"):
        shrink(path.name)


if __name__ == "__main__":
    main()
