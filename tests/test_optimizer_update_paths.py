"""The updates that skip torch's wrappers equal `torch.optim`'s `step()`, bit for bit, and give way to it wherever the
two could differ: Adam's through torch's functional `adam`, the other `torch.optim` optimizers' through their class's
own `step` without the wrappers around it."""
import functools

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import deepglass
from deepglass.optimizers import adam as adam_module
from deepglass.optimizers import optimizer as optimizer_module


def train(make_optimizer, shortcut, steps=6):
    """Weights and torch state after `steps` updates of a small model; at step 3 one weight gets no gradient."""
    torch.manual_seed(0)
    model = deepglass.Sequential([deepglass.layers.Input((5,)), deepglass.layers.Dense(4, activation="relu"),
                                  deepglass.layers.Dense(2)])
    optimizer = make_optimizer()
    if not shortcut:  # a hook on the torch optimizer sends every update through its own step()
        optimizer.build(model._named_trainable_weights())
        optimizer.torch_optimizer.register_step_pre_hook(lambda *args: None)
    optimizer.build(model._named_trainable_weights())
    for step in range(steps):
        optimizer.zero_grad()
        model(torch.randn(8, 5)).square().mean().backward()
        if step == 3:
            model.layers[0].bias.grad = None
        optimizer.step()
    return [w.detach().clone() for w in model.trainable_weights], optimizer.torch_optimizer.state


def assert_same_training(ours, reference):
    """The weights and the torch optimizer's state of two `train` runs are equal, bit for bit."""
    (weights, state), (reference_weights, reference_state) = ours, reference
    for mine, theirs in zip(weights, reference_weights):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(state.values(), reference_state.values()):
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def assert_torch_step_trains_the_same(make_optimizer, shortcut, taken):
    """`shortcut`, a `train` run whose shortcut recorded each use in `taken`, equals a run through torch's own
    `step()`, which takes the shortcut not once."""
    taken.clear()
    reference = train(make_optimizer, shortcut=False)
    assert not taken
    assert_same_training(shortcut, reference)


def excluding_biases():
    optimizer = deepglass.optimizers.AdamW(0.01, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])  # two parameter groups
    return optimizer


@pytest.mark.parametrize("make_optimizer", [lambda: deepglass.optimizers.Adam(0.01),
                                            lambda: deepglass.optimizers.Adam(0.01, amsgrad=True, weight_decay=0.05),
                                            excluding_biases], ids=["adam", "amsgrad", "adamw-two-groups"])
def test_the_functional_update_equals_torch_step_bit_for_bit(make_optimizer, monkeypatch):
    calls = []
    real = adam_module.functional_adam
    monkeypatch.setattr(adam_module, "functional_adam", lambda **kwargs: calls.append(kwargs) or real(**kwargs))
    shortcut = train(make_optimizer, shortcut=True)
    assert calls  # taken after the first update, which creates the state
    assert len({len(c["params"]) for c in calls}) > 1  # the update without the bias's gradient left it out
    assert_torch_step_trains_the_same(make_optimizer, shortcut, calls)


def test_torch_step_runs_where_hooks_or_missing_state_need_it():
    model = deepglass.Sequential([deepglass.layers.Input((3,)), deepglass.layers.Dense(2)])
    optimizer = deepglass.optimizers.Adam()
    optimizer.build(model.trainable_weights)
    model(torch.ones(4, 3)).sum().backward()
    assert adam_module._functional_adam_calls(optimizer.torch_optimizer) is None  # no state before the first step
    optimizer.step()
    model(torch.ones(4, 3)).sum().backward()
    assert adam_module._functional_adam_calls(optimizer.torch_optimizer) is not None
    seen = []
    handle = optimizer.torch_optimizer.register_step_post_hook(lambda *args: seen.append("post"))
    optimizer.step()
    assert seen == ["post"]  # the hook ran: torch's own step took the update
    handle.remove()
    handle = register_optimizer_step_pre_hook(lambda *args: seen.append("global"))
    try:
        model(torch.ones(4, 3)).sum().backward()
        optimizer.step()
    finally:
        handle.remove()
    assert seen == ["post", "global"]


BARE_STEP_OPTIMIZERS = {
    "sgd": lambda: deepglass.optimizers.SGD(0.05),
    "sgd-nesterov": lambda: deepglass.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop-centered-momentum": lambda: deepglass.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: deepglass.optimizers.Adagrad(0.05),
    "adadelta": lambda: deepglass.optimizers.Adadelta(1.0),
    "adamax": lambda: deepglass.optimizers.Adamax(0.01),
    "nadam": lambda: deepglass.optimizers.Nadam(0.01),
}


@pytest.mark.parametrize("make_optimizer", BARE_STEP_OPTIMIZERS.values(), ids=BARE_STEP_OPTIMIZERS.keys())
def test_the_bare_step_equals_torch_step_bit_for_bit(make_optimizer, monkeypatch):
    runs = []
    real = optimizer_module._bare_step
    monkeypatch.setattr(optimizer_module, "_bare_step", lambda step: lambda opt: runs.append(step) or real(step)(opt))
    shortcut = train(make_optimizer, shortcut=True)
    assert len(runs) == 6 and real(runs[0]) is not None
    assert_torch_step_trains_the_same(make_optimizer, shortcut, runs)


def test_the_bare_step_gives_way_to_hooks_and_takes_off_only_torch_s_wrappers():
    model = deepglass.Sequential([deepglass.layers.Input((3,)), deepglass.layers.Dense(2)])
    optimizer = deepglass.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_weights)
    seen = []

    def train_step():
        model(torch.ones(4, 3)).sum().backward()
        optimizer.step()

    own = optimizer.torch_optimizer.register_step_post_hook(lambda *args: seen.append("own"))
    train_step()
    own.remove()
    shared = register_optimizer_step_pre_hook(lambda *args: seen.append("global"))
    try:
        train_step()
    finally:
        shared.remove()
    train_step()
    assert seen == ["own", "global"]
    step = optimizer.torch_optimizer.step
    optimizer.torch_optimizer.step = lambda *args, **kwargs: seen.append("patched") or step(*args, **kwargs)
    train_step()
    assert seen == ["own", "global", "patched"]  # a step of the instance's own, as torch's LR schedulers give it
    lion = deepglass.optimizers.Lion()
    lion.build(model.trainable_weights)
    lion_step = type(lion.torch_optimizer).step  # torch's wrapper over the class's own `@torch.no_grad()` step
    assert optimizer_module._bare_step(lion_step) is lion_step.__wrapped__  # only torch's wrapper comes off


def test_a_step_wrapped_over_torch_s_own_wrappers_still_runs(monkeypatch):
    calls = []
    torch_step = torch.optim.SGD.step

    @functools.wraps(torch_step)
    def counted(*args, **kwargs):
        calls.append(1)
        return torch_step(*args, **kwargs)

    model = deepglass.Sequential([deepglass.layers.Input((3,)), deepglass.layers.Dense(2)])
    model.compile(deepglass.optimizers.SGD(0.1), "mse")
    model.fit(np.ones((8, 3)), np.ones((8, 2)), batch_size=4, verbose=0)  # the bare step is taken before the patch
    monkeypatch.setattr(torch.optim.SGD, "step", counted)
    model.fit(np.ones((8, 3)), np.ones((8, 2)), batch_size=4, verbose=0)
    assert len(calls) == 2


FOLLOWING_OPTIMIZERS = {
    "adamw": lambda: deepglass.optimizers.AdamW(0.01, weight_decay=0.1),
    "sgd-momentum-ema-accumulation": lambda: deepglass.optimizers.SGD(
        0.05, momentum=0.9, use_ema=True, gradient_accumulation_steps=2),
    "rmsprop-schedule": lambda: deepglass.optimizers.RMSprop(
        deepglass.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5)),
}


@pytest.mark.parametrize("make_optimizer", FOLLOWING_OPTIMIZERS.values(), ids=FOLLOWING_OPTIMIZERS.keys())
def test_an_optimizer_built_again_for_moved_weights_goes_on_as_before(make_optimizer):
    def run(move_halfway):
        torch.manual_seed(0)
        model = deepglass.Sequential([deepglass.layers.Input((5,)), deepglass.layers.Dense(4), deepglass.layers.Dense(2)])
        optimizer = make_optimizer()
        optimizer.build(model._named_trainable_weights())
        for step in range(6):
            if step == 3 and move_halfway:  # as if the weights had been built elsewhere and then moved here
                optimizer._devices, before = {torch.device("meta")}, optimizer.torch_optimizer
                optimizer.follow_weights()
                assert optimizer.torch_optimizer is not before
            optimizer.zero_grad()
            model(torch.randn(8, 5)).square().mean().backward()
            optimizer.step()
        return [w.detach().clone() for w in model.trainable_weights], optimizer.torch_optimizer.state, optimizer

    moved, unmoved = run(True), run(False)
    assert moved[2].iterations == unmoved[2].iterations > 0
    assert_same_training(moved[:2], unmoved[:2])
    if moved[2]._ema is not None:
        assert all(torch.equal(a, b) for a, b in zip(moved[2]._ema, unmoved[2]._ema))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_model_trained_on_the_cpu_goes_on_training_on_the_gpu():
    model = deepglass.Sequential([deepglass.layers.Input((5,)), deepglass.layers.Dense(2)])
    model.compile(deepglass.optimizers.AdamW(0.01), "mse")
    x, y = np.ones((8, 5), "float32"), np.zeros((8, 2), "float32")
    deepglass.config.set_device("cpu")
    try:
        model.fit(x, y, batch_size=4, verbose=0)
    finally:
        deepglass.config.set_device(None)
    model.fit(x, y, batch_size=4, verbose=0)
    state = model.optimizer.torch_optimizer.state
    assert {t.device.type for s in state.values() for k, t in s.items() if k != "step"} == {"cuda"}
    assert model.optimizer.iterations == 4
