"""examples/cheat_sheet_unchanged.py at quick scale: every section of the sheet runs; saved models reload."""
import json

import numpy as np


def test_quick_run(load_example, tmp_path):
    results = load_example("cheat_sheet_unchanged").main(["--quick", "--out", str(tmp_path)])

    assert results["basic_example"]["predictions_shape"] == [1000, 1]
    assert results["train_test_split"] == [1797 - 594, 594]  # test_size=0.33 of the 1797 digits, rounded up
    assert results["multiclass_mlp"]["output_shape"] == [None, 10]
    assert results["multiclass_mlp"]["config_layers"] >= 5 and results["multiclass_mlp"]["weight_tensors"] == 6
    assert results["multiclass_mlp"]["test_accuracy"] > 0.1  # above chance for 10 classes
    rnn = results["rnn"]
    assert rnn["reloaded_predictions_equal"] and rnn["classes_agree"] and rnn["checkpoint_saved"]
    assert 1 <= rnn["early_stopping_epochs"] <= rnn["early_stopping_max_epochs"]
    assert results["rnn_data"] in ("imdb", "synthetic")
    for name in ("model_file.h5", "model_file.keras", "best_model.keras"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text())["rnn"] == rnn


def test_synthetic_reviews_label_follows_the_planted_words(load_example):
    reviews, labels = load_example("cheat_sheet_unchanged").synthetic_reviews(400, seed=3)
    positive = np.array([sum(100 <= w < 150 for w in review) for review in reviews])
    negative = np.array([sum(150 <= w < 200 for w in review) for review in reviews])
    assert all(review[0] == 1 and max(review) < 20000 for review in reviews)
    # Three in four planted words agree with the label: the majority agrees with it in most reviews.
    agree = np.mean((positive > negative) == (labels == 1))
    assert 0.75 < agree < 1.0
