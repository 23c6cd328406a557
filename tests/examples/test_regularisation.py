"""examples/regularisation.py at quick scale: every regulariser keeps the training loss away from zero, the learning
curves are diagnosed, the pictures exist."""
import json

import numpy as np

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run(load_example, tmp_path):
    example = load_example("regularisation")
    results = example.main(["--quick", "--out", str(tmp_path)])
    variants = results["variants"]
    assert list(variants) == list(example.VARIANTS)

    baseline = variants["baseline"]
    for name, row in variants.items():
        assert row["test_accuracy"] > 0.5, name  # all of them learn (chance is 0.1)
        assert isinstance(row["findings"], list) and row["findings"], name  # diagnose() always says something
        # The gap is recomputed from its parts: cross-entropy on validation minus on training data.
        np.testing.assert_allclose(row["gap"], row["val_cross_entropy"] - row["train_cross_entropy"], rtol=1e-6)
    # The unregularised network fits its 200 images best; each regulariser holds it back from learning them by heart.
    for name in ("l2", "l1", "dropout", "augmentation"):
        assert variants[name]["train_cross_entropy"] > baseline["train_cross_entropy"], name
    assert variants["early_stopping"]["epochs_run"] <= results["epochs"]

    for name in ("learning_curves.png", "augmentation.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert json.loads((tmp_path / "results.json").read_text())["variants"] == variants
