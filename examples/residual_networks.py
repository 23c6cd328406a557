"""Residual networks: a plain deep CNN against the same network with skip connections, on the 8x8 digits.

Both networks are stacks of identical blocks, Conv2D-BatchNormalization-ReLU-Conv2D-BatchNormalization, built with
the functional API; the residual one adds each block's input to its output (`keras.layers.Add`), as in He et al.
(2016). Each is trained shallow and deep. Look at `training_curves.png`: the deep plain network trains worse than
the shallow one (higher training loss: the degradation problem), while the deep residual network trains as well as
the shallow ones or better. `gradient_norms.png` shows the gradients at the start: through the deep plain network
they grow over a hundredfold towards the input, through the residual network about tenfold.
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

WIDTH = 16  # channels in every convolution


def load_digits():
    """The 8x8 digits as (n, 8, 8, 1) images in [0, 1], with a validation split drawn at random."""
    (x, y), (x_test, y_test) = keras.datasets.digits.load_data(test_split=0.2)
    return (x[..., None] / 255.0, y), (x_test[..., None] / 255.0, y_test)


def conv_bn(x, relu=True):
    x = keras.layers.Conv2D(WIDTH, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU()(x) if relu else x


def block(x, residual):
    """Two 3x3 convolutions; with `residual`, the block's input is added before the last ReLU."""
    y = conv_bn(conv_bn(x), relu=False)
    if residual:
        y = keras.layers.Add()([x, y])  # the skip connection: the block learns a correction to its input
    return keras.layers.ReLU()(y)


def build(blocks, residual):
    """A stem convolution, `blocks` blocks (2 convolutions each), global average pooling and a softmax."""
    inputs = keras.Input((8, 8, 1))
    x = conv_bn(inputs)
    for _ in range(blocks):
        x = block(x, residual)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    name = f"{'residual' if residual else 'plain'}_{2 * blocks + 2}"  # layers with weights: convolutions + Dense
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(blocks, residual, data, epochs):
    """Fit one network, watching its gradients; returns the model, its History and the Monitor."""
    (x_train, y_train), validation = data
    keras.utils.set_random_seed(0)
    model = build(blocks, residual)
    monitor = insight.Monitor(every_n_steps=20)
    history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_data=validation,
                        callbacks=[monitor], verbose=0)
    return model, history, monitor


def plot_curves(histories, path):
    """Training loss and validation accuracy per epoch: plain networks dashed, residual ones solid."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    colours = {}
    for name, history in histories.items():
        depth = name.split("_")[1]
        colour = colours.setdefault(depth, ["#0072B2", "#D55E00", "#009E73", "#CC79A7"][len(colours)])
        style = "-" if name.startswith("residual") else "--"
        epochs = np.arange(1, len(history.history["loss"]) + 1)
        loss_axis.plot(epochs, history.history["loss"], style, color=colour, label=name)
        accuracy_axis.plot(epochs, history.history["val_accuracy"], style, color=colour, label=name)
    loss_axis.set_yscale("log")
    loss_axis.set_title("Training loss (log scale)")
    accuracy_axis.set_title("Validation accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def first_step_gradients(monitor):
    """Each convolution's gradient at the first training step, as a root mean square per weight (the norm over the
    square root of the weight count, so that the stem, with one input channel, compares fairly), input side first."""
    return [entry["grad_norm"][0] / np.sqrt(entry["parameters"])
            for layer, entry in monitor.history["layers"].items() if layer.startswith("conv2d")]


def plot_gradients(monitors, path):
    """Gradient per convolution at the first training step, for the deep plain and deep residual networks."""
    figure, axis = plt.subplots(figsize=(8, 4))
    for name, monitor in monitors.items():
        axis.plot(first_step_gradients(monitor), marker="o", markersize=3, label=name)
    axis.set_yscale("log")
    axis.set_xlabel("convolution (input side first)")
    axis.set_ylabel("gradient RMS per weight (log scale)")
    axis.set_title("Gradient reaching each convolution at the first training step")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two epochs on part of the data, to see it run")
    parser.add_argument("--out", default="example-output/residual_networks", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    (x_train, y_train), validation = load_digits()
    if args.quick:
        x_train, y_train = x_train[:256], y_train[:256]
    depths = (2, 8) if args.quick else (3, 20)  # blocks: 8 and 42 weighted layers in a full run
    epochs = 2 if args.quick else 40
    histories, monitors, results = {}, {}, {}
    for blocks in depths:
        for residual in (False, True):
            model, history, monitor = train(blocks, residual, ((x_train, y_train), validation), epochs)
            histories[model.name], logs = history, history.history
            if blocks == depths[-1]:
                monitors[model.name] = monitor
            gradients = first_step_gradients(monitor)
            results[model.name] = {"blocks": blocks, "residual": residual, "parameters": model.count_params(),
                                   "first_to_last_conv_gradient_at_start": gradients[0] / gradients[-1],
                                   "final_train_loss": float(logs["loss"][-1]),
                                   "final_train_accuracy": float(logs["accuracy"][-1]),
                                   "best_val_accuracy": float(np.max(logs["val_accuracy"])),
                                   "final_val_accuracy": float(logs["val_accuracy"][-1])}
    plot_curves(histories, out / "training_curves.png")
    plot_gradients(monitors, out / "gradient_norms.png")
    summary = {"networks": results, "epochs": epochs, "device": str(keras.config.device()),
               "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"{'network':<13} {'params':>7} {'train loss':>10} {'train acc':>9} {'val acc':>8} {'grad in/out':>11}")
    for name, row in results.items():
        print(f"{name:<13} {row['parameters']:>7} {row['final_train_loss']:>10.4f} {row['final_train_accuracy']:>9.1%} "
              f"{row['final_val_accuracy']:>8.1%} {row['first_to_last_conv_gradient_at_start']:>11.2g}")
    return summary


if __name__ == "__main__":
    main()
