"""examples/optimizers_compared.py at quick scale: same start and batches, momentum beats plain SGD at its rate."""
import json

import numpy as np


def test_quick_run(load_example, tmp_path):
    example = load_example("optimizers_compared")
    summary = example.main(["--quick", "--out", str(tmp_path)])

    results, curves = summary["optimizers"], summary["curves"]
    assert list(results) == ["SGD", "momentum", "Nesterov", "Adagrad", "Adadelta", "RMSprop", "Adam"]
    assert all(len(curve) == summary["epochs"] for curve in curves.values())
    assert [results[name]["learning_rate"] for name in results] == usual_rates(example)
    # At the same learning rate, momentum and Nesterov go further than plain SGD; Adam too.
    for name in ("momentum", "Nesterov", "Adam"):
        assert results[name]["final_training_loss"] < 0.5 * results["SGD"]["final_training_loss"], name
    # Same initial weights: every run starts from the same model, whose loss before training is near ln(10).
    first = np.array([curve[0] for curve in curves.values()])
    assert np.all(first < 1.2 * np.log(10)) and np.all(first > 0.1)
    assert (tmp_path / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "results.json").read_text())["optimizers"] == results


def usual_rates(example):
    return [settings["learning_rate"] for _, settings in example.OPTIMIZERS.values()]


def test_same_initial_weights_and_batches_give_the_same_run(load_example):
    example = load_example("optimizers_compared")
    data = example.load_data(train_size=128)
    example.keras.utils.set_random_seed(0)
    weights = example.build().get_weights()
    first, _ = example.train("SGD", weights, data, 2, 32, keras_defaults=False)
    again, _ = example.train("SGD", weights, data, 2, 32, keras_defaults=False)
    assert first == again
