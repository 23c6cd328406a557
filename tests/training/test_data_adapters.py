"""Every input form gives the same training as in-memory arrays, and clear errors when it goes wrong."""
import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

import deepglass
from deepglass import layers


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)


def trained_weights(x, y=None, **fit_kwargs):
    deepglass.clear_session()
    deepglass.config.set_random_seed(3)
    model = deepglass.Sequential([deepglass.Input((5,)), layers.Dense(8, activation="tanh"),
                                  layers.Dense(3, activation="softmax")])
    model.compile(optimizer=deepglass.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, verbose=0, **fit_kwargs)
    return model, history


class Batches(deepglass.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


def assert_same_weights(a, b):
    for left, right in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(left, right, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [
    lambda x, y: (DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16), {}),
    lambda x, y: (TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), {"batch_size": 16, "shuffle": False}),
    lambda x, y: (Batches(x, y, 16), {"shuffle": False}),
    lambda x, y: (Batches(x, y, 16, workers=3, max_queue_size=2), {"shuffle": False}),
    lambda x, y: (((x[i:i + 16], y[i:i + 16]) for _ in range(2) for i in range(0, 64, 16)), {"steps_per_epoch": 4}),
], ids=["DataLoader", "Dataset", "PyDataset", "PyDataset-threads", "generator"])
def test_each_form_trains_exactly_like_arrays(make):
    x, y = data()
    reference, reference_history = trained_weights(x, y, batch_size=16, shuffle=False)
    source, kwargs = make(x, y)
    model, history = trained_weights(source, **kwargs)
    assert_same_weights(model, reference)
    np.testing.assert_allclose(history.history["loss"], reference_history.history["loss"], rtol=1e-6)


def test_pydataset_epoch_end_and_validation_and_predict_on_loaders():
    x, y = data()
    source = Batches(x, y, 16)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=10)
    model, history = trained_weights(source, validation_data=loader)
    assert source.epochs_ended == 2 and len(history.history["val_loss"]) == 2
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(history.history["val_loss"][-1], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(loader, verbose=0, return_dict=True)["loss"], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(model.predict(loader, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    generator = (x[i:i + 8] for i in range(0, 64, 8))
    np.testing.assert_allclose(model.predict(generator, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_sample_weights_and_class_weights_from_batches():
    x, y = data()
    weights = np.where(y == 1, 2.0, 1.0).astype("float32")
    by_array, _ = trained_weights(x, y, sample_weight=weights, batch_size=16, shuffle=False)
    by_stream, _ = trained_weights(((x[i:i + 16], y[i:i + 16], weights[i:i + 16]) for _ in range(2)
                                    for i in range(0, 64, 16)), steps_per_epoch=4)
    assert_same_weights(by_array, by_stream)
    by_class, _ = trained_weights(Batches(x, y, 16), shuffle=False, class_weight={0: 1.0, 1: 2.0, 2: 1.0})
    assert_same_weights(by_array, by_class)


class Broken(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, index):
        if index == 40:
            raise OSError("disk read failed")
        return torch.zeros(5), torch.tensor(0)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_failing_loader_names_the_batch_instead_of_hanging(workers):
    loader = DataLoader(Broken(), batch_size=16, num_workers=workers)
    with pytest.raises(RuntimeError, match="(?s)failed while producing batch 2.*disk read failed"):
        trained_weights(loader)


def test_a_batch_of_another_shape_is_named():
    x, y = data()

    def batches():
        yield x[:16], y[:16]
        yield x[16:32, :4], y[16:32]

    with pytest.raises(ValueError, match=r"Batch 1 from the generator has inputs of shape \(16, 4\), but the first "
                                         r"batch had \(16, 5\)"):
        trained_weights(batches(), steps_per_epoch=2)


def test_bad_combinations_are_refused():
    x, y = data()
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16)
    with pytest.raises(ValueError, match="do not pass y"):
        trained_weights(loader, y)
    with pytest.raises(ValueError, match="Do not pass batch_size with a DataLoader"):
        trained_weights(loader, batch_size=8)
    with pytest.raises(ValueError, match="validation_split works with arrays"):
        trained_weights(loader, validation_split=0.2)
    with pytest.raises(TypeError, match="Unrecognised data type for x: object"):
        trained_weights(object())


def test_a_generator_that_runs_dry_warns_and_ends_the_epoch():
    x, y = data()
    with pytest.warns(UserWarning, match="ran out of data"):
        _, history = trained_weights(((x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)))
    assert len(history.history["loss"]) == 2
