"""Activations against the Keras oracle on the same inputs, plus look-up and serialization."""
import os

import numpy as np
import pytest
import torch

from deepglass import activations

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

# Random values plus the break points of the piecewise functions (0, +-0.5, +-1, +-3, 6).
_special = [0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, 2.0, -2.0]
X = np.concatenate([np.random.default_rng(0).normal(0, 4, 110), _special]).astype("float32").reshape(6, 20)

CASES = [
    ("relu", {}), ("relu", {"negative_slope": 0.5}), ("relu", {"max_value": 5.0}), ("relu", {"max_value": 6}),
    ("relu", {"threshold": 1.5}), ("relu", {"threshold": -1.0}),
    ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}),
    ("relu", {"negative_slope": 0.3, "threshold": -2.0}),
    ("relu6", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.01}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {"alpha": 2.0}),
    ("gelu", {}), ("gelu", {"approximate": True}), ("gelu", {"approximate": False}),
    ("silu", {}), ("swish", {}), ("hard_silu", {}), ("hard_swish", {}), ("mish", {}),
    ("softplus", {}), ("softsign", {}), ("squareplus", {}), ("squareplus", {"b": 1.0}), ("sparse_plus", {}),
    ("sigmoid", {}), ("hard_sigmoid", {}), ("sparse_sigmoid", {}), ("log_sigmoid", {}),
    ("tanh", {}), ("hard_tanh", {}), ("tanh_shrink", {}),
    ("soft_shrink", {}), ("soft_shrink", {"threshold": 1.0}), ("hard_shrink", {}), ("hard_shrink", {"threshold": 2.0}),
    ("threshold", {"threshold": 0.5, "default_value": -1.0}),
    ("exponential", {}), ("linear", {}),
    ("softmax", {}), ("softmax", {"axis": 0}), ("softmax", {"axis": (0, 1)}), ("softmax", {"axis": None}),
    ("log_softmax", {}), ("log_softmax", {"axis": 0}), ("log_softmax", {"axis": None}),
    ("glu", {}), ("glu", {"axis": 0}),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_keras(name, kwargs):
    expected = np.asarray(getattr(keras.activations, name)(torch.from_numpy(X), **kwargs))
    result = getattr(activations, name)(torch.from_numpy(X), **kwargs)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-6)


def _numpy_sparsemax(z):
    """Sparsemax of a vector, by Martins & Astudillo's (2016) algorithm 1."""
    z_sorted = np.sort(z)[::-1]
    cumsum = np.cumsum(z_sorted)
    k = np.arange(1, z.size + 1)
    k_max = k[1 + k * z_sorted > cumsum].max()
    return np.maximum(z - (cumsum[k_max - 1] - 1) / k_max, 0)


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparsemax_matches_numpy(axis):
    # Keras 3.15's sparsemax sums the cumulative sums over the support when computing tau, so its outputs do
    # not sum to 1 once the support has two or more elements; the paper's algorithm is the reference here.
    expected = np.apply_along_axis(_numpy_sparsemax, axis, X)
    result = activations.sparsemax(torch.from_numpy(X), axis=axis).numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.sum(axis), 1.0, rtol=1e-5)


def test_defaults_match_keras():
    """Same default argument values as Keras (e.g. gelu's `approximate=False`, leaky_relu's 0.2)."""
    import inspect

    for name in ("relu", "leaky_relu", "elu", "celu", "gelu", "softmax", "log_softmax", "glu", "squareplus",
                 "soft_shrink", "hard_shrink", "sparsemax"):
        ours = inspect.signature(getattr(activations, name)).parameters
        theirs = inspect.signature(getattr(keras.activations, name)).parameters
        assert {k: p.default for k, p in ours.items()} == {k: p.default for k, p in theirs.items()}, name


def test_every_keras_activation_name_resolves():
    from keras.src.activations import ALL_OBJECTS_DICT

    for name, fn in ALL_OBJECTS_DICT.items():
        assert activations.get(name).__name__ == fn.__name__


def test_step_values_and_zero_gradient():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-6, 3.0, float("inf"), -float("inf")], requires_grad=True)
    y = activations.step(x)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), (x.detach().cpu().numpy() > 0).astype("float32"))
    (y * torch.arange(7.0)).sum().backward()
    assert torch.equal(x.grad, torch.zeros(7))


def test_gradients_match_keras_for_relu_variant():
    x = torch.from_numpy(X).requires_grad_(True)
    activations.relu(x, negative_slope=0.1, max_value=4.0, threshold=0.5).sum().backward()
    kx = torch.from_numpy(X).requires_grad_(True)
    keras.activations.relu(kx, negative_slope=0.1, max_value=4.0, threshold=0.5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kx.grad.numpy())


def test_arrays_and_lists_are_converted():
    np.testing.assert_allclose(activations.sigmoid(np.array([0.0, 2.0])).numpy(), 1 / (1 + np.exp([0.0, -2.0])))
    assert activations.relu([-1, 2]).dtype == torch.float32
    assert torch.equal(activations.relu([-1, 2]), torch.tensor([0.0, 2.0]))


def test_softmax_and_sigmoid_keep_their_logits():
    x = torch.from_numpy(X)
    assert activations.softmax(x)._keras_logits is x
    assert activations.sigmoid(x)._keras_logits is x


def test_get_serialize_deserialize():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get("step") is activations.step
    custom = lambda x: x * 2  # noqa: E731
    assert activations.get(custom) is custom
    for name in ("relu", "softmax", "gelu", "step"):
        fn = activations.get(name)
        assert activations.serialize(fn) == name
        assert activations.deserialize(activations.serialize(fn)) is fn
    assert activations.serialize(activations.swish) == "silu"
    keras_config = {"module": "keras.activations", "class_name": "function", "config": "tanh",
                    "registered_name": "tanh"}
    assert activations.get(keras_config) is activations.tanh


def double(x):
    return 2 * x


class Scaled:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, x):
        return self.factor * x

    def get_config(self):
        return {"factor": self.factor}


def test_custom_activations_round_trip_with_custom_objects():
    config = activations.serialize(double)
    assert config["class_name"] == "function" and config["config"] == "double"
    assert activations.deserialize(config, custom_objects={"double": double}) is double
    with pytest.raises(ValueError, match="custom_objects"):
        activations.deserialize(config)
    config = activations.serialize(Scaled(3.0))
    assert config == {"class_name": "Scaled", "config": {"factor": 3.0}}
    rebuilt = activations.deserialize(config, custom_objects={"Scaled": Scaled})
    assert isinstance(rebuilt, Scaled) and rebuilt.factor == 3.0


def test_errors():
    with pytest.raises(ValueError, match="Did you mean 'sigmoid'"):
        activations.get("sigmod")
    with pytest.raises(ValueError, match="Expected an activation function"):
        activations.serialize(3)
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.get(3)


@pytest.mark.parametrize("shape,num_units,axis", [((6, 20), 5, -1), ((6, 20), 20, -1), ((6, 20), 1, 1),
                                                  ((2, 6, 10), 3, 1), ((2, 6, 10), 2, -1)])
def test_maxout_matches_numpy(shape, num_units, axis):
    # Keras has no maxout; the reference is the formula: unit j is the maximum of features j*k ... j*k + k - 1.
    x = X.reshape(shape)
    axis_ = axis % x.ndim
    k = x.shape[axis_] // num_units
    expected = x.reshape(x.shape[:axis_] + (num_units, k) + x.shape[axis_ + 1:]).max(axis=axis_ + 1)
    result = activations.maxout(torch.from_numpy(x), num_units, axis=axis)
    np.testing.assert_array_equal(result.numpy(), expected)


def test_maxout_gradient_goes_to_each_group_maximum():
    x = torch.tensor([[1.0, 4.0, 2.0, 0.0, -1.0, 3.0]], requires_grad=True)
    y = activations.maxout(x, num_units=2)
    assert torch.equal(y, torch.tensor([[4.0, 3.0]]))
    (y * torch.tensor([[10.0, 20.0]])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([[0.0, 10.0, 0.0, 0.0, 0.0, 20.0]]))
    assert activations.get("maxout") is activations.maxout and activations.serialize(activations.maxout) == "maxout"


@pytest.mark.parametrize("num_units,match", [(4, "not a multiple of 4"), (0, "num_units=0"), (2.0, "num_units=2.0")])
def test_maxout_errors(num_units, match):
    with pytest.raises(ValueError, match=match):
        activations.maxout(torch.zeros(3, 6), num_units)
