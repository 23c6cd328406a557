"""What does a CNN look at? Filters, feature maps, Grad-CAM and saliency maps of a Fashion-MNIST classifier.

Look at `filters.png` (the first layer's 3x3 kernels: edge and blob detectors), `feature_maps.png` (what each layer
makes of one image: edges first, parts later, coarser and more abstract), `gradcam.png` (one image per class, with
where the evidence for the predicted class lies by Grad-CAM and by the input gradient), and `gradcam_classes.png`
(one image explained for each of the ten classes: Grad-CAM is class-specific). An occlusion test asks how much the
maps tell: it blanks the 7x7 square where each map holds the most evidence, or a random square of the garment, and
compares how far the predicted class's probability falls.
"""
import argparse
import json
import pathlib
import time

import matplotlib

matplotlib.use("Agg")  # draw to files, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

import deepglass as keras  # noqa: E402
from deepglass import insight  # noqa: E402

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_data(quick):
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train, x_test = x_train[..., None] / np.float32(255), x_test[..., None] / np.float32(255)
    if quick:
        return (x_train[:1000], y_train[:1000]), (x_test[:100], y_test[:100])
    return (x_train, y_train), (x_test, y_test)


def build_model():
    """Three named convolution layers (28x28, 14x14 and 7x7 maps), global average pooling and the classifier.

    Averaging each channel of `conv3` over the image before the classifier (rather than flattening) makes each
    channel a detector whose location does not matter to the classifier; Grad-CAM, which weighs each channel by its
    average gradient, then tells exactly where the evidence is (Grad-CAM is CAM for such a network)."""
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Conv2D(128, 3, padding="same", activation="relu", name="conv3"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax", name="classifier"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def one_per_class(y):
    """The index of the first test image of each class (classes missing from `y` are skipped)."""
    return [int(np.flatnonzero(y == c)[0]) for c in range(10) if np.any(y == c)]


def plot_explanations(model, x, y, out):
    """Columns: one image per class. Rows: the image, Grad-CAM over it, the saliency map."""
    indices = one_per_class(y)
    images = x[indices]
    heat = insight.grad_cam(model, images, layer="conv3")  # for the predicted class
    sal = insight.saliency(model, images)
    predicted = model.predict(images, verbose=0).argmax(1)
    figure, axes = plt.subplots(3, len(indices), figsize=(1.4 * len(indices), 4.8), squeeze=False)
    for column, index in enumerate(indices):
        axes[0, column].imshow(images[column, ..., 0], cmap="gray_r")
        axes[0, column].set_title(f"{NAMES[y[index]]}\n-> {NAMES[predicted[column]]}", fontsize=7)
        axes[1, column].imshow(insight.overlay(images[column], heat[column]))
        axes[2, column].imshow(sal[column], cmap="inferno")
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    for row, label in enumerate(("image", "Grad-CAM", "saliency")):
        axes[row, 0].set_ylabel(label, fontsize=8)
    figure.suptitle("Where the evidence for the predicted class lies (true -> predicted)", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "gradcam.png", dpi=100)
    plt.close(figure)


def plot_class_maps(model, image, label, out):
    """One image, Grad-CAM for each of the ten classes with the model's probability for it."""
    probabilities = model.predict(image[None], verbose=0)[0]
    heat = insight.grad_cam(model, np.repeat(image[None], 10, axis=0), class_index=list(range(10)), layer="conv3")
    figure, axes = plt.subplots(1, 11, figsize=(15, 1.9))
    axes[0].imshow(image[..., 0], cmap="gray_r")
    axes[0].set_title(f"input: {NAMES[label]}", fontsize=7)
    for c in range(10):
        axes[c + 1].imshow(insight.overlay(image, heat[c]))
        axes[c + 1].set_title(f"{NAMES[c]}\np={probabilities[c]:.2f}", fontsize=7)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Grad-CAM of one image for each class: the evidence differs by class", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "gradcam_classes.png", dpi=100)
    plt.close(figure)


def occlusion_test(model, x, size=7, seed=0):
    """Blank (set to 0, the background) a `size` x `size` square of each image and measure the mean drop in the
    probability of the class predicted before. The square goes where a map holds the most evidence (the largest sum
    of the map over the square) or, as the baseline, anywhere at random: the same damage, placed by the map or by
    chance. Only squares mostly on the garment are candidates, for every method."""
    before = model.predict(x, verbose=0)
    rows, predicted = np.arange(len(x)), before.argmax(1)

    def squares(maps):  # the sum of each map over every size x size square: (n, 29 - size, 29 - size)
        return sliding_window_view(maps, (size, size), axis=(1, 2)).sum(axis=(-1, -2))

    on_garment = squares((x[..., 0] > 0.1).astype("float32")) > size * size / 2
    scores = {"grad_cam": squares(insight.grad_cam(model, x, layer="conv3")),
              "saliency": squares(insight.saliency(model, x)),
              "random_square": np.random.default_rng(seed).uniform(size=on_garment.shape)}
    drops = {}
    for method, score in scores.items():
        score = np.where(on_garment, score, -np.inf).reshape(len(x), -1)
        tops, lefts = np.unravel_index(score.argmax(1), on_garment.shape[1:])
        blanked = x.copy()
        for image, top, left in zip(blanked, tops, lefts):
            image[top:top + size, left:left + size] = 0.0
        after = model.predict(blanked, verbose=0)
        drops[method] = float(np.mean(before[rows, predicted] - after[rows, predicted]))
    return drops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a little data and two epochs, to see it run")
    parser.add_argument("--out", default="example-output/gradcam_feature_maps", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_data(args.quick)
    epochs = 2 if args.quick else 5

    model = build_model()
    history = model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)

    plt.close(insight.plot_filters(model.get_layer("conv1"), filename=out / "filters.png"))
    maps = insight.feature_maps(model, x_test[:1], ["conv1", "conv2", "conv3"])
    plt.close(insight.plot_feature_maps(maps, max_channels=12, filename=out / "feature_maps.png"))
    plot_explanations(model, x_test, y_test, out)
    wrong = np.flatnonzero(model.predict(x_test, verbose=0).argmax(1) != y_test)
    index = int(wrong[0]) if len(wrong) else 0  # a mistake is the most telling image to explain
    plot_class_maps(model, x_test[index], int(y_test[index]), out)
    drops = occlusion_test(model, x_test[:50 if args.quick else 1000])

    results = {"test_accuracy": float(accuracy), "epochs": epochs, "train_images": len(x_train),
               "final_loss": float(history.history["loss"][-1]),
               "feature_map_shapes": {name: list(array.shape[1:]) for name, array in maps.items()},
               "probability_drop_after_occlusion": drops,
               "device": str(keras.config.device()), "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\ntest accuracy: {accuracy:.1%}")
    print("feature maps: " + ", ".join(f"{n} {tuple(s)}" for n, s in results["feature_map_shapes"].items()))
    print("mean drop of the predicted class's probability after blanking a 7x7 square placed by:")
    for method, drop in drops.items():
        print(f"  {method:<24}{drop:+.3f}")
    return results


if __name__ == "__main__":
    main()
