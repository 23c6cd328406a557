"""examples/linear_to_mlp.py at quick scale: gradient descent reaches the least-squares fit, the pictures exist."""
import json

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run(load_example, tmp_path):
    results = load_example("linear_to_mlp").main(["--quick", "--out", str(tmp_path)])

    # The closed form, computed here with NumPy on the same split: R^2 is unchanged by standardising x and y.
    x, y = load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    design = np.column_stack([x_train, np.ones(len(x_train))])
    coef = np.linalg.lstsq(design, y_train, rcond=None)[0]
    residual = y_test - np.column_stack([x_test, np.ones(len(x_test))]) @ coef
    r2 = 1 - np.sum(residual**2) / np.sum((y_test - y_test.mean()) ** 2)
    np.testing.assert_allclose(results["linear_regression"]["r2"], r2, rtol=1e-6)

    descent = results["gradient_descent"]
    assert abs(descent["r2"] - r2) < 0.02
    assert descent["final_training_mse_scaled"] < 1.05 * descent["least_squares_training_mse_scaled"]
    assert results["mlp"]["r2"] > 0  # better than predicting the mean

    surface = results["surface"]
    gap = lambda w: np.linalg.norm(np.subtract(w, surface["least_squares"]))  # noqa: E731
    assert gap(surface["end"]) < 0.05 * gap(surface["start"])

    for name in ("loss_curves.png", "gradient_descent.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert json.loads((tmp_path / "results.json").read_text())["mlp"] == results["mlp"]
