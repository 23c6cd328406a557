"""examples/mc_dropout_uncertainty.py at quick scale: MC dropout varies, ECE and entropies are consistent."""
import numpy as np


def test_quick_run(load_example, tmp_path):
    results = load_example("mc_dropout_uncertainty").main(["--quick", "--out", str(tmp_path)])
    assert results["mean_std_of_predicted_class"] > 0  # dropout left on: the passes disagree
    for method in ("softmax", "mc_dropout"):
        assert 0.0 <= results["ece"][method] <= 1.0
        assert all(0.0 <= h <= np.log(5) + 1e-6 for h in results["mean_entropy"][method].values())
        assert all(0.0 <= a <= 1.0 for a in results["auroc"][method].values())
    for name in ("reliability_softmax.png", "reliability_mc_dropout.png", "entropy.png", "examples.png",
                 "history.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_auroc_matches_the_rank_formula(load_example):
    module = load_example("mc_dropout_uncertainty")
    inside, outside = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.9, 0.4, 0.7])
    # The Mann-Whitney statistic: the share of (outside, inside) pairs where outside is larger, ties one half.
    pairs = [(o > i) + 0.5 * (o == i) for o in outside for i in inside]
    assert module.auroc(inside, outside) == np.mean(pairs)
