"""3-D convolutions on volumes: is the object in this noisy 16x16x16 scan a sphere, a cube, a torus or a shell?

The script draws each object at a random position, size and orientation into a grid of voxels (with soft edges,
random brightness and Gaussian noise, as a CT or microscope volume would have them) and trains a Conv3D network
with BatchNormalization and 3-D max pooling to tell them apart. The model summary is printed and saved to
`summary.txt`. Look at `slices.png`: three orthogonal slices through the centre of a few test volumes, each with the
class the network predicts (a torus and a shell can look alike in one slice; the network sees all three dimensions),
and `learning_curves.png`.
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

SIZE = 16  # voxels along each axis
CLASSES = ("sphere", "cube", "torus", "shell")
EDGE = 0.06  # softness of the surfaces, in units of the half-width of the volume (about half a voxel)


def grid():
    """Voxel centres as an array `(3, SIZE, SIZE, SIZE)` of coordinates in [-1, 1]."""
    axis = (np.arange(SIZE) + 0.5) / SIZE * 2 - 1
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"))


def random_rotation(rng):
    """A rotation matrix drawn uniformly (the Q of a Gaussian matrix's QR decomposition, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def signed_distance(label, p, radius):
    """Roughly how far inside the object each point `p` (object coordinates) lies; positive inside."""
    shape = CLASSES[label]
    if shape == "sphere":
        return radius - np.linalg.norm(p, axis=0)
    if shape == "cube":
        return 0.8 * radius - np.abs(p).max(axis=0)  # a cube of half-width 0.8 r: about the sphere's volume
    if shape == "torus":  # a ring of radius 0.65 r around the z axis, its tube 0.3 r thick
        ring = np.hypot(p[0], p[1]) - 0.65 * radius
        return 0.3 * radius - np.hypot(ring, p[2])
    return 0.25 * radius - np.abs(np.linalg.norm(p, axis=0) - 0.85 * radius)  # shell: a hollow sphere


def volume(label, rng, points):
    """One noisy volume: the object at a random place, size, orientation and brightness."""
    centre = rng.uniform(-0.3, 0.3, size=(3, 1, 1, 1))
    radius = rng.uniform(0.4, 0.65)
    rotation = random_rotation(rng)
    p = np.einsum("ij,j...->i...", rotation.T, points - centre)  # voxel coordinates in the object's frame
    inside = 1 / (1 + np.exp(-signed_distance(label, p, radius) / EDGE))  # soft edges: no staircase
    return (rng.uniform(0.7, 1.3) * inside + rng.normal(0, 0.35, inside.shape)).astype("float32")


def make_volumes(count, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), count)
    points = grid()
    x = np.stack([volume(label, rng, points) for label in labels])
    return x[..., None], labels  # channels last: (count, 16, 16, 16, 1)


def build_model(decay_steps):
    """Three Conv3D-BatchNormalization-ReLU stages, the first two followed by 3-D max pooling; Adam with a learning
    rate that decays to 0 over `decay_steps` (a cosine)."""
    layers = keras.layers
    model = keras.Sequential([keras.Input((SIZE, SIZE, SIZE, 1))], name="volume_classifier")
    for filters, pool in ((8, True), (16, True), (32, False)):
        model.add(layers.Conv3D(filters, 3, padding="same", use_bias=False))  # BatchNormalization brings the bias
        model.add(layers.BatchNormalization())
        model.add(layers.ReLU())
        if pool:
            model.add(layers.MaxPooling3D(2))
    model.add(layers.GlobalAveragePooling3D())
    model.add(layers.Dense(len(CLASSES), activation="softmax"))
    # At a constant learning rate the weights keep moving fast, and BatchNormalization's moving averages, which
    # evaluate and predict use, lag behind them: the validation accuracy jumps around. A decaying rate settles both.
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def plot_slices(x, labels, predicted, path, count=6):
    """For `count` volumes, a slice across each of the three axes through the object's centre of brightness,
    titled with the true and the predicted class."""
    figure, axes = plt.subplots(3, count, figsize=(1.9 * count, 6.2))
    for column in range(count):
        sample = x[column, ..., 0]
        mass = np.clip(sample, 0, None)
        centre = [int(round(np.sum(mass * points) / np.sum(mass))) for points in np.indices(sample.shape)]
        slices = (sample[centre[0]], sample[:, centre[1]], sample[:, :, centre[2]])
        for row, image in enumerate(slices):
            axis = axes[row, column]
            axis.imshow(image, cmap="magma", vmin=-0.5, vmax=1.5)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_ylabel(f"{'xyz'[row]} = {centre[row]}", fontsize=7)
        right = predicted[column] == labels[column]
        axes[0, column].set_title(f"true: {CLASSES[labels[column]]}\npredicted: {CLASSES[predicted[column]]}",
                                  fontsize=8, color="black" if right else "#D55E00")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred volumes and two epochs, to see it run")
    parser.add_argument("--out", default="example-output/volumes_conv3d", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    train_count, epochs = (400, 2) if args.quick else (3000, 15)
    x_train, y_train = make_volumes(train_count, seed=1)
    x_test, y_test = make_volumes(max(train_count // 4, 200), seed=2)

    batch_size, validation_split = 32, 0.1
    steps_per_epoch = int(np.ceil(train_count * (1 - validation_split) / batch_size))
    model = build_model(decay_steps=epochs * steps_per_epoch)
    lines = []
    model.summary(print_fn=lines.append)  # the table, line by line: printed and kept in summary.txt
    summary = "\n".join(lines)
    print(summary)
    (out / "summary.txt").write_text(summary + "\n")
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=validation_split,
                        verbose=2 if args.quick else 0)
    keras.utils.plot_history(history, out / "learning_curves.png", title="Conv3D classifier")
    plt.close("all")
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    plot_slices(x_test, y_test, predicted, out / "slices.png")
    per_class = {name: float(np.mean(predicted[y_test == label] == label)) for label, name in enumerate(CLASSES)}
    results = {"test_accuracy": float(accuracy), "chance_accuracy": 1 / len(CLASSES), "per_class_accuracy": per_class,
               "final_train_accuracy": float(history.history["accuracy"][-1]),
               "final_val_accuracy": float(history.history["val_accuracy"][-1]), "parameters": model.count_params(),
               "train_volumes": train_count, "epochs": epochs, "device": str(keras.config.device()),
               "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\ntest accuracy {accuracy:.1%} (chance {1 / len(CLASSES):.0%})")
    for name, value in per_class.items():
        print(f"  {name:<7} {value:.1%}")
    return results


if __name__ == "__main__":
    main()
