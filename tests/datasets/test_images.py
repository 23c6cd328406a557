"""mnist, fashion_mnist, cifar10 and cifar100 against Keras's own loaders reading the same small files."""
import dataclasses
import gzip
import os
import pickle

import numpy as np
import pytest

import deepglass
from deepglass.datasets import _safe_pickle, cifar10, cifar100, fashion_mnist, mnist
from tests.datasets.formats import (cifar_batch, file_hash, py2_pickle, trust, write_bytes, write_idx_gz,
                                    write_npz, write_tar_gz)

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def _assert_same(ours, theirs):
    for a, b in zip(_flatten(ours), _flatten(theirs)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def _flatten(result):
    (x_train, y_train), (x_test, y_test) = result
    return [x_train, y_train, x_test, y_test]


def test_mnist_matches_keras(monkeypatch, keras_cache, keras_datasets):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), y_train=np.arange(5, dtype=np.uint8),
                  x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), y_test=np.arange(3, dtype=np.uint8))
    path = write_npz(str(keras_cache / "mnist.npz"), **arrays)
    trust(monkeypatch, mnist, "RESOURCE", path)
    keras_mnist = keras_datasets("mnist")
    monkeypatch.setattr(keras_mnist, "get_file", lambda *args, **kwargs: path)
    ours = mnist.load_data()
    _assert_same(ours, keras_mnist.load_data())
    np.testing.assert_array_equal(ours[0][0], arrays["x_train"])
    assert ours[0][0].dtype == np.uint8 and ours[1][1].shape == (3,)


def _write_fashion(monkeypatch, folder):
    rng = np.random.default_rng(1)
    arrays = {"train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6), "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 2),
              "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28))}
    for name, array in arrays.items():
        path = write_idx_gz(str(folder / name), array)
        trust(monkeypatch, fashion_mnist, "RESOURCES", path, "md5", key=name)
    return arrays


def test_fashion_mnist_matches_keras(monkeypatch, keras_cache, keras_datasets):
    folder = keras_cache / "fashion-mnist"
    arrays = _write_fashion(monkeypatch, folder)
    keras_fashion = keras_datasets("fashion_mnist")
    monkeypatch.setattr(keras_fashion, "get_file", lambda name, **kwargs: str(folder / name))
    ours = fashion_mnist.load_data()
    _assert_same(ours, keras_fashion.load_data())
    np.testing.assert_array_equal(ours[0][1], arrays["train-labels-idx1-ubyte.gz"])
    assert ours[0][0].shape == (6, 28, 28) and ours[0][0].flags.writeable


def test_fashion_mnist_reports_a_file_whose_size_disagrees_with_its_header(monkeypatch, deepglass_cache):
    _write_fashion(monkeypatch, deepglass_cache / "fashion-mnist")
    name = "train-images-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + (3).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    path = write_bytes(str(deepglass_cache / "fashion-mnist" / name), gzip.compress(header + bytes(100)))
    trust(monkeypatch, fashion_mnist, "RESOURCES", path, "md5", key=name)
    with pytest.raises(ValueError, match="holds 100 values where its header promises shape \\(3, 28, 28\\)"):
        fashion_mnist.load_data()


@pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_the_debian_package():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.max() == 255 and x_train.min() == 0


def _cifar_files(monkeypatch, module, root, batches, archive=None):
    """Write `batches` ({name: dict}) as Python 2 pickles under `root` and trust them (and `archive`)."""
    paths = {name: write_bytes(str(root / name), py2_pickle(batch)) for name, batch in batches.items()}
    files = dataclasses.replace(module.FILES, batches={name: file_hash(path, "md5") for name, path in paths.items()})
    if archive is not None:
        files = dataclasses.replace(files, archive=dataclasses.replace(files.archive, hashes=(file_hash(archive),)))
    monkeypatch.setattr(module, "FILES", files)
    return paths


def _cifar10_batches(sizes=(3, 2, 2, 2, 2, 4)):
    rng = np.random.default_rng(2)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: cifar_batch(rng, size, ["labels"], [10]) for name, size in zip(names, sizes)}


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cifar10_matches_keras(monkeypatch, keras_cache, keras_datasets, data_format):
    # Keras's cifar10.load_data fixes 10,000 images per batch, so its batch reader is the oracle here, assembled
    # as Keras assembles the batches.
    folder = keras_cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    batches = _cifar10_batches()
    paths = _cifar_files(monkeypatch, cifar10, folder, batches)
    keras_batches = [keras_datasets("cifar").load_batch(paths[name]) for name in batches]
    x_train = np.concatenate([x for x, _ in keras_batches[:5]])
    y_train = np.concatenate([y for _, y in keras_batches[:5]]).astype(np.uint8).reshape(-1, 1)
    x_test, y_test = keras_batches[5][0], np.reshape(keras_batches[5][1], (-1, 1)).astype(np.uint8)
    if data_format == "channels_last":
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    previous = deepglass.config.image_data_format()
    deepglass.config.set_image_data_format(data_format)
    try:
        ours = cifar10.load_data()
    finally:
        deepglass.config.set_image_data_format(previous)
    _assert_same(ours, ((x_train, y_train), (x_test, y_test)))
    expected_shape = (11, 32, 32, 3) if data_format == "channels_last" else (11, 3, 32, 32)
    assert ours[0][0].shape == expected_shape and ours[0][1].shape == (11, 1) and ours[1][1].dtype == np.uint8
    assert ours[1][1].ravel().tolist() == batches["test_batch"][b"labels"]


def test_cifar10_from_the_archive_is_extracted_into_the_cache(monkeypatch, tmp_path, deepglass_cache):
    batches = _cifar10_batches()
    members = {f"cifar-10-batches-py/{name}": py2_pickle(batch) for name, batch in batches.items()}
    members["../escaped"] = b"outside"  # names outside the expected folder are never written
    archive = write_tar_gz(str(deepglass_cache / "cifar-10-python.tar.gz"), members)
    _cifar_files(monkeypatch, cifar10, tmp_path / "reference", batches, archive=archive)
    (x_train, y_train), _ = cifar10.load_data()
    assert x_train.shape == (11, 32, 32, 3)
    assert y_train.ravel().tolist()[:3] == batches["data_batch_1"][b"labels"]
    assert sorted(os.listdir(deepglass_cache / "cifar-10-batches-py")) == sorted(batches)
    assert not (tmp_path / "deepglass_home" / "escaped").exists()


def test_cifar10_offline_message_asks_for_the_archive(deepglass_cache):
    with pytest.raises(FileNotFoundError, match="cifar10.load_data\\(\\) needs cifar-10-python.tar.gz"):
        cifar10.load_data()


def test_a_cifar_batch_that_asks_to_run_code_is_refused(monkeypatch, deepglass_cache):
    class Shell:
        def __reduce__(self):
            return os.system, ("echo unsafe",)

    batches = _cifar10_batches()
    _cifar_files(monkeypatch, cifar10, deepglass_cache / "cifar-10-batches-py", batches)
    path = write_bytes(str(deepglass_cache / "cifar-10-batches-py" / "test_batch"),
                       pickle.dumps({b"data": Shell()}, protocol=2))
    monkeypatch.setitem(cifar10.FILES.batches, "test_batch", file_hash(path, "md5"))
    with pytest.raises(_safe_pickle.UnsafePickleError, match="Refusing to load `posix.system`"):
        cifar10.load_data()


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(monkeypatch, keras_cache, keras_datasets, label_mode):
    rng = np.random.default_rng(3)
    batches = {name: cifar_batch(rng, size, ["fine_labels", "coarse_labels"], [100, 20])
               for name, size in (("train", 5), ("test", 3))}
    target = keras_cache / "cifar-100-python-target"
    _cifar_files(monkeypatch, cifar100, target / "cifar-100-python", batches)
    keras_cifar = keras_datasets("cifar100")
    monkeypatch.setattr(keras_cifar, "get_file", lambda *args, **kwargs: str(target))
    ours = cifar100.load_data(label_mode=label_mode)
    _assert_same(ours, keras_cifar.load_data(label_mode=label_mode))
    assert ours[0][1].ravel().tolist() == batches["train"][f"{label_mode}_labels".encode()]
    assert ours[0][0].shape == (5, 32, 32, 3) and ours[0][1].shape == (5, 1)


def test_cifar100_rejects_an_unknown_label_mode():
    with pytest.raises(ValueError, match="label_mode='medium'"):
        cifar100.load_data(label_mode="medium")
