"""examples/vanishing_gradients.py at quick scale: the Monitor finds vanishing gradients where theory puts them."""
import json

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run(load_example, tmp_path):
    example = load_example("vanishing_gradients")
    results = example.main(["--quick", "--out", str(tmp_path)])
    runs = results["configurations"]
    assert set(runs) == set(example.CONFIGURATIONS)

    # Sigmoid (slope at most 0.25) or weights of stddev 0.05 over 64 inputs shrink the gradient at every layer;
    # He initialisation or BatchNormalization keep its size. This holds from the first step on.
    for name in ("sigmoid_naive", "sigmoid_glorot", "relu_naive"):
        assert "vanishing_gradients" in runs[name]["findings"], name
        assert runs[name]["first_to_last_gradient"] < 1e-5, name
    for name in ("relu_he", "sigmoid_glorot_bn", "relu_he_bn"):
        assert "vanishing_gradients" not in runs[name]["findings"], name
        assert runs[name]["first_to_last_gradient"] > 1e-2, name

    for name in example.CONFIGURATIONS:
        assert (tmp_path / f"gradient_flow_{name}.png").read_bytes()[:8] == PNG
    assert (tmp_path / "summary.png").read_bytes()[:8] == PNG
    assert json.loads((tmp_path / "results.json").read_text())["configurations"] == runs

