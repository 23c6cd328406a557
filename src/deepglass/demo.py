"""The demo behind `deepglass demo`: a small CNN learns scikit-learn's bundled 8x8 digits (no download)."""
import os
import time

import numpy as np

import deepglass
from deepglass import layers


def load_digits_split(test_fraction=0.25, seed=0):
    """The 1,797 8x8 digit images as (n, 8, 8, 1) floats in [0, 1], split into train and test sets."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("The demo needs scikit-learn for its bundled digits: pip install 'deepglass[data]'.") \
            from error
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * (1 - test_fraction))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def build_model():
    """Two convolution blocks and a dense classifier, as a course's first CNN."""
    return deepglass.Sequential([
        deepglass.Input((8, 8, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="digits_cnn")


def run_demo(output="deepglass-demo", epochs=30, verbose=1, seed=0):
    """Train, evaluate, and write `learning_curves.png`, `summary.txt` and the HTML training report `report.html`
    (on the test images) to `output`; returns test accuracy."""
    deepglass.config.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_digits_split(seed=seed)
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    os.makedirs(output, exist_ok=True)
    from deepglass.utils.summary import summary_string
    summary = summary_string(model)
    if verbose:
        print(summary)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1, verbose=verbose)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    report = (f"{summary}\n\nTrained {epochs} epochs on {len(x_train)} images in {seconds:.1f} s.\n"
              f"Test loss {loss:.4f}, test accuracy {accuracy:.4f} on {len(x_test)} images.\n")
    with open(os.path.join(output, "summary.txt"), "w") as handle:
        handle.write(report)
    from deepglass.utils.plotting import plot_history
    plot_history(history, os.path.join(output, "learning_curves.png"), title="digits_cnn on 8x8 digits")
    print(f"test accuracy {accuracy:.4f} ({len(x_test)} images); trained in {seconds:.1f} s")
    print(f"wrote {os.path.join(output, 'learning_curves.png')} and {os.path.join(output, 'summary.txt')}")
    from deepglass.insight.report import report as write_report
    path = write_report(model, history, x_test, y_test, path=os.path.join(output, "report.html"),
                        title="digits_cnn on 8x8 digits: training report")
    print(f"wrote the training report {path}")
    return accuracy
