"""examples/transfer_learning.py at quick scale: pre-training learns, every method is scored, the pictures exist."""
import json


def test_quick_run(load_example, tmp_path):
    results = load_example("transfer_learning").main(["--quick", "--out", str(tmp_path)])
    assert results["source_validation_accuracy"] > 0.3  # 5 source classes: chance is 0.2
    for scores in results["test_accuracy"].values():
        assert set(scores) == {"scratch", "frozen_base", "fine_tuned"}
        assert all(0.0 <= value <= 1.0 for value in scores.values())
    assert json.loads((tmp_path / "results.json").read_text())["test_accuracy"] == results["test_accuracy"]
    for name in ("accuracy.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
