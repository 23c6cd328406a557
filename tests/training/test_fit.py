"""fit / evaluate / predict: results against a hand-written PyTorch loop and Keras's documented behaviour."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers


def data(n=96, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    return x, np.minimum(y, classes - 1)


def small_model(classes=3):
    return deepglass.Sequential([deepglass.Input((5,)), layers.Dense(8, activation="tanh"),
                                 layers.Dense(classes, activation="softmax")])


def test_fit_equals_a_plain_torch_sgd_loop():
    x, y = data()
    model = small_model()
    initial = model.get_weights()
    model.compile(optimizer=deepglass.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)

    w1, b1, w2, b2 = [torch.tensor(w, requires_grad=True) for w in initial]
    losses = []
    for _ in range(2):
        epoch_losses = []
        for start in range(0, len(x), 32):
            xb, yb = torch.from_numpy(x[start:start + 32]), torch.from_numpy(y[start:start + 32])
            probs = torch.softmax(torch.tanh(xb @ w1 + b1) @ w2 + b2, dim=-1)
            loss = -torch.log(probs.clamp(1e-7, 1 - 1e-7)[torch.arange(len(yb)), yb]).mean()
            loss.backward()
            with torch.no_grad():
                for w in (w1, b1, w2, b2):
                    w -= 0.1 * w.grad
                    w.grad = None
            epoch_losses.append(loss.item())
        losses.append(np.mean(epoch_losses))
    for mine, expected in zip(model.get_weights(), (w1, b1, w2, b2)):
        np.testing.assert_allclose(mine, expected.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)


def test_history_holds_loss_metrics_and_validation_entries():
    x, y = data()
    model = small_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(values) == 3 for values in history.history.values())
    assert history.epoch == [0, 1, 2] and model.history is history


def test_validation_split_uses_the_last_samples_like_keras():
    x, y = data(n=40)
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0, shuffle=False)
    expected = model.evaluate(x[30:], y[30:], verbose=0, return_dict=True)
    np.testing.assert_allclose(history.history["val_loss"][0], expected["loss"], rtol=1e-6)
    np.testing.assert_allclose(history.history["val_accuracy"][0], expected["accuracy"], rtol=1e-6)


def test_same_seed_gives_identical_weights():
    x, y = data()

    def run():
        deepglass.clear_session()
        deepglass.config.set_random_seed(42)
        model = small_model()
        model.layers[0].rate = None
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_evaluate_returns_scalar_list_or_dict():
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy", "sparse_categorical_crossentropy"])
    values = model.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 3
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["accuracy", "loss", "sparse_categorical_crossentropy"]
    probs = model.predict(x, verbose=0)
    manual = -np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1)).mean()
    np.testing.assert_allclose(logs["loss"], manual, rtol=1e-5)
    np.testing.assert_allclose(logs["accuracy"], (probs.argmax(1) == y).mean(), rtol=1e-6)


def test_predict_returns_numpy_in_batches_equal_to_one_call():
    x, _ = data(n=70)
    model = small_model()
    out = model.predict(x, batch_size=16, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (70, 3)
    np.testing.assert_allclose(out, model(torch.from_numpy(x)).detach().cpu().numpy(), atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:4]), out[:4], atol=1e-6)


def test_sample_weight_and_class_weight_scale_the_loss():
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    plain = model.evaluate(x, y, verbose=0)
    doubled = model.evaluate(x, y, sample_weight=np.full(len(y), 2.0), verbose=0)
    np.testing.assert_allclose(doubled, 2 * plain, rtol=1e-5)
    model.fit(x, y, class_weight={0: 1.0, 1: 1.0, 2: 1.0}, epochs=1, verbose=0)  # accepted for every class


def test_class_weight_equals_the_matching_sample_weight():
    x, y = data()
    weights = {0: 0.5, 1: 2.0, 2: 1.0}

    def train(**kwargs):
        deepglass.clear_session()
        deepglass.config.set_random_seed(1)
        model = small_model()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, shuffle=False, verbose=0, **kwargs)
        return model.get_weights()

    by_class = train(class_weight=weights)
    by_sample = train(sample_weight=np.array([weights[int(c)] for c in y]))
    for a, b in zip(by_class, by_sample):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_initial_epoch_steps_per_epoch_and_validation_freq():
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=5, initial_epoch=2, steps_per_epoch=2, batch_size=8,
                        validation_data=(x, y), validation_freq=3, verbose=0)
    assert history.epoch == [2, 3, 4]
    assert len(history.history["loss"]) == 3 and len(history.history["val_loss"]) == 1
    assert model.optimizer.iterations == 6


def test_train_and_test_on_batch():
    x, y = data()
    model = small_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.train_on_batch(x[:32], y[:32])
    assert model.optimizer.iterations == 1 and 0 <= accuracy <= 1
    logs = model.test_on_batch(x[:32], y[:32], return_dict=True)
    assert set(logs) == {"loss", "accuracy"}


def test_train_on_batch_reports_its_own_batch_as_keras_does():
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x[:32], y[:32])
    before = model.evaluate(x[32:64], y[32:64], verbose=0)  # the loss the next step computes, before its update
    assert model.train_on_batch(x[32:64], y[32:64]) == pytest.approx(before, rel=1e-5)


def test_multi_output_losses_weights_and_named_metrics():
    inputs = deepglass.Input((5,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    cls = layers.Dense(3, activation="softmax", name="cls")(hidden)
    reg = layers.Dense(1, name="reg")(hidden)
    model = deepglass.Model(inputs, [cls, reg])
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    x, y = data()
    target = x[:, :1]
    logs = model.evaluate(x, {"cls": y, "reg": target}, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "cls_loss", "reg_loss", "cls_accuracy"}
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + 0.5 * logs["reg_loss"], rtol=1e-5)
    history = model.fit(x, [y, target], epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_regularization_penalty_is_part_of_the_reported_loss():
    x, y = data()
    model = deepglass.Sequential([deepglass.Input((5,)), layers.Dense(3, activation="softmax",
                                                                       kernel_regularizer=deepglass.regularizers.L2(1.0))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with_penalty = model.evaluate(x, y, verbose=0)
    probs = model.predict(x, verbose=0)
    data_loss = -np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1)).mean()
    penalty = (model.get_weights()[0] ** 2).sum()
    np.testing.assert_allclose(with_penalty, data_loss + penalty, rtol=1e-5)


def test_constraints_hold_after_every_step():
    x, y = data()
    model = deepglass.Sequential([deepglass.Input((5,)), layers.Dense(3, activation="softmax",
                                                                       kernel_constraint=deepglass.constraints.NonNeg())])
    model.compile(optimizer=deepglass.optimizers.SGD(learning_rate=1.0), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    assert (model.get_weights()[0] >= 0).all()


def test_progress_output_is_one_line_per_epoch_when_not_a_terminal(capsys):
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=32, verbose=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("3/3") and "accuracy:" in lines[1] and "loss:" in lines[1] and "\r" not in lines[1]


def test_fit_leaves_the_model_in_inference_mode():
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert not model.training and not any(m.training for m in model.modules())


def frozen_first_layer(optimizer="adam"):
    model = small_model()
    model.layers[0].trainable = False
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


UNTRACKED = "optimizer does not update"


def changes(weight):
    """A function that says whether `weight` has changed since this call."""
    before = weight.detach().clone()
    return lambda: not torch.equal(before, weight.detach())


def test_a_layer_unfrozen_without_compiling_again_trains_from_the_next_fit():
    x, y = data()
    model = frozen_first_layer()
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[0].trainable = True
    changed = changes(model.layers[0].kernel)
    expected = rf"{UNTRACKED}: dense(_\d+)?/kernel, dense(_\d+)?/bias .*from step 0"
    with pytest.warns(UserWarning, match=expected) as caught:
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert caught[0].filename == __file__  # the warning names the user's line
    assert changed() and model.optimizer.iterations == 3  # started afresh: this fit's three steps


class SetTrainableAtSecondEpoch(deepglass.callbacks.Callback):
    """Sets the first layer's `trainable` as the second epoch begins; `changed()` then says whether its kernel moved
    since."""

    def __init__(self, trainable):
        super().__init__()
        self.trainable = trainable

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.model.layers[0].trainable = self.trainable
            self.changed = changes(self.model.layers[0].kernel)


def test_a_layer_unfrozen_by_a_callback_trains_from_the_next_epoch():
    x, y = data()
    model, unfreeze = frozen_first_layer(), SetTrainableAtSecondEpoch(True)
    with pytest.warns(UserWarning, match=UNTRACKED):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[unfreeze])
    assert unfreeze.changed()


def test_a_layer_unfrozen_before_train_on_batch_trains(recwarn):
    x, y = data()
    model = frozen_first_layer()
    model.train_on_batch(x[:16], y[:16])
    model.layers[0].trainable = True
    changed = changes(model.layers[0].kernel)
    with pytest.warns(UserWarning, match=UNTRACKED):
        model.train_on_batch(x[:16], y[:16])
    assert changed()


def test_freezing_and_unfreezing_again_keeps_the_rebuilt_optimizer(recwarn):
    x, y = data()
    model = frozen_first_layer()  # the optimizer is built on the second layer's weights
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[0].trainable, model.layers[1].trainable = True, False
    with pytest.warns(UserWarning, match=UNTRACKED):
        model.fit(x, y, epochs=1, verbose=0)
    torch_optimizer = model.optimizer.torch_optimizer  # built on both layers' weights, the frozen one's included
    for first, second in ((False, True), (True, True), (True, False), (False, True)):
        model.layers[0].trainable, model.layers[1].trainable = first, second
        model.fit(x, y, epochs=1, verbose=0)
    assert model.optimizer.torch_optimizer is torch_optimizer and model.optimizer.iterations == 15
    assert not [w for w in recwarn if UNTRACKED in str(w.message)]


def test_weights_replaced_by_new_tensors_train_and_keep_their_decay_exemption():
    x, y = data()
    model = small_model()
    optimizer = deepglass.optimizers.AdamW(weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_list=[model.layers[1].kernel])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()}, assign=True)
    changed = changes(model.layers[1].kernel)
    with pytest.warns(UserWarning, match=UNTRACKED):
        model.fit(x, y, epochs=1, verbose=0)
    assert changed()
    assert not optimizer._uses_weight_decay(model.layers[1].kernel) and optimizer._uses_weight_decay(
        model.layers[0].kernel)


def test_an_optimizer_shared_by_two_models_trains_each(recwarn):
    x, y = data()
    optimizer = deepglass.optimizers.Adam()
    first, second = small_model(), small_model()
    for model in (first, second):
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    first.fit(x, y, epochs=1, verbose=0)
    second.fit(x, y, epochs=1, verbose=0)
    changed = changes(first.layers[0].kernel)
    with pytest.warns(UserWarning, match="shared with another model"):
        first.fit(x, y, epochs=1, verbose=0)
    assert changed()


def test_freezing_a_layer_keeps_the_optimizer_and_its_state(recwarn):
    x, y = data()
    model, freeze = small_model(), SetTrainableAtSecondEpoch(False)
    model.compile(optimizer=deepglass.optimizers.Adam(use_ema=True), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    torch_optimizer, steps = model.optimizer.torch_optimizer, model.optimizer.iterations
    model.fit(x, y, epochs=2, verbose=0, callbacks=[freeze])
    assert model.optimizer.torch_optimizer is torch_optimizer and model.optimizer.iterations == 3 * steps
    assert not freeze.changed()  # neither stepped nor given its moving average at the end, as in Keras
    assert not [w for w in recwarn if UNTRACKED in str(w.message)]


def test_freezing_a_layer_freezes_the_torch_modules_it_holds():
    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(5, 5)

        def call(self, inputs):
            return self.linear(inputs)

    x, y = data()
    block = Block()
    model = deepglass.Sequential([deepglass.Input((5,)), block, layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    block.trainable = False
    changed = changes(block.linear.weight)
    model.fit(x, y, epochs=1, verbose=0)
    assert not changed() and not block.linear.weight.requires_grad
    block.trainable = True
    assert block.linear.weight.requires_grad


def test_stop_training_from_a_callback():
    class StopAfterTwoBatches(deepglass.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=5, batch_size=8, callbacks=[StopAfterTwoBatches()], verbose=0)
    assert model.optimizer.iterations == 2 and len(history.epoch) == 1


def test_use_ema_puts_the_moving_average_into_the_weights_at_the_end_of_fit():
    x, y = data()

    def train(use_ema):
        deepglass.clear_session()
        deepglass.config.set_random_seed(2)
        model = small_model()
        model.compile(optimizer=deepglass.optimizers.SGD(learning_rate=0.1, use_ema=use_ema, ema_momentum=0.5),
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
        return model

    plain, averaged = train(False), train(True)
    different = [not np.allclose(a, b) for a, b in zip(plain.get_weights(), averaged.get_weights())]
    assert all(different)


def test_weight_decay_exclusion_by_layer_name_reaches_the_optimizer():
    x, y = data()

    def one_step(weight_decay, exclude):
        deepglass.clear_session()
        deepglass.config.set_random_seed(4)
        model = small_model()
        optimizer = deepglass.optimizers.AdamW(learning_rate=0.1, weight_decay=weight_decay)
        if exclude:
            optimizer.exclude_from_weight_decay(var_names=[model.layers[0].name + "/"])
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0)
        return model.get_weights()

    no_decay, excluded = one_step(0.0, False), one_step(0.5, True)
    np.testing.assert_array_equal(no_decay[0], excluded[0])  # the first layer was excluded by name
    assert not np.allclose(no_decay[2], excluded[2])  # the second decayed


def test_one_batch_forms_check_each_kind_of_batch_once(monkeypatch):
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    checks = []
    real = type(model)._checked_forward
    monkeypatch.setattr(type(model), "_checked_forward", lambda self, x: checks.append(len(x)) or real(self, x))
    for start in (0, 8, 16):
        model.train_on_batch(x[start:start + 8], y[start:start + 8])
    model.test_on_batch(x[:8], y[:8])
    assert checks == [2]  # the same shapes and dtypes: checked once, on the first two samples
    with pytest.raises(ValueError, match=r"got shape \(8, 2\)"):
        model.train_on_batch(x[:8, :2], y[:8])  # another kind of batch is checked again, and refused
    assert checks == [2, 2, 8]  # refused on two samples, then on the whole batch, whose shape the error names


def test_fit_and_evaluate_check_shapes_on_two_samples_and_labels_over_the_first_batch(monkeypatch):
    x, y = data()
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    checks = []
    real = type(model)._checked_forward
    monkeypatch.setattr(type(model), "_checked_forward", lambda self, x: checks.append(len(x)) or real(self, x))
    model.fit(x, y, batch_size=32, verbose=0)
    model.evaluate(x, y, batch_size=32, verbose=0)
    assert checks == [2]  # not a forward pass of a whole batch, and not again for inputs of the same kind
    bad = y.copy()
    bad[20] = 3  # in the first batch, beyond the first two samples
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"labels from 0 to 3.*renumber the labels 0\.\.2"):
        model.fit(x, bad, batch_size=32, verbose=0)
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in model.get_weights()]),
                                  np.concatenate([w.ravel() for w in before]))


def test_a_callback_s_predict_leaves_the_next_steps_in_training_mode():
    model = deepglass.Sequential([deepglass.layers.Input((3,)), deepglass.layers.Dropout(0.5),
                                  deepglass.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((32, 3), "float32"), np.zeros((32, 1), "float32")
    modes = []

    class PredictEachBatch(deepglass.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            modes.append(all(layer.training for layer in self.model.layers))

        def on_train_batch_end(self, batch, logs=None):
            self.model.predict(x[:4], verbose=0)
            self.model.evaluate(x[:4], y[:4], verbose=0)

    model.fit(x, y, batch_size=8, verbose=0, callbacks=[PredictEachBatch()])
    assert modes == [True] * 4
    assert not model.training  # inference mode after fit, as before
