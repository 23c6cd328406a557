"""Bad input gets a clear error before any training step, and the model is left unchanged."""
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers


def compiled_mlp(loss="sparse_categorical_crossentropy", inputs=(784,)):
    model = deepglass.Sequential([deepglass.Input(inputs), layers.Dense(16, activation="relu"),
                                  layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def assert_unchanged(model, before):
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert model.optimizer.iterations == 0


def test_input_shape_mismatch_names_the_shapes_and_the_fix():
    model = compiled_mlp()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r'^Sequential "sequential" expects input of shape \(None, 784\), got shape '
                                         r"\(32, 28, 28\); reshape the data with x.reshape\(len\(x\), 784\), or "
                                         r"start the model with Input\(\(28, 28\)\) and Flatten\(\)\.$"):
        model.fit(np.zeros((32, 28, 28), "float32"), np.zeros(32, "int64"), verbose=0)
    assert_unchanged(model, before)


def test_a_built_dense_names_itself_and_suggests_flatten():
    dense = layers.Dense(10, name="dense_1")
    dense(deepglass.Input((784,)))
    with pytest.raises(ValueError, match=r'^Dense "dense_1" expects inputs with last axis 784, got shape '
                                         r"\(None, 28, 28\); add Flatten\(\) before it\.$"):
        dense(deepglass.Input((28, 28)))


def test_a_subclassed_model_reports_the_layer_at_fault_during_fit():
    class Classifier(deepglass.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(16, name="dense_1")

        def call(self, x):
            return self.hidden(x)

    model = Classifier()
    model(np.zeros((1, 784), "float32"))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r'^Dense "dense_1" expects inputs with last axis 784, got shape '
                                         r"\(32, 28, 28\); add Flatten\(\) before it\.$"):
        model.fit(np.zeros((64, 28, 28), "float32"), np.zeros((64, 16), "float32"), batch_size=32, verbose=0)
    assert model.optimizer.iterations == 0


def test_x_and_y_of_different_lengths():
    model = compiled_mlp()
    with pytest.raises(ValueError, match="x has 32.*y has 31|y has 31.*x has 32"):
        model.fit(np.zeros((32, 784), "float32"), np.zeros(31, "int64"), verbose=0)


def test_fit_before_compile():
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    with pytest.raises(RuntimeError, match=r"compile\(\) before fit\(\)"):
        model.fit(np.zeros((4, 4), "float32"), np.zeros(4, "float32"))


def test_one_hot_labels_with_a_sparse_loss_and_the_reverse():
    x = np.random.default_rng(0).standard_normal((32, 784)).astype("float32")
    labels = np.arange(32) % 10
    model = compiled_mlp()
    before = model.get_weights()
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        model.fit(x, np.eye(10)[labels], verbose=0)
    assert_unchanged(model, before)
    model = compiled_mlp(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy|to_categorical"):
        model.fit(x, labels, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "adm", "loss": "mse"}, "Did you mean 'adam'"),
    ({"optimizer": "adam", "loss": "mean_sqared_error"}, "Did you mean 'mean_squared_error'"),
    ({"optimizer": "adam", "loss": "mse", "metrics": ["acuracy"]}, "Did you mean 'accuracy'"),
])
def test_unknown_names_list_the_closest_match(kwargs, match):
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(1)])
    with pytest.raises(ValueError, match=match):
        model.compile(**kwargs)
        model.fit(np.zeros((4, 4), "float32"), np.zeros((4, 1), "float32"), verbose=0)


def test_nan_inputs_warn_with_the_count():
    x = np.zeros((8, 784), "float32")
    x[0, :3] = np.nan
    model = compiled_mlp()
    with pytest.warns(UserWarning, match="3 NaN values"):
        model.fit(x, np.zeros(8, "int64"), verbose=0)


def test_evaluate_warns_about_nan_inputs_after_its_pass():
    x = np.zeros((8, 784), "float32")
    x[2, :4] = np.nan
    with pytest.warns(UserWarning, match="4 NaN values"):
        logs = compiled_mlp().evaluate(x, np.zeros(8, "int64"), verbose=0, return_dict=True)
    assert np.isnan(logs["loss"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_a_gpu_the_nan_count_can_wait_on_the_device():
    from deepglass.training.array_data import ArrayData
    x = np.zeros((8, 784), "float32")
    x[2, :4] = np.nan
    later = ArrayData(x, device=torch.device("cuda")).count_nans(wait=False)
    assert torch.is_tensor(later) and later.is_cuda and int(later) == 4


@pytest.fixture
def device_without_reads():
    """Train on "meta", a device whose tensors hold no values, so that reading one fails: it stands for an
    accelerator, where a read waits for everything queued there."""
    deepglass.config.set_device("meta")
    yield
    deepglass.config.set_device(None)


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_labels_are_checked_on_their_host_copy(device_without_reads, method):
    model = compiled_mlp()
    labels = np.arange(8) + 5
    with pytest.raises(ValueError, match=r"class labels in \[0, 10\).*got labels from 5 to 12"):
        getattr(model, method)(np.zeros((8, 784), "float32"), labels, verbose=0)


def test_the_host_copy_of_the_labels_is_the_first_batch_alone():
    from deepglass.training.array_data import ArrayData
    labels = np.arange(100)
    first = ArrayData(np.zeros((100, 3), "float32"), labels, batch_size=8, shuffle=True,
                      device=torch.device("meta")).first_labels()
    assert first.device.type == "cpu" and first.tolist() == list(range(8))
    assert first.untyped_storage().nbytes() == 8 * first.element_size()  # a copy: the 100 labels are not kept
    assert ArrayData(np.zeros((100, 3), "float32"), device=torch.device("meta")).first_labels() is None  # predict's
    on_cpu = ArrayData(np.zeros((100, 3), "float32"), labels, batch_size=8)
    assert on_cpu.first_labels().tolist() == on_cpu.first_batch()[1].tolist() == list(range(8))


def test_labels_in_a_dict_have_a_host_copy_too():
    from deepglass.training.array_data import ArrayData
    data = ArrayData(np.zeros((10, 3), "float32"), {"a": np.arange(10), "b": np.ones((10, 2), "float32")},
                     batch_size=4, device=torch.device("meta"))
    first = data.first_labels()
    assert first["a"].tolist() == [0, 1, 2, 3] and first["b"].shape == (4, 2) and first["b"].device.type == "cpu"


@pytest.mark.parametrize("other", [np.inf, -np.inf, 3e38])  # sums that are not finite without a NaN
def test_nan_count_is_exact_beside_infinite_or_huge_values(other):
    from deepglass.training.array_data import ArrayData
    x = np.zeros((8, 784), "float32")
    x[1:4, 5] = other
    assert ArrayData(x).count_nans() == 0
    x[2, 7:12] = np.nan
    assert ArrayData(x).count_nans() == int(np.isnan(x).sum()) == 5


def test_no_warning_for_clean_data():
    model = compiled_mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(np.zeros((8, 784), "float32"), np.zeros(8, "int64"), verbose=0)


@pytest.mark.parametrize("x, match", [
    (np.array([[1, 2], [3]], dtype=object), "Python objects"),
    (np.array([["a", "b"]]), "strings"),
])
def test_non_numeric_inputs(x, match):
    model = deepglass.Sequential([deepglass.Input((2,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=match):
        model.fit(x, np.zeros(len(x), "float32"), verbose=0)


def test_bad_fit_arguments():
    model = compiled_mlp()
    x, y = np.zeros((8, 784), "float32"), np.zeros(8, "int64")
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, y, verbose=3)
