"""Finding dataset files offline first, checking them, and downloading them atomically (mnist as the example)."""
import dataclasses
import gzip
import hashlib
import io
import os

import numpy as np
import pytest

from deepglass.datasets import DatasetChecksumError, DatasetNotFoundError, _files, fashion_mnist, mnist
from tests.datasets.formats import file_hash, trust, write_idx_gz, write_npz


def _mnist_arrays(fill):
    return dict(x_train=np.full((2, 28, 28), fill, np.uint8), y_train=np.array([fill, 1], np.uint8),
                x_test=np.full((1, 28, 28), fill, np.uint8), y_test=np.array([fill], np.uint8))


def test_keras_cache_is_used_when_the_deepglass_cache_lacks_the_file(monkeypatch, keras_cache):
    path = write_npz(str(keras_cache / "mnist.npz"), **_mnist_arrays(7))
    trust(monkeypatch, mnist, "RESOURCE", path)
    (x_train, _), _ = mnist.load_data()
    assert x_train[0, 0, 0] == 7


def test_deepglass_cache_comes_before_keras_cache(monkeypatch, deepglass_cache, keras_cache):
    ours = write_npz(str(deepglass_cache / "mnist.npz"), **_mnist_arrays(3))
    write_npz(str(keras_cache / "mnist.npz"), **_mnist_arrays(9))
    trust(monkeypatch, mnist, "RESOURCE", ours)
    (x_train, _), _ = mnist.load_data()
    assert x_train[0, 0, 0] == 3


def test_keras_home_unset_means_home_dot_keras_then_tmp(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    dirs = _files.keras_cache_dirs()
    assert dirs[0] == str(tmp_path / "home" / ".keras" / "datasets")
    assert dirs[-1].endswith(os.path.join(".keras", "datasets"))


def test_a_path_with_a_folder_is_used_as_given(monkeypatch, tmp_path):
    path = write_npz(str(tmp_path / "elsewhere" / "my_mnist.npz"), **_mnist_arrays(5))
    trust(monkeypatch, mnist, "RESOURCE", path)
    (x_train, _), _ = mnist.load_data(path=path)
    assert x_train[0, 0, 0] == 5


def test_a_corrupt_cached_file_is_reported_not_used(monkeypatch, deepglass_cache, keras_cache):
    path = write_npz(str(deepglass_cache / "mnist.npz"), **_mnist_arrays(1))
    good = write_npz(str(keras_cache / "mnist.npz"), **_mnist_arrays(1))
    trust(monkeypatch, mnist, "RESOURCE", good)
    with open(path, "r+b") as file:  # one flipped byte in the array data
        file.seek(-200, os.SEEK_END)
        byte = file.read(1)
        file.seek(-200, os.SEEK_END)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(DatasetChecksumError, match="mnist.npz is truncated, corrupt or another version: its sha256"):
        mnist.load_data()


def test_a_truncated_cached_file_is_reported(monkeypatch, deepglass_cache):
    path = write_npz(str(deepglass_cache / "mnist.npz"), **_mnist_arrays(1))
    trust(monkeypatch, mnist, "RESOURCE", path)
    with open(path, "r+b") as file:
        file.truncate(os.path.getsize(path) // 2)
    with pytest.raises(DatasetChecksumError, match=file_hash(path)):
        mnist.load_data()


def test_offline_message_names_the_file_where_to_put_it_and_the_origin(deepglass_cache):
    with pytest.raises(DatasetNotFoundError) as error:
        mnist.load_data()
    message = str(error.value)
    assert "mnist.load_data() needs mnist.npz" in message
    assert str(deepglass_cache / "mnist.npz") in message
    assert mnist.RESOURCE.origin in message and mnist.RESOURCE.hashes[0] in message
    assert "Temporary failure in name resolution" in message
    assert not os.listdir(deepglass_cache)  # no partial download left behind


def test_offline_message_names_the_debian_package(monkeypatch, tmp_path):
    for name, resource in fashion_mnist.RESOURCES.items():
        monkeypatch.setitem(fashion_mnist.RESOURCES, name,
                            dataclasses.replace(resource, system_dirs=(str(tmp_path / "nowhere"),)))
    with pytest.raises(DatasetNotFoundError, match="install the Debian package dataset-fashion-mnist"):
        fashion_mnist.load_data()


def test_download_goes_to_the_deepglass_cache_through_a_checked_temporary_file(monkeypatch, tmp_path,
                                                                                 deepglass_cache, capsys):
    source = write_npz(str(tmp_path / "served.npz"), **_mnist_arrays(4))
    trust(monkeypatch, mnist, "RESOURCE", source)
    with open(source, "rb") as file:
        payload = file.read()
    requested = []
    monkeypatch.setattr(_files, "_open_url", lambda url: requested.append(url) or io.BytesIO(payload))
    (x_train, _), _ = mnist.load_data()
    assert x_train[0, 0, 0] == 4 and requested == [mnist.RESOURCE.origin]
    assert sorted(os.listdir(deepglass_cache)) == ["mnist.npz"]
    assert "Downloading data from" in capsys.readouterr().out
    monkeypatch.setattr(_files, "_open_url", lambda url: pytest.fail("downloaded twice"))
    mnist.load_data()


def test_a_download_that_does_not_match_is_rejected_and_removed(monkeypatch, tmp_path, deepglass_cache):
    source = write_npz(str(tmp_path / "served.npz"), **_mnist_arrays(4))
    trust(monkeypatch, mnist, "RESOURCE", source)
    with open(source, "rb") as file:
        truncated = file.read()[:-10]
    monkeypatch.setattr(_files, "_open_url", lambda url: io.BytesIO(truncated))
    with pytest.raises(DatasetChecksumError, match="does not match its published checksum"):
        mnist.load_data()
    assert not os.listdir(deepglass_cache)


def test_system_folder_is_searched_after_the_caches(monkeypatch, tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28) % 256
    system = tmp_path / "usr_share"
    files = {"train-labels-idx1-ubyte.gz": np.array([3, 1]), "train-images-idx3-ubyte.gz": images,
             "t10k-labels-idx1-ubyte.gz": np.array([9]), "t10k-images-idx3-ubyte.gz": images[:1]}
    for name, array in files.items():
        path = write_idx_gz(str(system / name), array)
        monkeypatch.setitem(fashion_mnist.RESOURCES, name, dataclasses.replace(
            fashion_mnist.RESOURCES[name], system_dirs=(str(system),), hashes=(file_hash(path, "md5"),)))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, images)
    assert y_train.tolist() == [3, 1] and y_test.tolist() == [9] and x_test.shape == (1, 28, 28)


def test_recompressed_gzip_is_accepted_by_the_digest_of_its_content(tmp_path):
    data = np.arange(60, dtype=np.uint8)
    original = write_idx_gz(str(tmp_path / "a" / "f.gz"), data, mtime=1, level=9)
    recompressed = write_idx_gz(str(tmp_path / "b" / "f.gz"), data, mtime=2, level=1)
    with gzip.open(original) as file:
        content = hashlib.sha256(file.read()).hexdigest()
    resource = _files.Resource("f.gz", None, (file_hash(original, "md5"),), gzip_sha256=content)
    assert _files.matches(original, resource) and _files.matches(recompressed, resource)
    assert file_hash(recompressed, "md5") != resource.hashes[0]
    with open(recompressed, "r+b") as file:
        file.truncate(os.path.getsize(recompressed) - 4)
    assert not _files.matches(recompressed, resource)
