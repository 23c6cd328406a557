"""From linear regression to a multilayer perceptron, on scikit-learn's diabetes data (442 patients, 10 features).

A Keras linear model, `Dense(1)`, trained by full-batch gradient descent, comes close to the closed-form least-squares
fit of scikit-learn's `LinearRegression` (compare their R^2 and MSE); then a small MLP on the same data.
Look at `loss_curves.png` (the descent's loss nearing the least-squares minimum, the MLP's training and validation
loss) and `gradient_descent.png` (the loss surface over two weights, and the path gradient descent takes on it).
"""
import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.metrics import mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import deepglass as keras  # noqa: E402

FEATURES = load_diabetes().feature_names
SURFACE_FEATURES = ("bmi", "s5")  # two features for the picture of the loss surface


def load_data():
    """Train and test splits, features and target standardised with the training set's mean and deviation."""
    x, y = load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    # Gradient descent needs features on one scale; a standardised target also keeps the loss near 1 at the start.
    x_scaler, y_scaler = StandardScaler().fit(x_train), StandardScaler().fit(y_train[:, None])
    scale_x = lambda a: x_scaler.transform(a).astype("float32")  # noqa: E731
    scale_y = lambda a: y_scaler.transform(a[:, None]).ravel().astype("float32")  # noqa: E731
    return (scale_x(x_train), scale_y(y_train)), (scale_x(x_test), y_test), y_scaler


def scores(y_true, y_pred):
    """R^2 and MSE (in the target's own units: disease progression one year on)."""
    return {"r2": float(r2_score(y_true, y_pred)), "mse": float(mean_squared_error(y_true, y_pred))}


def linear_model(n_features, learning_rate):
    """Linear regression as a network: one Dense unit, no activation, mean squared error, plain gradient descent."""
    model = keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    return model


def mlp(n_features):
    """Two hidden layers of 64 ReLU units: enough to bend the linear fit where the data asks for it."""
    model = keras.Sequential([
        keras.Input((n_features,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    return model


def gradient_descent_path(x, y, start, learning_rate, steps):
    """Full-batch gradient descent on a 2-weight linear fit without bias; returns the weights after every step."""
    dense = keras.layers.Dense(1, use_bias=False)
    model = keras.Sequential([keras.Input((2,)), dense])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    dense.set_weights([np.asarray(start, "float32").reshape(2, 1)])
    path = [dense.get_weights()[0].ravel()]
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: path.append(dense.get_weights()[0].ravel()))
    model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0, callbacks=[record])
    return np.array(path)


def plot_loss_curves(gd_history, least_squares_mse, mlp_history, path):
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(gd_history["loss"], label="Dense(1), gradient descent")
    left.axhline(least_squares_mse, color="black", linestyle="--", label="least squares (closed form)")
    left.set(xscale="log", yscale="log", xlabel="step (epoch of one full batch)", ylabel="training MSE (scaled)",
             title="Gradient descent approaches the least-squares minimum")
    left.legend()
    right.plot(mlp_history["loss"], label="training")
    right.plot(mlp_history["val_loss"], label="validation")
    right.axhline(least_squares_mse, color="black", linestyle="--", label="linear fit, training")
    right.set(xlabel="epoch", ylabel="MSE (scaled)", title="MLP 64-64")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_loss_surface(x, y, path_weights, best, path):
    """Contours of the mean squared error over the two weights, with the descent's path and the exact minimum."""
    span = np.abs(np.vstack([path_weights, best[None]]) - best).max() * 1.15
    w1, w2 = np.meshgrid(np.linspace(best[0] - span, best[0] + span, 200),
                         np.linspace(best[1] - span, best[1] + span, 200))
    residuals = y[None, None, :] - w1[..., None] * x[:, 0] - w2[..., None] * x[:, 1]
    loss = np.mean(residuals**2, axis=-1)
    figure, axis = plt.subplots(figsize=(6, 5.2))
    contours = axis.contourf(w1, w2, loss, levels=np.geomspace(loss.min(), loss.max(), 25), cmap="viridis")
    figure.colorbar(contours, label="training MSE (scaled)")
    axis.plot(path_weights[:, 0], path_weights[:, 1], "o-", color="white", markersize=3, label="gradient descent")
    axis.plot(*path_weights[0], "s", color="orange", markersize=8, label="start")
    axis.plot(*best, "*", color="red", markersize=14, label="least squares")
    axis.set_aspect("equal")  # so that each step is seen to cross the contours at a right angle
    axis.set(xlabel=f"weight of {SURFACE_FEATURES[0]}", ylabel=f"weight of {SURFACE_FEATURES[1]}",
             title="Gradient descent on the loss surface")
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: fewer steps and epochs")
    parser.add_argument("--out", default="example-output/linear_to_mlp", help="folder for the pictures and results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test), y_scaler = load_data()
    unscale = lambda p: y_scaler.inverse_transform(np.asarray(p).reshape(-1, 1)).ravel()  # noqa: E731

    # 1. The closed form: least squares solved exactly.
    least_squares = LinearRegression().fit(x_train, y_train)
    least_squares_mse = float(np.mean((least_squares.predict(x_train) - y_train) ** 2))

    # 2. The same model as a network, found by gradient descent: one step per pass over the whole training set.
    gd_steps = 300 if args.quick else 3000
    linear = linear_model(x_train.shape[1], learning_rate=0.1)
    gd_history = linear.fit(x_train, y_train, batch_size=len(x_train), epochs=gd_steps, shuffle=False, verbose=0)
    kernel, bias = linear.layers[-1].get_weights()
    weight_gap = float(np.linalg.norm(kernel.ravel() - least_squares.coef_) / np.linalg.norm(least_squares.coef_))

    # 3. A multilayer perceptron, stopped when the validation loss stops improving.
    mlp_model = mlp(x_train.shape[1])
    stop = keras.callbacks.EarlyStopping(patience=20, restore_best_weights=True)
    mlp_history = mlp_model.fit(x_train, y_train, batch_size=64 if args.quick else 32,
                                epochs=20 if args.quick else 300, validation_split=0.2, callbacks=[stop], verbose=0)

    # 4. The picture of gradient descent: two features, a surface of two weights.
    columns = [FEATURES.index(name) for name in SURFACE_FEATURES]
    x_two = x_train[:, columns]
    best = np.linalg.lstsq(x_two, y_train, rcond=None)[0]
    path_weights = gradient_descent_path(x_two, y_train, start=(1.6, -0.3), learning_rate=0.2, steps=30)

    results = {
        "device": str(keras.config.device()),
        "linear_regression": scores(y_test, unscale(least_squares.predict(x_test))),
        "gradient_descent": {**scores(y_test, unscale(linear.predict(x_test, verbose=0))), "steps": gd_steps,
                             "relative_weight_gap": weight_gap,
                             "final_training_mse_scaled": float(gd_history.history["loss"][-1]),
                             "least_squares_training_mse_scaled": least_squares_mse},
        "mlp": {**scores(y_test, unscale(mlp_model.predict(x_test, verbose=0))),
                "epochs": len(mlp_history.history["loss"])},
        "surface": {"start": path_weights[0].tolist(), "end": path_weights[-1].tolist(), "least_squares":
                    best.tolist()},
    }
    plot_loss_curves(gd_history.history, least_squares_mse, mlp_history.history, out / "loss_curves.png")
    plot_loss_surface(x_two, y_train, path_weights, best, out / "gradient_descent.png")
    results["seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(results, indent=2))

    print(f"{'model (diabetes, test set)':<34}{'R^2':>8}{'MSE':>10}")
    for label, key in (("LinearRegression (closed form)", "linear_regression"),
                       ("Dense(1), gradient descent", "gradient_descent"), ("MLP 64-64 (Adam)", "mlp")):
        print(f"{label:<34}{results[key]['r2']:>8.3f}{results[key]['mse']:>10.1f}")
    print(f"gradient descent's weights are {weight_gap:.1%} from the closed form's after {gd_steps} steps; "
          f"{results['seconds']:.1f} s on {results['device']}")
    return results


if __name__ == "__main__":
    main()
