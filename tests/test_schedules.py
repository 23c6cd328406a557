"""Learning-rate schedules against Keras's (the oracle) and torch's OneCycleLR."""
import math
import os

import pytest
import torch

from deepglass import schedules
from deepglass.optimizers import schedules as keras_path_schedules

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

STEPS = [0, 1, 3, 7, 10, 15, 33, 50, 99, 100, 101, 250, 1000]

CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.9)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5, staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[10, 50, 100], values=[1.0, 0.5, 0.1, 0.01])),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=100)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=30, end_learning_rate=0.01, power=2.0,
                             cycle=True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5, staircase=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=100)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=100, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=100, warmup_target=0.2, warmup_steps=20)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=12)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=12, t_mul=1.0, m_mul=0.5,
                                 alpha=0.1)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=9, t_mul=1.5, m_mul=0.8)),
]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_schedule_matches_keras(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    for step in STEPS:
        value = ours(step)
        assert isinstance(value, float)
        expected = float(theirs(step))
        # Keras computes in float32: near the end of a cosine, 1 + cos(x) keeps only ~1e-8 absolute precision.
        assert value == pytest.approx(expected, rel=2e-6, abs=2e-8), (name, step)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_schedule_config_round_trip(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    assert ours.get_config() == getattr(keras.optimizers.schedules, name)(**kwargs).get_config()
    rebuilt = schedules.deserialize(schedules.serialize(ours))
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    # A config written by Keras (with its `module` and `registered_name` keys) loads too.
    from_keras = schedules.deserialize(keras.optimizers.schedules.serialize(getattr(keras.optimizers.schedules,
                                                                                    name)(**kwargs)))
    assert [from_keras(s) for s in STEPS] == [ours(s) for s in STEPS]


def test_cosine_decay_restarts_exact_at_restarts():
    # Period i starts at step 10 * (2**i - 1), where the rate is back at m_mul**i.
    schedule = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    for i in range(8):
        assert schedule(10 * (2**i - 1)) == pytest.approx(0.5**i, rel=1e-12)
        assert schedule(10 * (2**i - 1) + 5 * 2**i) == pytest.approx(0.5**i / 2, rel=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(pct_start=0.3, anneal_strategy="cos"),
    dict(pct_start=0.25, anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0),
    dict(pct_start=0.2, anneal_strategy="cos", three_phase=True),
])
def test_one_cycle_matches_torch(kwargs):
    total = 57
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=total, cycle_momentum=False,
                                                    **kwargs)
    ours = schedules.OneCycle(0.1, total, **kwargs)
    for step in range(total):
        assert ours(step) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12, abs=1e-15), step
        optimizer.step()
        reference.step()
    # Past the cycle the final rate holds (torch raises there).
    assert ours(total + 100) == ours(total - 1)


def test_one_cycle_config_round_trip():
    ours = schedules.OneCycle(0.5, 100, pct_start=0.4, anneal_strategy="linear", three_phase=True)
    rebuilt = schedules.deserialize(schedules.serialize(ours))
    assert rebuilt.get_config() == ours.get_config() and rebuilt(37) == ours(37)


@pytest.mark.parametrize("build,match", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), "decay_steps"),
    (lambda: schedules.CosineDecay(0.1, -5), "decay_steps"),
    (lambda: schedules.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]), "1 less than"),
    (lambda: schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3]), "increasing"),
    (lambda: schedules.OneCycle(0.1, 100, pct_start=1.5), "pct_start"),
    (lambda: schedules.OneCycle(0.1, 100, anneal_strategy="exp"), "anneal_strategy"),
    (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0.5)(100), "no period left"),
])
def test_invalid_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_unknown_schedule_name_suggests_the_closest():
    with pytest.raises(ValueError, match="ExponentialDecay|exponential_decay"):
        schedules.deserialize({"class_name": "ExponentialDecays", "config": {}})


def test_custom_schedule_with_custom_objects():
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, step):
            return self.rate / 2 ** (step // 10)

        def get_config(self):
            return {"rate": self.rate}

    config = schedules.serialize(Halving(0.8))
    assert schedules.deserialize(config, custom_objects={"Halving": Halving})(25) == 0.2
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule()(0)


def test_keras_module_path():
    assert keras_path_schedules.ExponentialDecay is schedules.ExponentialDecay
    assert math.isclose(keras_path_schedules.InverseTimeDecay(1.0, 1, 1.0)(3), 0.25)
