"""diagnose() on real training runs: each situation is produced by training a small model, and exactly the
finding that the situation calls for must come out (with the per-step losses that fit keeps)."""
import numpy as np
import pytest

import deepglass
from deepglass import layers
from deepglass.insight import FitSummary

sklearn_datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture(scope="module")
def digits():
    data = sklearn_datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    return (data.data[order] / 16).astype("float32"), data.target[order]


def mlp(units=(128, 128), inputs=64):
    return deepglass.Sequential([deepglass.Input((inputs,))] + [layers.Dense(u, activation="relu") for u in units]
                                + [layers.Dense(10, activation="softmax")])


def logistic_regression():
    return deepglass.Sequential([deepglass.Input((64,)), layers.Dense(10, activation="softmax")])


def train(model, optimizer, x, y, validation_data, epochs, batch_size=32):
    """Fit with a FitSummary, as fit(verbose=1) has; return the findings, the printed line and the History."""
    lines = []
    summary = FitSummary(print_fn=lines.append)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, validation_data=validation_data, epochs=epochs, batch_size=batch_size, verbose=0,
                        callbacks=[summary])
    return [finding.name for finding in summary.findings], lines, history


def test_an_unregularised_mlp_on_300_samples_overfits(digits):
    x, y = digits
    names, lines, history = train(mlp(), deepglass.optimizers.Adam(0.01), x[:300], y[:300],
                                  (x[1000:1300], y[1000:1300]), epochs=40)
    assert names == ["overfitting"]
    finding = history.diagnose()[0]
    best = int(np.argmin(history.history["val_loss"])) + 1
    assert finding.evidence["best_epoch"] == best
    assert finding.epochs[0] > best and finding.epochs[-1] == 40
    assert lines == [f"Insight: overfitting from epoch {finding.epochs[0]} (best epoch {best}); {finding.advice}"]


def test_sgd_with_learning_rate_5_diverges(digits):
    x, y = digits
    names, lines, _ = train(mlp(), deepglass.optimizers.SGD(5.0), x[:300], y[:300], (x[1000:1300], y[1000:1300]),
                            epochs=10)
    assert names == ["learning_rate_too_high"]
    assert lines[0].startswith("Insight: the training loss") and "lower the learning rate" in lines[0]


def test_learning_rate_1e_6_is_too_low(digits):
    x, y = digits
    names, _, history = train(mlp(), deepglass.optimizers.SGD(1e-6), x[:300], y[:300],
                              (x[1000:1300], y[1000:1300]), epochs=10)
    assert names == ["learning_rate_too_low"]
    loss = history.history["loss"]
    assert history.diagnose()[0].evidence["drop_per_epoch"] == pytest.approx((loss[0] - loss[-1]) / 9)


def test_a_linear_model_on_concentric_circles_underfits():
    x, y = sklearn_datasets.make_circles(600, noise=0.1, factor=0.5, random_state=0)
    x = x.astype("float32")
    model = deepglass.Sequential([deepglass.Input((2,)), layers.Dense(2, activation="softmax")])
    names, lines, history = train(model, deepglass.optimizers.Adam(0.01), x[:400], y[:400], (x[400:], y[400:]),
                                  epochs=20)
    assert names == ["underfitting"]
    assert "stays high" in lines[0]
    # The reference is the chance level of two classes, log(2).
    assert history.diagnose()[0].evidence["reference_loss"] == pytest.approx(np.log(2))


def test_a_short_run_that_is_still_improving_should_train_longer(digits):
    x, y = digits
    names, lines, _ = train(logistic_regression(), deepglass.optimizers.SGD(0.5), x[:400], y[:400],
                            (x[1000:1300], y[1000:1300]), epochs=8)
    assert names == ["underfitting"]
    assert "still falling" in lines[0] and "train longer" in lines[0]


def test_a_validation_set_of_easy_classes_is_unrepresentative(digits):
    x, y = digits
    easy = np.isin(y[1000:], [0, 6])  # a shifted distribution: only zeros and sixes
    names, _, history = train(logistic_regression(), deepglass.optimizers.Adam(0.02), x[:1000], y[:1000],
                              (x[1000:][easy][:150], y[1000:][easy][:150]), epochs=30, batch_size=100)
    assert names == ["unrepresentative_validation_set"]
    assert history.history["val_loss"][-1] < 0.8 * history.history["loss"][-1]


def test_logistic_regression_on_1000_samples_fits_well(digits):
    x, y = digits
    names, lines, _ = train(logistic_regression(), deepglass.optimizers.Adam(0.02), x[:1000], y[:1000],
                            (x[1000:1400], y[1000:1400]), epochs=40, batch_size=100)
    assert names == ["good_fit"]
    assert lines == ["Insight: no problems found"]


def test_batches_of_one_are_too_noisy_for_the_learning_rate(digits):
    x, y = digits
    noisy, lines, history = train(mlp(), deepglass.optimizers.SGD(0.05), x[:300], y[:300], None, epochs=2,
                                  batch_size=1)
    assert [len(steps) for steps in history.step_losses] == [300, 300]
    assert "batch_size_learning_rate_mismatch" in noisy
    calm, _, _ = train(mlp(), deepglass.optimizers.SGD(0.05), x[:300], y[:300], None, epochs=2, batch_size=32)
    assert "batch_size_learning_rate_mismatch" not in calm
