"""The optimizer's state is saved with the model, so training continues where it stopped: two more epochs after a
save/load equal two more epochs without one."""
import numpy as np
import pytest

import deepglass

pytest.importorskip("h5py")


def make():
    return deepglass.Sequential([deepglass.Input((5,)), deepglass.layers.Dense(8, activation="tanh"),
                                 deepglass.layers.Dense(1)])


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 5)).astype("float32")
    return x, (x @ rng.standard_normal((5, 1)) + 0.1).astype("float32")


def two_more_epochs(model, x, y):
    deepglass.config.set_random_seed(7)  # the same shuffling for both runs
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("optimizer", [
    lambda: deepglass.optimizers.Adam(learning_rate=0.01),
    lambda: deepglass.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    lambda: deepglass.optimizers.RMSprop(learning_rate=0.01, momentum=0.5),
    lambda: deepglass.optimizers.AdamW(learning_rate=deepglass.optimizers.schedules.ExponentialDecay(0.01, 3, 0.5)),
], ids=["adam", "sgd-nesterov", "rmsprop-momentum", "adamw-schedule"])
def test_training_continues_after_save_and_load(optimizer, tmp_path):
    x, y = data()
    model = make()
    model.compile(optimizer=optimizer(), loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = deepglass.saving.load_model(tmp_path / "m.keras")
    expected = two_more_epochs(model, x, y)
    resumed = two_more_epochs(restored, x, y)
    for mine, theirs in zip(expected, resumed, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert restored.optimizer.iterations == model.optimizer.iterations == 9


def test_a_fresh_optimizer_would_not_continue(tmp_path):
    """The control: without the saved state (compile=False, then compile again) the runs part."""
    x, y = data()
    model = make()
    model.compile(optimizer=deepglass.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = deepglass.saving.load_model(tmp_path / "m.keras", compile=False)
    assert not restored.compiled
    restored.compile(optimizer=deepglass.optimizers.Adam(learning_rate=0.01), loss="mse")
    expected, fresh = two_more_epochs(model, x, y), two_more_epochs(restored, x, y)
    assert not np.allclose(expected[0], fresh[0])


def test_weights_file_carries_the_optimizer_state(tmp_path):
    x, y = data()
    model = make()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    twin = make()
    twin.compile(optimizer="adam", loss="mse")
    twin.load_weights(tmp_path / "w.weights.h5")
    for mine, theirs in zip(two_more_epochs(model, x, y), two_more_epochs(twin, x, y), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_weights_load_into_a_model_compiled_with_another_optimizer(tmp_path):
    model = make()
    model.compile(optimizer="adam", loss="mse")
    model.fit(*data(), epochs=1, batch_size=8, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    twin = make()
    twin.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="optimizer starts afresh"):
        twin.load_weights(tmp_path / "w.weights.h5")
    for mine, theirs in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_legacy_h5_carries_the_optimizer_state(tmp_path):
    x, y = data()
    model = make()
    model.compile(optimizer=deepglass.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.h5")
    restored = deepglass.models.load_model(tmp_path / "m.h5")
    for mine, theirs in zip(two_more_epochs(model, x, y), two_more_epochs(restored, x, y), strict=True):
        np.testing.assert_array_equal(mine, theirs)
