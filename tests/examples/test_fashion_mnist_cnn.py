"""examples/fashion_mnist_cnn.py at quick scale: four models trained, the pictures and the report written."""
import json

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run(load_example, tmp_path):
    example = load_example("fashion_mnist_cnn")
    summary = example.main(["--quick", "--out", str(tmp_path)])

    assert summary["epochs"] == 1 and summary["train_images"] == 512
    models = summary["models"]
    assert list(models) == list(example.MODELS)
    for name, row in models.items():
        assert row["test_accuracy"] > 0.1, name  # above chance (10 classes) after one epoch on 512 images
        assert row["benchmark"] == example.BENCHMARK.get(name) and row["train_seconds"] > 0
    # Parameter counts in closed form: 3x3 kernels, 'same' padding, two 2x2 poolings leave 7x7 feature maps.
    assert models["cheat-sheet MLP"]["parameters"] == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    assert models["2 Conv + pooling"]["parameters"] == ((9 * 32 + 32) + (9 * 32 * 64 + 64) + (7 * 7 * 64 * 128 + 128)
                                                        + (128 * 10 + 10))
    assert summary["best"] == max(models, key=lambda name: models[name]["test_accuracy"])

    assert (tmp_path / "learning_curves.png").read_bytes()[:8] == PNG
    report = (tmp_path / "report.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and f"Fashion-MNIST: {summary['best']}" in report
    assert json.loads((tmp_path / "results.json").read_text())["models"] == models
