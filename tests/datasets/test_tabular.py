"""boston_housing, california_housing (against Keras's loaders), digits (against scikit-learn) and mnist1d
(against the mnist1d package)."""
import random

import numpy as np
import pytest

from deepglass.datasets import boston_housing, california_housing, digits
from tests.datasets.formats import trust, write_npz


def _assert_same(ours, theirs):
    (a, b), (c, d) = ours
    (e, f), (g, h) = theirs
    for mine, keras_array in ((a, e), (b, f), (c, g), (d, h)):
        assert mine.dtype == keras_array.dtype and mine.shape == keras_array.shape
        np.testing.assert_array_equal(mine, keras_array)


@pytest.mark.parametrize("test_split,seed", [(0.2, 113), (0.0, 1), (0.5, 3)])
def test_boston_housing_matches_keras(monkeypatch, keras_cache, keras_datasets, test_split, seed):
    rng = np.random.default_rng(6)
    path = write_npz(str(keras_cache / "boston_housing.npz"), x=rng.normal(size=(30, 13)), y=rng.normal(size=30))
    trust(monkeypatch, boston_housing, "RESOURCE", path)
    keras_boston = keras_datasets("boston_housing")
    monkeypatch.setattr(keras_boston, "get_file", lambda *args, **kwargs: path)
    ours = boston_housing.load_data(test_split=test_split, seed=seed)
    _assert_same(ours, keras_boston.load_data(test_split=test_split, seed=seed))
    assert len(ours[0][0]) == int(30 * (1 - test_split)) and ours[0][0].shape[1] == 13


@pytest.mark.parametrize("version", ["large", "small"])
def test_california_housing_matches_keras(monkeypatch, keras_cache, keras_datasets, version):
    rng = np.random.default_rng(7)
    path = write_npz(str(keras_cache / "california_housing.npz"), x=rng.normal(size=(650, 8)).astype(np.float32),
                     y=rng.normal(size=650).astype(np.float32))
    trust(monkeypatch, california_housing, "RESOURCE", path)
    keras_california = keras_datasets("california_housing")
    monkeypatch.setattr(keras_california, "get_file", lambda *args, **kwargs: path)
    ours = california_housing.load_data(version=version, test_split=0.25)
    _assert_same(ours, keras_california.load_data(version=version, test_split=0.25))
    assert len(ours[0][0]) + len(ours[1][0]) == (650 if version == "large" else 600)


@pytest.mark.parametrize("call", [lambda: boston_housing.load_data(test_split=1.0),
                                  lambda: california_housing.load_data(test_split=-0.1),
                                  lambda: digits.load_data(test_split=1.5)])
def test_test_split_outside_zero_one_is_an_error(call):
    with pytest.raises(ValueError, match="Invalid `test_split` argument"):
        call()


def test_california_housing_rejects_an_unknown_version():
    with pytest.raises(ValueError, match="version='medium'"):
        california_housing.load_data(version="medium")


def test_digits_are_sklearns_scaled_to_0_255_and_split_as_keras():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    (x_train, y_train), (x_test, y_test) = digits.load_data(test_split=0.25, seed=5)
    assert x_train.shape == (1347, 8, 8) and x_test.shape == (450, 8, 8)
    assert x_train.dtype == y_train.dtype == np.uint8 and x_train.max() == 255
    order = np.arange(1797)
    np.random.RandomState(5).shuffle(order)
    images, labels = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    np.testing.assert_array_equal(np.round(images.astype(float) * 16 / 255), reference.images[order])
    np.testing.assert_array_equal(labels, reference.target[order])


def test_mnist1d_is_the_package_data_and_leaves_global_random_state_alone():
    pytest.importorskip("mnist1d")
    from mnist1d.data import get_dataset_args, make_dataset

    from deepglass.datasets import mnist1d
    np.random.seed(123)
    random.seed(123)
    expected_numpy, expected_python = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    (x_train, y_train), (x_test, y_test) = mnist1d.load_data(num_samples=200, seed=3)
    assert (np.random.random(), random.random()) == (expected_numpy, expected_python)
    args = get_dataset_args()
    args.num_samples, args.seed = 200, 3
    reference = make_dataset(args)
    np.testing.assert_array_equal(x_train, reference["x"].astype(np.float32))
    np.testing.assert_array_equal(y_test, reference["y_test"])
    assert x_train.shape == (160, 40) and x_test.shape == (40, 40)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64


def test_mnist1d_defaults_give_4000_and_1000_signals(monkeypatch):
    pytest.importorskip("mnist1d")
    import mnist1d.data

    from deepglass.datasets import mnist1d as loader
    received = []

    def fake_make_dataset(args):  # the full generation takes seconds: check what it is asked for
        received.append(dict(vars(args)))
        split = int(args.num_samples * args.train_split)
        return {"x": np.zeros((split, 40)), "y": np.zeros(split, int),
                "x_test": np.zeros((args.num_samples - split, 40)), "y_test": np.zeros(args.num_samples - split, int)}

    monkeypatch.setattr(mnist1d.data, "make_dataset", fake_make_dataset)
    (x_train, _), (x_test, _) = loader.load_data()
    assert received == [mnist1d.data.get_dataset_args(as_dict=True)]
    assert len(x_train) == 4000 and len(x_test) == 1000


def test_mnist1d_rejects_unknown_arguments():
    pytest.importorskip("mnist1d")
    from deepglass.datasets import mnist1d
    with pytest.raises(TypeError, match="unknown arguments \\['samples'\\]; valid arguments are"):
        mnist1d.load_data(samples=10)


def test_mnist1d_without_the_package_says_how_to_install_it(monkeypatch):
    import sys

    from deepglass.datasets import mnist1d
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match="pip install mnist1d"):
        mnist1d.load_data()
