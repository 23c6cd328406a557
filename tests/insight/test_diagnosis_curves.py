"""diagnose() on constructed learning curves, whose expected findings are worked out by hand in each test."""
import json
import math

import numpy as np
import pytest

import deepglass
from deepglass.callbacks import History
from deepglass.insight import CURVE_FINDINGS, Finding, Thresholds, diagnose
from deepglass.insight.findings import one_line


def names(findings):
    return [finding.name for finding in findings]


def decay(n, start=2.0, floor=0.0, rate=0.5):
    """start * rate**e + floor for e = 0..n-1: a curve that converges to `floor`."""
    return [floor + start * rate ** e for e in range(n)]


def test_nan_loss_is_a_too_high_learning_rate_at_the_epoch_it_appeared():
    findings = diagnose({"loss": [2.0, 1.5, float("nan"), float("nan")]})
    assert names(findings) == ["learning_rate_too_high"]
    assert findings[0].epochs == [3] and "nan at epoch 3" in findings[0].summary


def test_a_rising_training_loss_has_diverged():
    findings = diagnose({"loss": [2.0, 2.5, 3.0, 3.5, 4.0], "val_loss": [2.1, 2.6, 3.1, 3.6, 4.1]})
    assert names(findings) == ["learning_rate_too_high"]
    assert findings[0].evidence == {"first_loss": 2.0, "last_loss": 4.0}


def test_a_loss_far_above_chance_level_has_diverged_even_when_it_then_stays_flat():
    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    findings = diagnose({"loss": [14.0] * 5}, model=model)
    assert names(findings) == ["learning_rate_too_high"]
    assert findings[0].evidence == {"largest_loss": 14.0, "reference_loss": pytest.approx(math.log(10))}
    # Blown up in the first epoch, then stuck at chance level: the first epoch is 2.2 times log(10).
    findings = diagnose({"loss": [5.0, 2.4, 2.36, 2.36, 2.36]}, model=model)
    assert names(findings) == ["learning_rate_too_high"] and findings[0].epochs == [1]
    # Without the model, the first step's loss is the reference.
    steps = [[2.3, 5.0, 8.0, 4.7], [2.4] * 4, [2.36] * 4, [2.36] * 4, [2.36] * 4]
    assert names(diagnose({"loss": [5.0, 2.4, 2.36, 2.36, 2.36]}, step_losses=steps)) == ["learning_rate_too_high"]


def test_spikes_in_the_training_loss():
    # Rises of 0.3 (20% of 1.5) at epoch 3 and of 0.4 (33% of 1.2) at epoch 5; the end is below the start.
    loss = [2.0, 1.5, 1.8, 1.2, 1.6, 1.0, 0.9, 0.85]
    findings = diagnose({"loss": loss})
    assert names(findings) == ["learning_rate_too_high"]
    assert findings[0].epochs == [3, 5]
    assert "learning_rate_too_high" not in names(diagnose({"loss": loss}, thresholds=Thresholds(min_spikes=3)))


def test_overfitting_reports_the_best_epoch_and_where_the_rise_began():
    train = decay(12, start=2.0, floor=0.01)
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.44, 0.445, 0.46, 0.5, 0.55, 0.6, 0.65]
    findings = diagnose({"loss": train, "val_loss": val})
    assert names(findings) == ["overfitting"]
    # Best: 0.44 at epoch 6. 0.445 is within 2% of it; 0.46 > 0.44 * 1.02 is the first clear rise (epoch 8).
    assert findings[0].evidence["best_epoch"] == 6
    assert findings[0].epochs == list(range(8, 13))
    assert findings[0].summary == "overfitting from epoch 8 (best epoch 6)"
    # The rise: mean of the last three (0.6) over the smoothed minimum (0.44+0.445+0.46)/3 or (0.45+0.44+0.445)/3.
    assert findings[0].evidence["val_loss_rise"] == pytest.approx(0.6 / ((0.45 + 0.44 + 0.445) / 3) - 1)
    assert diagnose({"loss": train, "val_loss": val}, thresholds=Thresholds(overfit_rise=0.5))[0].name != \
        "overfitting"


def test_a_validation_minimum_in_noise_is_not_overfitting():
    train = decay(12, start=2.0, floor=0.2)
    noise = np.array([0, 0.1, -0.1] * 4)
    val = list(np.array(decay(12, start=2.0, floor=0.3)) * (1 + noise))
    assert "overfitting" not in names(diagnose({"loss": train, "val_loss": val}))


def test_learning_rate_too_low_is_a_slow_straight_decrease():
    train = [2.3 - 1e-4 * e for e in range(10)]
    findings = diagnose({"loss": train, "val_loss": [2.31 - 1e-4 * e for e in range(10)]})
    assert names(findings) == ["learning_rate_too_low"]
    assert findings[0].evidence["drop_per_epoch"] == pytest.approx(1e-4)
    assert findings[0].evidence["total_drop_fraction"] == pytest.approx(9e-4 / 2.3)


def test_a_fast_straight_decrease_is_not_too_slow():
    train = [2.3 - 0.2 * e for e in range(10)]  # from 2.3 to 0.5: 78% of the reference
    assert "learning_rate_too_low" not in names(diagnose({"loss": train}))


def test_underfitting_high_and_flat():
    train = [2.3, 1.9, 1.85, 1.84, 1.84, 1.84, 1.84, 1.84]
    findings = diagnose({"loss": train, "val_loss": [1.95, 1.9, 1.89, 1.88, 1.88, 1.88, 1.88, 1.88]})
    assert names(findings) == ["underfitting"]
    # The reference is the first epoch's loss (no model given): 1.84 / 2.3 = 80% of it.
    assert findings[0].evidence["level_vs_reference"] == pytest.approx(0.8)
    assert "stays high" in findings[0].summary


def test_underfitting_still_falling_means_train_longer():
    train = decay(10, start=2.0, floor=0.05, rate=0.8)
    val = decay(10, start=2.0, floor=0.08, rate=0.8)
    findings = diagnose({"loss": train, "val_loss": val})
    assert names(findings) == ["underfitting"]
    # The last quarter of 10 epochs is 3 epochs (rounded from 2.5, at least 3): the fall over them per epoch.
    expected = (train[-4] - train[-1]) / (3 * train[-1])
    assert findings[0].evidence["train_rate_per_epoch"] == pytest.approx(expected)
    assert findings[0].epochs == [8, 9, 10] and "train longer" in findings[0].advice


def test_noisy_validation_set():
    train = decay(12, start=2.0, floor=0.3)
    val = [v * (1.3 if e % 2 else 0.7) for e, v in enumerate(decay(12, start=2.0, floor=0.35))]
    findings = diagnose({"loss": train, "val_loss": val})
    assert names(findings) == ["unrepresentative_validation_set"]
    assert "noisy" in findings[0].summary


def test_validation_far_below_training_without_dropout():
    train = decay(10, start=2.0, floor=0.6)
    val = [0.5 * v for v in train]
    findings = diagnose({"loss": train, "val_loss": val})
    assert names(findings) == ["unrepresentative_validation_set"]
    assert findings[0].evidence["val_below_train"] == pytest.approx(0.5)
    assert "no model given" in findings[0].summary


def test_dropout_explains_a_validation_loss_below_the_training_loss():
    train = decay(10, start=2.0, floor=0.6)
    val = [0.5 * v for v in train]
    plain = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3)])
    dropout = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dropout(0.5), deepglass.layers.Dense(3)])
    assert names(diagnose({"loss": train, "val_loss": val}, model=plain)) == ["unrepresentative_validation_set"]
    assert "unrepresentative_validation_set" not in names(diagnose({"loss": train, "val_loss": val}, model=dropout))


def test_unrepresentative_training_set_is_a_gap_that_stays():
    train = decay(10, start=2.0, floor=0.01)
    val = [1.5, 0.9, 0.82, 0.8, 0.8, 0.79, 0.8, 0.8, 0.79, 0.8]
    findings = diagnose({"loss": train, "val_loss": val})
    assert names(findings) == ["unrepresentative_training_set"]
    # Training: 2.01, 1.01, 0.51, 0.26, ...; the gap (val - train) / val is 0.38 at epoch 3 ((0.82 - 0.51) / 0.82)
    # and 0.68 at epoch 4 ((0.8 - 0.26) / 0.8), above 0.5 from then on.
    assert findings[0].epochs == list(range(4, 11))


def test_plateau_that_a_schedule_would_shorten():
    train = [2.0, 1.5, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 0.8, 0.6, 0.5, 0.45, 0.42, 0.41, 0.405, 0.402, 0.4, 0.4, 0.4]
    findings = diagnose({"loss": train})
    assert names(findings) == ["plateau"]
    assert findings[0].epochs == [3, 4, 5, 6, 7, 8]
    # Within the 5 epochs after the plateau the loss reaches 0.42.
    assert findings[0].evidence["drop_after"] == pytest.approx(1 - 0.42 / 1.2)
    scheduled = {"loss": train, "learning_rate": [0.1] * 8 + [0.01] * 11}
    assert "plateau" not in names(diagnose(scheduled))


def test_noisy_steps_are_a_batch_size_learning_rate_mismatch():
    train = [1.0, 0.95, 0.9, 0.88, 0.87, 0.86]
    rng = np.random.default_rng(0)
    noisy = [list(level * (1 + 0.5 * rng.standard_normal(40))) for level in train]
    calm = [list(level * (1 + 0.05 * rng.standard_normal(40))) for level in train]
    found = diagnose({"loss": train}, step_losses=noisy)
    assert "batch_size_learning_rate_mismatch" in names(found)
    # Gaussian noise of std 0.5 * level: the step-to-step estimate recovers about 0.5.
    noise = next(f for f in found if f.name == "batch_size_learning_rate_mismatch").evidence["step_noise"]
    assert noise == pytest.approx(0.5, rel=0.25)
    assert "batch_size_learning_rate_mismatch" not in names(diagnose({"loss": train}, step_losses=calm))


def test_step_losses_are_read_from_the_history_and_a_flat_list_is_split_per_epoch():
    history = History()
    history.history = {"loss": [1.0, 0.95, 0.9, 0.88]}
    rng = np.random.default_rng(1)
    history.step_losses = list(np.repeat(history.history["loss"], 30) * (1 + 0.6 * rng.standard_normal(120)))
    assert "batch_size_learning_rate_mismatch" in names(history.diagnose())


def test_good_fit_when_both_curves_settle_close_together():
    train = decay(12, start=2.0, floor=0.10)
    val = decay(12, start=2.0, floor=0.12)
    findings = diagnose({"loss": train, "val_loss": val})
    assert names(findings) == ["good_fit"] and not findings[0].is_problem
    assert findings[0].evidence["best_epoch"] == 12
    assert one_line(findings) == "Insight: no problems found"


def test_short_runs_and_runs_without_validation_get_no_verdict():
    assert diagnose({"loss": [2.0, 1.0, 0.5]}) == []
    assert diagnose({"loss": decay(12, floor=0.5)}) == []  # converged, and no validation to compare


def test_validation_with_another_frequency_is_left_out():
    train = decay(12, start=2.0, floor=0.5)
    assert diagnose({"loss": train, "val_loss": [1.0, 2.0, 3.0]}) == []


def test_a_history_without_loss_is_refused():
    with pytest.raises(ValueError, match="needs a history with a 'loss' entry"):
        diagnose({"accuracy": [0.5]})


def test_chance_level_is_the_reference_when_the_model_tells_it():
    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(4, activation="softmax")])
    model.compile(loss=deepglass.losses.SparseCategoricalCrossentropy())
    train = [1.3, 1.0, 0.9, 0.88, 0.88, 0.88, 0.88, 0.88]
    findings = diagnose({"loss": train}, model=model)
    # 0.88 is 68% of the first epoch's 1.3 but 63% of log(4) = 1.386.
    assert findings[0].evidence["reference_loss"] == pytest.approx(math.log(4))
    assert findings[0].evidence["level_vs_reference"] == pytest.approx(0.88 / math.log(4))


def test_finding_text_and_plain_data():
    finding = Finding("overfitting", "overfitting from epoch 7 (best epoch 5)", "consider EarlyStopping",
                      epochs=[7, 8], evidence={"best_epoch": 5, "val_loss_rise": 0.123456, "odd": float("inf")})
    assert str(finding) == ("Overfitting from epoch 7 (best epoch 5).\n"
                            "  Evidence: best_epoch=5, val_loss_rise=0.1235, odd=inf\n"
                            "  Advice: consider EarlyStopping.")
    data = finding.to_dict()
    assert json.loads(json.dumps(data)) == data and data["evidence"]["odd"] is None
    assert one_line([finding]) == "Insight: overfitting from epoch 7 (best epoch 5); consider EarlyStopping"
    other = Finding("plateau", "a plateau", "use a schedule")
    assert one_line([finding, other]).endswith("(also: plateau; see history.diagnose())")


def test_every_finding_name_is_listed():
    assert set(CURVE_FINDINGS) == {"learning_rate_too_high", "learning_rate_too_low", "overfitting",
                                   "underfitting", "unrepresentative_training_set",
                                   "unrepresentative_validation_set", "batch_size_learning_rate_mismatch",
                                   "plateau", "good_fit"}


def test_losses_of_exactly_zero_are_handled_without_dividing_by_zero():
    # Under pytest's settings a RuntimeWarning (0 / 0) would fail this test.
    assert names(diagnose({"loss": [0.0] * 8, "val_loss": [0.0] * 8})) == ["good_fit"]
    perfect = diagnose({"loss": [1.0, 0.5] + [0.0] * 6, "val_loss": [1.0, 0.5] + [0.1] * 6})
    assert names(perfect) == ["unrepresentative_training_set"]


def test_dropout_noise_needs_larger_jumps_to_count_as_spikes():
    """Dropout makes the training loss of each epoch noisy: the same two jumps are no longer taken for a learning
    rate that is too high, while jumps of half the loss still are."""
    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(8), deepglass.layers.Dropout(0.5),
                                  deepglass.layers.Dense(3, activation="softmax")])
    loss = [2.0, 1.5, 1.8, 1.2, 1.6, 1.0, 0.9, 0.85]
    assert "learning_rate_too_high" not in names(diagnose({"loss": loss}, model=model))
    wild = [2.0, 1.2, 1.9, 1.1, 1.8, 1.0, 0.9, 0.85]
    assert diagnose({"loss": wild}, model=model)[0].epochs == [3, 5]


def test_a_weight_penalty_in_the_loss_is_not_a_blow_up():
    """fit's loss includes L1/L2 penalties, which can put its first epoch above the chance level (log 3 here)."""
    def model(regularizer):
        built = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(8, kernel_regularizer=regularizer),
                                      deepglass.layers.Dense(3, activation="softmax")])
        built.compile("sgd", "sparse_categorical_crossentropy")  # so that diagnose knows the chance level
        return built
    loss = [2.0, 1.4, 1.0, 0.8, 0.7, 0.65, 0.6, 0.58]
    assert "learning_rate_too_high" in names(diagnose({"loss": loss}, model=model(None)))
    assert "learning_rate_too_high" not in names(diagnose({"loss": loss}, model=model("l1")))
