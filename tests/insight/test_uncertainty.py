"""MC dropout, expected calibration error and the reliability diagram, checked against hand-computed values."""
import numpy as np
import pytest

import deepglass
from deepglass import layers
from deepglass.insight import (calibration_bins, expected_calibration_error, mc_dropout_predict, plot_reliability,
                               predictive_entropy)


def _entropy(p):
    return -(p * np.log(p)).sum(axis=1)


def test_without_dropout_the_passes_agree_and_batch_normalization_uses_its_moving_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype("float32") * 3 + 1
    deepglass.config.set_random_seed(0)
    model = deepglass.Sequential([deepglass.Input((3,)), layers.Dense(8, activation="relu"),
                                  layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 3, 64), epochs=2, verbose=0)
    mean, std, entropy = mc_dropout_predict(model, x[:10], n=5, batch_size=4)
    np.testing.assert_array_equal(std, np.zeros((10, 3), "float32"))
    # predict() runs BatchNormalization on its moving statistics; batch statistics would give other outputs.
    expected = model.predict(x[:10], verbose=0)
    np.testing.assert_allclose(mean, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(entropy, _entropy(expected.astype("float64")), rtol=1e-4)
    model.train(True)  # the modes the model had are restored
    mc_dropout_predict(model, x[:2], n=2)
    assert model.training and all(layer.training for layer in model.layers)


def test_dropout_spread_grows_far_from_the_training_data():
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
    _, near_std, _ = mc_dropout_predict(model, near, n=30, batch_size=100)
    _, far_std, _ = mc_dropout_predict(model, far, n=30, batch_size=100)
    assert far_std.mean() > 5 * near_std.mean()  # 50 to 400 times with the first seeds
    assert near_std.mean() > 0 and not model.training and not model.layers[1].training


def test_predictive_entropy_of_softmax_and_sigmoid_outputs():
    np.testing.assert_allclose(predictive_entropy(np.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])),
                               [np.log(2), 0.0, -(0.2 * np.log(0.2) + 0.8 * np.log(0.8))])
    np.testing.assert_allclose(predictive_entropy(np.array([[0.2], [0.5]])),
                               [-(0.2 * np.log(0.2) + 0.8 * np.log(0.8)), np.log(2)])


# Confidences 0.9 (right), 0.8 (right), 0.6 (wrong: predicts 0), 0.55 (wrong: predicts 1).
LABELS = [0, 1, 1, 0]
PROBABILITIES = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]]


def test_expected_calibration_error_of_a_hand_computed_example():
    # Ten bins: (0.8, 0.9] holds 0.9, (0.7, 0.8] holds 0.8, (0.5, 0.6] holds 0.6 and 0.55 (accuracy 0, conf 0.575).
    hand = 0.25 * (1 - 0.9) + 0.25 * (1 - 0.8) + 0.5 * 0.575
    assert expected_calibration_error(LABELS, PROBABILITIES) == pytest.approx(hand)
    assert expected_calibration_error(np.eye(2)[LABELS], PROBABILITIES) == pytest.approx(hand)  # one-hot labels
    assert expected_calibration_error(LABELS, [0.1, 0.8, 0.4, 0.55]) == pytest.approx(hand)  # one sigmoid output
    # Two bins: every confidence is in (0.5, 1]: accuracy 0.5, mean confidence 0.7125.
    assert expected_calibration_error(LABELS, PROBABILITIES, bins=2) == pytest.approx(0.2125)
    counts, accuracy, confidence = calibration_bins(LABELS, PROBABILITIES, bins=10)
    np.testing.assert_array_equal(counts, [0, 0, 0, 0, 0, 2, 0, 1, 1, 0])
    assert accuracy[5] == 0 and confidence[5] == pytest.approx(0.575) and np.isnan(accuracy[0])
    # A confidence on a bin edge belongs to the bin it closes: 0.7 is in (0.6, 0.7].
    assert calibration_bins([0], [[0.7, 0.3]])[0][6] == 1


def test_reliability_diagram_draws_the_bins(tmp_path):
    pytest.importorskip("matplotlib")
    figure = plot_reliability(LABELS, PROBABILITIES, bins=10, filename=str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    axis, count_axis = figure.axes
    assert "ECE = 0.362" in axis.get_title()
    heights = [bar.get_height() for bar in axis.patches]
    np.testing.assert_allclose(heights, [0, 0, 0, 0, 0, 0, 0, 1, 1, 0])
    np.testing.assert_allclose([bar.get_height() for bar in count_axis.patches], [0, 0, 0, 0, 0, 2, 0, 1, 1, 0])
    assert axis.get_ylabel() == "accuracy" and "confidence" in count_axis.get_xlabel()


def test_torch_dropout_modules_are_sampled_too():
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2), nn.Softmax(dim=-1)).eval()
    mean, std, entropy = mc_dropout_predict(model, np.ones((3, 2), "float32"), n=20)
    assert mean.shape == std.shape == (3, 2) and entropy.shape == (3,)
    assert std.min() > 0 and not model.training and not model[2].training
    with pytest.raises(ValueError, match="positive integer"):
        mc_dropout_predict(model, np.ones((3, 2), "float32"), n=0)
