"""examples/autoencoder.py: the checkerboard of a strided transposed convolution, at quick scale."""
import numpy as np


def test_one_layer_on_a_constant_input(load_example):
    transposed, resized = load_example("autoencoder").one_layer_on_constant()
    assert transposed.shape == resized.shape == (14, 14)
    # With every weight 1, each output pixel is the number of (input pixel, kernel tap) pairs that reach it: a 3x3
    # kernel moved 2 pixels at a time covers alternate columns once and twice, so the 2-D counts are 1, 2 and 4.
    assert set(np.unique(transposed)) == {1.0, 2.0, 4.0}
    # Nearest upsampling then a 3x3 convolution: 9 everywhere except the zero-padded border.
    np.testing.assert_allclose(resized[1:-1, 1:-1], 9.0)


def test_nyquist_fraction_of_a_checkerboard(load_example):
    module = load_example("autoencoder")
    rows, columns = np.indices((28, 28))
    checkerboard = ((rows + columns) % 2).astype("float32")[None, ..., None]
    assert module.nyquist_fraction(checkerboard) > 0.99
    smooth = np.sin(2 * np.pi * columns / 28)[None, ..., None]
    assert module.nyquist_fraction(smooth) < 1e-6


def test_quick_run(load_example, tmp_path):
    results = load_example("autoencoder").main(["--quick", "--out", str(tmp_path)])
    # Untrained (and barely trained), the transposed convolution's checkerboard dominates its output.
    during = results["nyquist_energy_fraction_during_training"]
    assert during["transposed"]["energy"][0] > 10 * during["resize"]["energy"][0]
    assert len(during["transposed"]["steps"]) == len(during["transposed"]["energy"]) > 1
    assert set(results["nyquist_energy_fraction_random_codes"]) == {"transposed", "resize"}
    assert set(results["psnr_db"]) == {"noisy", "plain_autoencoder", "denoising_autoencoder"}
    for name in ("checkerboard.png", "checkerboard_training.png", "reconstructions.png", "denoising.png",
                 "results.json"):
        assert (tmp_path / name).stat().st_size > 0
