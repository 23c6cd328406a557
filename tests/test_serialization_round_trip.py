"""Every registered object of the training mathematics survives serialisation: `get_config` -> `from_config` gives
the same config, `serialize` -> JSON -> `deserialize` gives the same class and config, and every public class of
each module is in its registry (so it can be loaded from a saved file)."""
import inspect
import json

import pytest

from deepglass import activations, constraints, initializers, losses, metrics, optimizers, regularizers, schedules

# Constructor arguments of the classes that have required ones; the others are built with their defaults.
REQUIRED = {
    "LossFunctionWrapper": dict(fn=losses.mean_squared_error),
    "MeanMetricWrapper": dict(fn=losses.mean_absolute_error),
    "PrecisionAtRecall": dict(recall=0.5),
    "RecallAtPrecision": dict(precision=0.5),
    "SensitivityAtSpecificity": dict(specificity=0.5),
    "SpecificityAtSensitivity": dict(sensitivity=0.5),
    "IoU": dict(num_classes=3, target_class_ids=[0, 2]),
    "MeanIoU": dict(num_classes=3),
    "OneHotIoU": dict(num_classes=3, target_class_ids=[1]),
    "OneHotMeanIoU": dict(num_classes=3),
    "ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
    "PiecewiseConstantDecay": dict(boundaries=[5, 10], values=[0.1, 0.01, 0.001]),
    "PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=10),
    "InverseTimeDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
    "CosineDecay": dict(initial_learning_rate=0.1, decay_steps=10),
    "CosineDecayRestarts": dict(initial_learning_rate=0.1, first_decay_steps=10),
    "OneCycle": dict(max_learning_rate=0.1, total_steps=100),
    "LossScaleOptimizer": dict(inner_optimizer="sgd", initial_scale=2.0 ** 10, dynamic_growth_steps=7),
}
# Abstract bases: public for subclassing, not objects to save (Keras's Regularizer refuses `get_config` too).
ABSTRACT = {"LearningRateSchedule", "Optimizer", "RandomInitializer", "Regularizer"}

# (module, its base class, the classes in its registry)
MODULES = {
    "initializers": (initializers, initializers.Initializer, initializers._registry.classes),
    "regularizers": (regularizers, regularizers.Regularizer, regularizers._registry.classes),
    "constraints": (constraints, constraints.Constraint, constraints._registry.classes),
    "schedules": (schedules, schedules.LearningRateSchedule, schedules._REGISTRY.classes),
    "losses": (losses, losses.Loss, {c.__name__: c for c in losses._CLASSES}),
    "metrics": (metrics, metrics.Metric, {c.__name__: c for c in metrics.ALL_CLASSES}),
    "optimizers": (optimizers, optimizers.Optimizer, optimizers._REGISTRY.classes),
}
CASES = [(module, name) for module, (_, _, classes) in MODULES.items()
         for name in sorted({cls.__name__ for cls in classes.values()} - ABSTRACT)]


def build(module, name):
    cls = next(c for c in MODULES[module][2].values() if c.__name__ == name)
    return cls(**REQUIRED.get(name, {}))


def same(a, b):
    """Configs equal once both have been through JSON (tuples become lists there)."""
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


@pytest.mark.parametrize("module,name", CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_config_round_trip(module, name):
    obj = build(module, name)
    config = obj.get_config()
    json.dumps(config)  # JSON-safe
    rebuilt = type(obj).from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(obj) and same(rebuilt.get_config(), config)


@pytest.mark.parametrize("module,name", CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_serialize_deserialize_round_trip(module, name):
    package = MODULES[module][0]
    obj = build(module, name)
    serialized = package.serialize(obj)
    assert serialized["class_name"] == name
    rebuilt = package.deserialize(json.loads(json.dumps(serialized)))
    assert type(rebuilt) is type(obj) and same(rebuilt.get_config(), obj.get_config())


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_class_is_registered(module):
    package, base, classes = MODULES[module]
    public = [getattr(package, name) for name in getattr(package, "__all__", dir(package)) if not name.startswith("_")]
    exported = {obj for obj in public if inspect.isclass(obj) and issubclass(obj, base)
                and obj.__name__ not in ABSTRACT}
    missing = sorted(cls.__name__ for cls in exported - set(classes.values()))
    assert not missing, f"not in the {module} registry: {missing}"


def test_regularizer_base_refuses_to_serialize():
    with pytest.raises(NotImplementedError, match="must implement `get_config"):
        regularizers.Regularizer().get_config()


def test_every_activation_round_trips_by_name():
    for name, fn in activations._FUNCTIONS.items():
        assert activations.serialize(fn) == name
        assert activations.deserialize(json.loads(json.dumps(activations.serialize(fn)))) is fn
        assert activations.get(name) is fn


def test_every_loss_and_metric_function_round_trips():
    for fn in losses._FUNCTIONS:
        assert losses.deserialize(json.loads(json.dumps(losses.serialize(fn)))) is fn
    for fn in metrics._FUNCTIONS.values():
        wrapper = metrics.MeanMetricWrapper(fn, name=fn.__name__)
        rebuilt = metrics.deserialize(json.loads(json.dumps(metrics.serialize(wrapper))))
        assert rebuilt._fn is fn and rebuilt.get_config() == wrapper.get_config()


def test_optimizer_round_trip_keeps_its_schedule():
    # An optimizer's config carries its schedule's config, so the schedule round-trips with it.
    optimizer = optimizers.Lamb(learning_rate=schedules.CosineDecay(0.1, 10), weight_decay=0.01)
    rebuilt = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(optimizer))))
    assert isinstance(rebuilt._learning_rate, schedules.CosineDecay) and same(rebuilt.get_config(),
                                                                             optimizer.get_config())
    assert rebuilt.learning_rate == pytest.approx(0.1)
