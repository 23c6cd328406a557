"""Regularizers and constraints against NumPy formulas and the Keras oracle, plus names and configs."""
import json
import os

import numpy as np
import pytest
import torch

from deepglass import constraints, regularizers

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
W = RNG.normal(0, 1, (6, 4)).astype("float32")  # a Dense kernel, (in, out)
KERNEL = RNG.normal(0, 1, (3, 3, 2, 5)).astype("float32")  # a Conv2D kernel, (kh, kw, in, out)
EPS = 1e-7


def _keras(obj, w):
    return np.asarray(obj(torch.from_numpy(w)))


def _numpy_orthogonal(w, factor, mode):
    v = w if mode == "rows" else w.T
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    product = np.abs(v @ v.T)
    n = product.shape[0]
    return factor * 0.5 * (product.sum() - np.trace(product)) / (n * (n - 1) / 2)


REGULARIZERS = [
    ("L1", {"l1": 0.3}, lambda w: 0.3 * np.abs(w).sum()),
    ("L2", {"l2": 0.3}, lambda w: 0.3 * (w ** 2).sum()),
    ("L1L2", {"l1": 0.1, "l2": 0.2}, lambda w: 0.1 * np.abs(w).sum() + 0.2 * (w ** 2).sum()),
    ("L1L2", {"l2": 0.2}, lambda w: 0.2 * (w ** 2).sum()),
    ("L1L2", {}, lambda w: 0.0),
    ("OrthogonalRegularizer", {"factor": 0.5}, lambda w: _numpy_orthogonal(w, 0.5, "rows")),
    ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"}, lambda w: _numpy_orthogonal(w, 0.5, "columns")),
]


@pytest.mark.parametrize("name, kwargs, formula", REGULARIZERS, ids=[f"{r[0]}-{r[1]}" for r in REGULARIZERS])
def test_regularizer_formula_and_keras(name, kwargs, formula):
    result = getattr(regularizers, name)(**kwargs)(torch.from_numpy(W))
    assert result.shape == () and result.dtype == torch.float32
    np.testing.assert_allclose(result.numpy(), formula(W.astype("float64")), rtol=1e-5)
    np.testing.assert_allclose(result.numpy(), _keras(getattr(keras.regularizers, name)(**kwargs), W), rtol=1e-6)


def test_regularizer_defaults_and_gradient():
    w = torch.from_numpy(W).requires_grad_(True)
    regularizers.l2()(w).backward()  # Keras's L2 has no 1/2: the gradient is 2 * l2 * w
    np.testing.assert_allclose(w.grad.numpy(), 2 * 0.01 * W, rtol=1e-6)
    assert regularizers.l1().l1 == 0.01 and regularizers.L1(None).l1 == 0.01
    assert isinstance(regularizers.l2(0.001), regularizers.L2) and regularizers.l2(0.001).l2 == 0.001
    assert regularizers.l1_l2().get_config() == keras.regularizers.l1_l2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.Regularizer()(w) == 0.0


REGULARIZER_CLASSES = [("L1", {}), ("L2", {}), ("L1L2", {"l1": 0.1}), ("OrthogonalRegularizer", {"mode": "columns"})]
CONSTRAINT_CLASSES = [("MaxNorm", {"axis": [0, 1, 2]}), ("MinMaxNorm", {"rate": 0.5}), ("NonNeg", {}),
                      ("UnitNorm", {"axis": 1})]


def assert_configs_close(mine, theirs):
    """Equal keys; numbers equal to float32 precision, everything else exactly equal."""
    assert sorted(mine) == sorted(theirs)
    for key, value in mine.items():
        if isinstance(value, float):
            assert value == pytest.approx(float(theirs[key]), rel=1e-6), key
        else:
            assert value == theirs[key], key


@pytest.mark.parametrize("module, name, kwargs", [("regularizers", *c) for c in REGULARIZER_CLASSES]
                         + [("constraints", *c) for c in CONSTRAINT_CLASSES])
def test_config_round_trip(module, name, kwargs):
    ours, theirs = {"regularizers": (regularizers, keras.regularizers),
                    "constraints": (constraints, keras.constraints)}[module]
    obj = getattr(ours, name)(**kwargs)
    config = obj.get_config()
    json.dumps(config)
    # Keras keeps some factors as float32 tensors (0.01 -> 0.009999999776); ours stay the floats given.
    assert_configs_close(config, getattr(theirs, name)(**kwargs).get_config())
    assert type(obj).from_config(config).get_config() == config
    rebuilt = ours.deserialize(ours.serialize(obj))
    assert type(rebuilt) is type(obj) and rebuilt.get_config() == config
    keras_config = theirs.serialize(getattr(theirs, name)(**kwargs))  # carries Keras's `module` key too
    assert_configs_close(ours.deserialize(keras_config).get_config(), config)
    assert type(ours.get(type(obj))) is type(obj)


def test_get_by_every_keras_name_and_old_spellings():
    from keras.src.constraints import ALL_OBJECTS_DICT as keras_constraints
    from keras.src.regularizers import ALL_OBJECTS_DICT as keras_regularizers

    for name, cls in keras_regularizers.items():
        assert type(regularizers.get(name)).__name__ == cls.__name__, name
    for name, cls in keras_constraints.items():
        assert type(constraints.get(name)).__name__ == cls.__name__, name
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)
    for old, cls in [("maxnorm", constraints.MaxNorm), ("nonneg", constraints.NonNeg),
                     ("unitnorm", constraints.UnitNorm)]:
        assert isinstance(constraints.get(old), cls) and getattr(constraints, old) is cls
    assert constraints.max_norm is constraints.MaxNorm and constraints.min_max_norm is constraints.MinMaxNorm
    assert constraints.non_neg is constraints.NonNeg and constraints.unit_norm is constraints.UnitNorm
    assert regularizers.get(None) is None and constraints.get(None) is None
    fn = lambda w: w  # noqa: E731
    assert regularizers.get(fn) is fn and constraints.get(fn) is fn


def _numpy_norms(w, axis):
    return np.sqrt((w.astype("float64") ** 2).sum(axis=axis, keepdims=True))


CONSTRAINTS = [
    ("MaxNorm", {}, W, lambda w: w * np.clip(_numpy_norms(w, 0), 0, 2) / (EPS + _numpy_norms(w, 0))),
    ("MaxNorm", {"max_value": 1.5, "axis": 1}, W,
     lambda w: w * np.clip(_numpy_norms(w, 1), 0, 1.5) / (EPS + _numpy_norms(w, 1))),
    ("MaxNorm", {"max_value": 3, "axis": [0, 1, 2]}, KERNEL,
     lambda w: w * np.clip(_numpy_norms(w, (0, 1, 2)), 0, 3) / (EPS + _numpy_norms(w, (0, 1, 2)))),
    ("MinMaxNorm", {}, W, lambda w: w * np.clip(_numpy_norms(w, 0), 0, 1) / (EPS + _numpy_norms(w, 0))),
    ("MinMaxNorm", {"min_value": 2.5, "max_value": 3.0, "rate": 0.5, "axis": 1}, W,
     lambda w: w * (0.5 * np.clip(_numpy_norms(w, 1), 2.5, 3.0) + 0.5 * _numpy_norms(w, 1))
     / (EPS + _numpy_norms(w, 1))),
    ("NonNeg", {}, W, lambda w: np.maximum(w, 0)),
    ("UnitNorm", {}, W, lambda w: w / (EPS + _numpy_norms(w, 0))),
    ("UnitNorm", {"axis": [0, 1, 2]}, KERNEL, lambda w: w / (EPS + _numpy_norms(w, (0, 1, 2)))),
]


@pytest.mark.parametrize("name, kwargs, w, formula", CONSTRAINTS, ids=[f"{c[0]}-{c[1]}" for c in CONSTRAINTS])
def test_constraint_formula_and_keras(name, kwargs, w, formula):
    result = getattr(constraints, name)(**kwargs)(torch.from_numpy(w))
    assert result.shape == w.shape and result.dtype == torch.float32
    np.testing.assert_allclose(result.numpy(), formula(w), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.numpy(), _keras(getattr(keras.constraints, name)(**kwargs), w), rtol=1e-5,
                               atol=1e-7)


def test_constraint_norms_land_in_range():
    w = torch.from_numpy(W) * 10
    assert torch.all(torch.linalg.vector_norm(constraints.MaxNorm(2.0)(w), dim=0) <= 2.0 + 1e-5)
    norms = torch.linalg.vector_norm(constraints.UnitNorm(axis=1)(w), dim=1)
    np.testing.assert_allclose(norms.numpy(), 1.0, rtol=1e-5)
    assert constraints.Constraint()(w) is w


def test_errors():
    with pytest.raises(ValueError, match="Did you mean 'max_norm'"):
        constraints.get("max_nrom")
    with pytest.raises(ValueError, match="Did you mean 'orthogonal_regularizer'"):
        regularizers.get("orthogonal_regulariser")
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L1("0.1")
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank-2"):
        regularizers.OrthogonalRegularizer()(torch.from_numpy(KERNEL))
    with pytest.raises(ValueError, match="class_name"):
        constraints.deserialize({"config": {}})
    with pytest.raises(ValueError, match="Could not interpret"):
        regularizers.get(0.01)
