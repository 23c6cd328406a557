"""examples/residual_networks.py at quick scale: plain and residual networks have the same weights, the skip
connection passes its input through, the pictures exist."""
import json

import numpy as np

import deepglass as keras

PNG = b"\x89PNG\r\n\x1a\n"


def test_residual_block_with_zero_weights_is_the_identity(load_example):
    """With every convolution weight 0, a residual block outputs ReLU(input) (BatchNormalization of zeros is its
    beta, 0); the plain block outputs ReLU(0) = 0."""
    example = load_example("residual_networks")
    x = np.random.default_rng(0).normal(size=(4, 8, 8, example.WIDTH)).astype("float32")
    for residual, expected in ((True, np.maximum(x, 0)), (False, np.zeros_like(x))):
        inputs = keras.Input((8, 8, example.WIDTH))
        model = keras.Model(inputs, example.block(inputs, residual))
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)


def test_quick_run(load_example, tmp_path):
    results = load_example("residual_networks").main(["--quick", "--out", str(tmp_path)])
    networks = results["networks"]
    assert len(networks) == 4
    width = 16
    for name, row in networks.items():
        # Stem 3x3 convolution, two 3x3 convolutions per block (no bias), BatchNormalization 4 numbers per
        # channel after each, Dense 16 -> 10: the skip connections add no weights.
        per_block = 2 * (9 * width * width + 4 * width)
        assert row["parameters"] == 9 * width + 4 * width + row["blocks"] * per_block + width * 10 + 10, name
        assert np.isfinite(row["final_train_loss"]), name
    for name in ("training_curves.png", "gradient_norms.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert json.loads((tmp_path / "results.json").read_text())["networks"] == networks
