"""examples/gan.py: the digit score, and a quick run of the two-optimizer training loop."""
import numpy as np


def test_digit_score_limits(load_example):
    module = load_example("gan")

    class Judge:  # stands in for the classifier: returns fixed class probabilities
        def __init__(self, p):
            self.p = np.asarray(p, dtype="float32")

        def predict(self, images, verbose=0):
            return self.p

    # Confident and spread evenly over the ten classes: exp(log 10) = 10; always the same class or unsure: 1.
    assert np.isclose(module.digit_score(Judge(np.eye(10)), None), 10.0, rtol=1e-6)
    assert np.isclose(module.digit_score(Judge(np.tile(np.eye(10)[3], (5, 1))), None), 1.0)
    assert np.isclose(module.digit_score(Judge(np.full((4, 10), 0.1)), None), 1.0)


def test_quick_run_trains_only_the_network_it_should(load_example, tmp_path):
    module = load_example("gan")
    results = module.main(["--quick", "--out", str(tmp_path)])
    assert len(results["history"]["d_loss"]) == len(results["history"]["g_loss"]) == results["epochs"]
    assert all(np.isfinite(results["history"]["d_loss"] + results["history"]["g_loss"]))
    for epoch in results["snapshot_epochs"]:
        assert (tmp_path / f"samples_epoch_{epoch:03d}.png").stat().st_size > 0
    for name in ("progress.png", "training.png", "real_digits.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_generator_step_leaves_the_discriminator_unchanged(load_example):
    module = load_example("gan")
    generator, discriminator, gan = module.build_gan()
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, size=(8, 8, 8, 1)).astype("float32")
    module.train_step(generator, discriminator, gan, real, rng)  # builds both optimizers
    before_d, before_g = discriminator.get_weights(), generator.get_weights()
    discriminator.trainable = False
    gan.train_on_batch(rng.normal(size=(8, module.LATENT)).astype("float32"), np.ones((8, 1), dtype="float32"))
    for old, new in zip(before_d, discriminator.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert any(not np.array_equal(old, new) for old, new in zip(before_g, generator.get_weights()))
