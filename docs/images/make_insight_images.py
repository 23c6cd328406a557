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
from deepglass.insight import (expected_calibration_error, feature_maps, grad_cam, mc_dropout_predict,  # noqa: E402
                               overlay, plot_feature_maps, plot_filters, plot_reliability)

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
    probabilities = model.predict(x[1000:1300], verbose=0)
    print(f"Unregularised MLP, ECE on 300 validation digits: "
          f"{expected_calibration_error(y[1000:1300], probabilities):.3f}\n")
    plot_reliability(y[1000:1300], probabilities, filename=HERE / "insight_reliability.png")


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


def quadrant_images(count, rng):
    """16x16 noise images with a bright 4x4 patch in one quadrant; the label is the quadrant."""
    images = rng.uniform(0, 0.25, (count, 16, 16, 1)).astype("float32")
    labels = rng.integers(0, 4, count)
    for image, label in zip(images, labels):
        row, column = 8 * (label // 2) + rng.integers(0, 5), 8 * (label % 2) + rng.integers(0, 5)
        image[row:row + 4, column:column + 4] = 1.0
    return images, labels


def looking_inside():
    """A small CNN trained on quadrant images: its filters, feature maps and Grad-CAM maps."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    x, y = quadrant_images(400, rng)
    deepglass.config.set_random_seed(0)
    model = deepglass.Sequential([deepglass.Input((16, 16, 1)),
                                  layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_1"),
                                  layers.MaxPooling2D(2, name="pool"),
                                  layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_2"),
                                  layers.Flatten(), layers.Dense(4, activation="softmax", kernel_constraint="non_neg")])
    model.compile(optimizer=deepglass.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    plot_filters(model.get_layer("conv_1"), filename=HERE / "insight_filters.png")
    x_test, y_test = quadrant_images(8, np.random.default_rng(1))
    plot_feature_maps(feature_maps(model, x_test[:1], ["conv_1", "pool", "conv_2"]), max_channels=8,
                      filename=HERE / "insight_feature_maps.png")
    heat = grad_cam(model, x_test)
    figure, axes = plt.subplots(2, 4, figsize=(8, 5))
    for column in range(4):
        axes[0, column].imshow(x_test[column, :, :, 0], cmap="gray", vmin=0, vmax=1)
        axes[0, column].set_title(f"input (quadrant {y_test[column]})", fontsize=9)
        axes[1, column].imshow(overlay(x_test[column], heat[column]))
        axes[1, column].set_title("Grad-CAM of conv_2", fontsize=9)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Where the CNN looks: the class is the quadrant with the bright patch")
    figure.tight_layout()
    figure.savefig(HERE / "insight_grad_cam.png", dpi=100)
    plt.close(figure)


def blobs_uncertainty():
    """MC dropout on an MLP trained on two blobs: the spread near the data and far from it."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal((-2, 0), 0.5, (100, 2)), rng.normal((2, 0), 0.5, (100, 2))]).astype("float32")
    y = np.repeat([0, 1], 100)
    deepglass.config.set_random_seed(0)
    model = deepglass.Sequential([deepglass.Input((2,)), layers.Dense(64, activation="relu"), layers.Dropout(0.5),
                                  layers.Dense(64, activation="relu"), layers.Dropout(0.5),
                                  layers.Dense(2, activation="softmax")])
    model.compile(optimizer=deepglass.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    near = np.concatenate([rng.normal((-2, 0), 0.5, (50, 2)), rng.normal((2, 0), 0.5, (50, 2))]).astype("float32")
    angles = rng.uniform(0, 2 * np.pi, 100)
    far = (np.stack([np.cos(angles), np.sin(angles)], axis=1) * 30).astype("float32")
    for name, points in (("near the blobs", near), ("30 units away", far)):
        _, std, entropy = mc_dropout_predict(model, points, n=50)
        print(f"MC dropout {name}: mean std {std.mean():.4f}, mean predictive entropy {entropy.mean():.3f} nats")


def digits_mlp(learning_rate=0.05):
    """A small MLP on the 8x8 digits, taking the images as (8, 8) arrays."""
    deepglass.config.set_random_seed(0)
    model = deepglass.Sequential([deepglass.Input((8, 8)), layers.Flatten(), layers.Dense(32, activation="relu"),
                                  layers.Dense(10, activation="softmax")])
    model.compile(optimizer=deepglass.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def mistakes_and_learning_rates(x, y):
    """The learning-rate range test, learning curves, confusion matrix and top losses of a digits MLP."""
    from deepglass.insight import lr_find, plot_confusion_matrix, plot_top_losses
    from deepglass.utils import plot_history

    images = x.reshape(-1, 8, 8)
    train, test = slice(0, 1000), slice(1000, None)
    finder = lr_find(digits_mlp(), images[train], y[train])
    print(f"lr_find on the digits MLP: suggestion {finder.suggestion:.3g}, lowest loss at {finder.min_loss_lr:.3g}, "
          f"steepest fall at {finder.steepest_lr:.3g}, {len(finder.lrs)} steps")
    for rate in (finder.steepest_lr, finder.suggestion):
        history = digits_mlp(learning_rate=rate).fit(images[train], y[train], validation_split=0.2, epochs=30,
                                                     verbose=0)
        print(f"  30 epochs at {rate:.2g}: best validation accuracy {max(history.history['val_accuracy']):.3f}")
    print()
    finder.plot(HERE / "insight_lr_find.png")
    model = digits_mlp(learning_rate=round(finder.suggestion, 2))
    history = model.fit(images[train], y[train], validation_split=0.2, epochs=30, verbose=0)
    plot_history(history, HERE / "insight_history.png", title="Digits MLP, SGD at the suggested learning rate")
    plot_confusion_matrix(model, images[test], y[test], path=HERE / "insight_confusion.png")
    plot_top_losses(model, images[test], y[test], k=8, path=HERE / "insight_top_losses.png")


def model_graph():
    """plot_model on a small residual CNN with a branching head."""
    from deepglass.utils import plot_model

    inputs = deepglass.Input((32, 32, 3), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inputs)
    y = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_a")(x)
    y = layers.Conv2D(16, 3, padding="same", name="conv_b")(y)
    x = layers.Add(name="residual")([x, y])
    pooled = [layers.GlobalAveragePooling2D(name="average")(x), layers.GlobalMaxPooling2D(name="maximum")(x)]
    x = layers.Concatenate(name="both")(pooled)
    outputs = layers.Dense(10, activation="softmax", name="classifier")(x)
    plot_model(deepglass.Model(inputs, outputs, name="small_resnet"), HERE / "insight_model.png", show_shapes=True,
               show_layer_names=True, dpi=72)


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
    looking_inside()
    blobs_uncertainty()
    mistakes_and_learning_rates(x, y)
    model_graph()
    for path in HERE.glob("insight_*.png"):
        shrink(path.name)


if __name__ == "__main__":
    main()
