"""Datasets from files and arrays: image/text directories, time-series windows and split_dataset.

References: Keras's own file index (`keras.src.utils.dataset_utils.index_directory` and its validation split, which
need no TensorFlow), Keras's `split_dataset` on its torch backend, the pixels written with Pillow, and a NumPy
re-statement of Keras's window procedure (its dataset builders need tf.data or Grain, neither installed).
"""
import os

import numpy as np
import pytest
import torch

import deepglass
from deepglass.utils import (PyDataset, image_dataset_from_directory, split_dataset, text_dataset_from_directory,
                             timeseries_dataset_from_array)

Image = pytest.importorskip("PIL.Image")
keras = pytest.importorskip("keras")
from keras.src.utils import dataset_utils as keras_dataset_utils  # noqa: E402

CLASSES = ["ants", "bees", "cats"]
HEIGHT, WIDTH = 6, 5


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """Three class folders of PNG and JPEG images (one in a nested folder), plus files that must be skipped."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    pixels = {}
    for index, name in enumerate(CLASSES):
        for number in range(3 + index):
            folder = root / name / ("deeper" if number == 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            suffix = ".JPG" if number == 1 else ".png"
            path = str(folder / f"img{number}{suffix}")
            array = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
            Image.fromarray(array).save(path, format="JPEG" if suffix == ".JPG" else "PNG")
            pixels[path] = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    (root / "ants" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(root / ".hidden" / "x.png")
    return str(root), pixels


def _keras_index(directory, shuffle=True, seed=None, validation_split=None, subset=None, **kwargs):
    labels = kwargs.pop("labels", "inferred")
    paths, labels, class_names = keras_dataset_utils.index_directory(
        directory, list(labels) if isinstance(labels, list) else labels,  # Keras shuffles a list in place
        formats=(".bmp", ".gif", ".jpeg", ".jpg", ".png"), shuffle=shuffle, seed=seed, verbose=False, **kwargs)
    if validation_split:
        paths, labels = keras_dataset_utils.get_training_or_validation_split(paths, labels, validation_split, subset)
    return list(paths), None if labels is None else np.asarray(labels), class_names


def _all_samples(dataset):
    """Every (image, label) of one pass, in order."""
    images, labels = zip(*[dataset[i] for i in range(len(dataset))])
    return torch.cat(images), torch.cat(labels)


def _images(directory, **kwargs):
    kwargs = {"image_size": (HEIGHT, WIDTH), "verbose": False, "batch_size": 4, **kwargs}
    return image_dataset_from_directory(directory, **kwargs)


@pytest.mark.parametrize("shuffle,seed,extra", [
    (False, None, {}), (True, 7, {}), (True, 1234, {}), (True, 3, {"class_names": ["cats", "ants"]}),
    (True, 5, {"labels": list(range(13))}), (False, None, {"labels": None}), (True, 9, {"follow_links": True})])
def test_files_labels_and_class_names_match_keras(image_dir, shuffle, seed, extra):
    directory, _ = image_dir
    dataset = _images(directory, shuffle=shuffle, seed=seed, **extra)
    paths, labels, class_names = _keras_index(directory, shuffle=shuffle, seed=seed, **extra)
    assert dataset.file_paths == paths and dataset.class_names == class_names
    if labels is not None:
        np.testing.assert_array_equal(_all_samples(dataset)[1].numpy(), labels)


@pytest.mark.parametrize("seed,split", [(1, 0.2), (42, 0.5), (7, 0.34)])
def test_validation_split_subsets_match_keras_are_disjoint_and_cover_all(image_dir, seed, split):
    directory, _ = image_dir
    arguments = dict(validation_split=split, seed=seed)
    train = _images(directory, subset="training", **arguments)
    val = _images(directory, subset="validation", **arguments)
    both = _images(directory, subset="both", **arguments)
    assert isinstance(both, list) and both[0].file_paths == train.file_paths and both[1].file_paths == val.file_paths
    for dataset, part in [(train, "training"), (val, "validation")]:
        assert dataset.file_paths == _keras_index(directory, subset=part, **arguments)[0]
    assert not set(train.file_paths) & set(val.file_paths)
    assert set(train.file_paths) | set(val.file_paths) == set(_images(directory).file_paths)
    assert len(val.file_paths) == int(split * 12)


def test_images_are_the_decoded_pixels_with_labels_of_their_folder(image_dir):
    directory, pixels = image_dir
    dataset = _images(directory, shuffle=True, seed=3)
    images, labels = _all_samples(dataset)
    assert images.dtype == torch.float32 and images.shape == (12, HEIGHT, WIDTH, 3)
    assert labels.dtype == torch.int32 and labels.shape == (12,)
    for image, label, path in zip(images, labels, dataset.file_paths):
        np.testing.assert_array_equal(image.numpy(), pixels[path])
        assert CLASSES[label] == os.path.relpath(path, directory).split(os.sep)[0]


def test_label_modes(image_dir):
    directory, _ = image_dir
    ints = _all_samples(_images(directory, shuffle=False))[1]
    categorical = _all_samples(_images(directory, shuffle=False, label_mode="categorical"))[1]
    assert categorical.dtype == torch.float32
    np.testing.assert_array_equal(categorical.numpy(), np.eye(3)[ints.numpy()])
    binary = _images(directory, shuffle=False, label_mode="binary", class_names=["bees", "ants"])
    x, y = _all_samples(binary)
    assert binary.class_names == ["bees", "ants"] and y.dtype == torch.float32 and y.shape == (7, 1)
    np.testing.assert_array_equal(y[:, 0].numpy(), [0] * 4 + [1] * 3)  # bees' 4 files first, then ants' 3
    unlabeled = _images(directory, label_mode=None, shuffle=False)
    assert torch.is_tensor(unlabeled[0]) and unlabeled[0].shape == (4, HEIGHT, WIDTH, 3)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        _images(directory, label_mode="binary")


@pytest.mark.parametrize("color_mode,channels", [("grayscale", 1), ("rgb", 3), ("rgba", 4)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_color_modes_sizes_and_data_formats(image_dir, color_mode, channels, data_format):
    directory, _ = image_dir
    dataset = _images(directory, color_mode=color_mode, data_format=data_format, image_size=(4, 9), batch_size=5,
                      interpolation="nearest", crop_to_aspect_ratio=True)
    shape = (4, 9, channels) if data_format == "channels_last" else (channels, 4, 9)
    assert [tuple(dataset[i][0].shape) for i in range(len(dataset))] == [(5,) + shape, (5,) + shape, (2,) + shape]
    assert dataset[0][0].dtype == torch.float32
    single = _images(directory, color_mode=color_mode, data_format=data_format, batch_size=None)
    assert len(single) == 12 and single[0][0].shape == ((HEIGHT, WIDTH, channels) if data_format == "channels_last"
                                                       else (channels, HEIGHT, WIDTH)) and single[0][1].ndim == 0


def test_training_order_is_reshuffled_each_epoch_and_validation_is_not(image_dir):
    directory, _ = image_dir
    train, val = _images(directory, validation_split=0.25, subset="both", seed=11, label_mode=None, batch_size=2)
    first_train, first_val = torch.cat(list(train)), torch.cat(list(val))
    train.on_epoch_end()
    val.on_epoch_end()
    second_train = torch.cat(list(train))
    assert not torch.equal(first_train, second_train)
    assert sorted(map(bytes, first_train.numpy())) == sorted(map(bytes, second_train.numpy()))  # same images
    assert torch.equal(first_val, torch.cat(list(val)))


def test_fit_evaluate_predict_take_the_dataset(image_dir):
    directory, _ = image_dir
    train, val = _images(directory, validation_split=0.25, subset="both", seed=2, color_mode="grayscale")
    model = deepglass.Sequential([deepglass.Input((HEIGHT, WIDTH, 1)), deepglass.layers.Rescaling(1 / 255),
                                  deepglass.layers.Flatten(), deepglass.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert np.isfinite(model.evaluate(val, verbose=0)[0])
    assert model.predict(val, verbose=0).shape == (3, 3)


def test_image_size_none_keeps_sizes_and_mixed_sizes_are_named(tmp_path):
    for name, size in [("a", (4, 6)), ("b", (4, 6))]:
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros(size + (3,), np.uint8)).save(tmp_path / name / "one.png")
    dataset = image_dataset_from_directory(str(tmp_path), image_size=None, verbose=False)
    assert dataset[0][0].shape == (2, 4, 6, 3)
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(tmp_path / "b" / "two.png")
    with pytest.raises(ValueError, match=r"a/one.png is 4x6 and .*b/two.png is 5x7 .*image_size=\(height, width\)"):
        image_dataset_from_directory(str(tmp_path), image_size=None, verbose=False)


def test_empty_and_bad_directories_are_explained(tmp_path, image_dir):
    with pytest.raises(ValueError, match="No images found .*one subfolder per class"):
        image_dataset_from_directory(str(tmp_path), verbose=False)
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "loose.png")
    with pytest.raises(ValueError, match="No images found"):
        image_dataset_from_directory(str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="Directory not found"):
        image_dataset_from_directory(str(tmp_path / "missing"), verbose=False)
    directory, _ = image_dir
    with pytest.raises(ValueError, match="pass a `seed`"):
        image_dataset_from_directory(directory, validation_split=0.2, subset="training", verbose=False)
    with pytest.raises(ValueError, match="set both or neither"):
        image_dataset_from_directory(directory, validation_split=0.2, seed=1, verbose=False)
    with pytest.raises(ValueError, match="no torch implementation"):
        image_dataset_from_directory(directory, interpolation="lanczos3", verbose=False)
    with pytest.raises(ValueError, match="class_names"):
        image_dataset_from_directory(directory, class_names=["ants", "dogs"], verbose=False)
    with pytest.raises(ValueError, match="leaves the validation subset empty"):
        image_dataset_from_directory(directory, validation_split=0.01, subset="training", seed=1, verbose=False)


def test_explicit_labels_and_unreadable_files(tmp_path):
    for number in range(3):
        Image.fromarray(np.full((2, 3, 3), number, np.uint8)).save(tmp_path / f"{number}.png")
    dataset = image_dataset_from_directory(str(tmp_path), labels=np.array([1, 0, 1]), label_mode="categorical",
                                           shuffle=False, image_size=(2, 3), verbose=False)
    images, labels = dataset[0]
    assert dataset.class_names == ["0", "1"] and images[:, 0, 0, 0].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(labels.numpy(), [[0, 1], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="labels in \\[0, 2\\)"):
        image_dataset_from_directory(str(tmp_path), labels=[2, 0, 2], label_mode="categorical", verbose=False)
    with pytest.raises(ValueError, match="one label per file"):
        image_dataset_from_directory(str(tmp_path), labels=[0, 1], verbose=False)
    (tmp_path / "3.png").write_bytes(b"not a png")
    broken = image_dataset_from_directory(str(tmp_path), labels=None, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match="Could not read the image .*3.png"):
        broken[0]


def test_verbose_reports_files_classes_and_subsets(image_dir, capsys):
    image_dataset_from_directory(image_dir[0], validation_split=0.25, subset="both", seed=1)
    assert capsys.readouterr().out.splitlines() == ["Found 12 files belonging to 3 classes.",
                                                    "Using 9 files for training.", "Using 3 files for validation."]


def test_text_dataset_reads_files_by_class(tmp_path):
    texts = {"neg": ["awful film", "dull"], "pos": ["great fun", "lovely ✓", "superb"]}
    for label, items in texts.items():
        (tmp_path / label).mkdir()
        for number, text in enumerate(items):
            (tmp_path / label / f"{number}.txt").write_text(text, encoding="utf-8")
    (tmp_path / "pos" / "skip.md").write_text("ignored")
    dataset = text_dataset_from_directory(str(tmp_path), batch_size=2, seed=4, verbose=False)
    paths, labels, class_names = keras_dataset_utils.index_directory(str(tmp_path), "inferred", formats=(".txt",),
                                                                     seed=4, verbose=False)
    assert dataset.file_paths == paths and dataset.class_names == class_names == ["neg", "pos"]
    read = [(text, int(label)) for i in range(len(dataset)) for text, label in zip(*dataset[i])]
    assert read == [(open(path, encoding="utf-8").read(), label) for path, label in zip(paths, labels)]
    assert isinstance(dataset[0][0], list)
    short = text_dataset_from_directory(str(tmp_path), max_length=3, shuffle=False, label_mode="binary",
                                        batch_size=None, verbose=False)
    assert [short[i][0] for i in range(len(short))] == ["awf", "dul", "gre", "lov", "sup"]
    assert short[4][1].tolist() == [1.0]
    train, val = text_dataset_from_directory(str(tmp_path), validation_split=0.4, subset="both", seed=3,
                                             label_mode=None, verbose=False)
    assert len(val.file_paths) == 2 and sorted(train[0] + val[0]) == sorted(sum(texts.values(), []))
    with pytest.raises(ValueError, match="No text files found"):
        text_dataset_from_directory(str(tmp_path / "neg"), verbose=False)


# --------------------------------------------------------------------------------------------------- time series
def _reference_windows(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, shuffle=False, seed=None,
                       start_index=None, end_index=None):
    """Keras's procedure, restated: start positions, shuffled with RandomState(seed), then gathered windows."""
    start_index = start_index or 0
    end_index = len(data) if end_index is None else end_index
    count = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    starts = np.arange(0, count, sequence_stride, dtype="int32")
    if shuffle:
        np.random.RandomState(seed).shuffle(starts)
    part = data[start_index:end_index]
    windows = np.stack([part[p:p + sequence_length * sampling_rate:sampling_rate] for p in starts])
    return windows, None if targets is None else targets[start_index:][starts]


def _all_windows(dataset):
    batches = [dataset[i] for i in range(len(dataset))]
    if isinstance(batches[0], tuple):
        return torch.cat([b[0] for b in batches]).numpy(), torch.cat([b[1] for b in batches]).numpy()
    return torch.cat(batches).numpy(), None


@pytest.mark.parametrize("arguments", [
    dict(sequence_length=10, sampling_rate=2, sequence_stride=3), dict(sequence_length=4),
    dict(sequence_length=5, sequence_stride=7, start_index=3, end_index=60),
    dict(sequence_length=3, sampling_rate=5, start_index=10), dict(sequence_length=6, end_index=20),
    dict(sequence_length=4, sequence_stride=2, shuffle=True, seed=5),
    dict(sequence_length=2, sampling_rate=3, shuffle=True, seed=1, start_index=4, end_index=90)])
@pytest.mark.parametrize("with_targets", [True, False])
def test_windows_and_targets_match_the_reference(arguments, with_targets):
    data = np.arange(99 * 2, dtype="float64").reshape(99, 2)
    targets = np.arange(99) * 10 if with_targets else None
    dataset = timeseries_dataset_from_array(data, targets, batch_size=8, **arguments)
    windows, window_targets = _all_windows(dataset)
    expected, expected_targets = _reference_windows(data, targets, **arguments)
    np.testing.assert_array_equal(windows, expected)
    if with_targets:
        np.testing.assert_array_equal(window_targets, expected_targets)
    assert all(dataset[i][0].shape[0] == 8 for i in range(len(dataset) - 1)) if with_targets else True


def test_keras_documented_examples():
    steps = np.arange(99)
    first, *_ = _all_windows(timeseries_dataset_from_array(steps, None, 10, sequence_stride=3, sampling_rate=2))
    np.testing.assert_array_equal(first[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(first[1], np.arange(3, 23, 2))
    np.testing.assert_array_equal(first[-1], np.arange(78, 98, 2))
    series = np.random.default_rng(0).random(50)
    inputs, targets = timeseries_dataset_from_array(series[:-10], series[10:], sequence_length=10)[0]
    np.testing.assert_array_equal(inputs[0], series[:10])
    assert targets[0] == series[10]
    x = np.arange(100)
    inputs = timeseries_dataset_from_array(x, None, sequence_length=20, sequence_stride=20)[0]
    outputs = timeseries_dataset_from_array(x * 2, None, sequence_length=20, sequence_stride=20)[0]
    np.testing.assert_array_equal(inputs[0], x[:20])
    np.testing.assert_array_equal(outputs[1], x[20:40] * 2)


def test_shuffle_with_seed_covers_every_window_once_per_epoch():
    data = np.arange(50)
    dataset = timeseries_dataset_from_array(data, data, sequence_length=3, batch_size=4, shuffle=True, seed=0)
    first, _ = _all_windows(dataset)
    dataset.on_epoch_end()
    second, second_targets = _all_windows(dataset)
    assert sorted(first[:, 0]) == sorted(second[:, 0]) == list(range(48))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(second[:, 0], second_targets)
    same_seed, _ = _all_windows(timeseries_dataset_from_array(data, data, 3, batch_size=4, shuffle=True, seed=0))
    np.testing.assert_array_equal(first, same_seed)


def test_windows_read_memory_mapped_data_and_feed_fit(tmp_path):
    path = str(tmp_path / "series.npy")
    np.save(path, np.random.default_rng(0).random((64, 3)).astype("float32"))
    data = np.load(path, mmap_mode="r")
    dataset = timeseries_dataset_from_array(data[:-5], data[5:, 0], sequence_length=5, batch_size=16)
    np.testing.assert_array_equal(dataset[1][0][0].numpy(), data[16:21])
    single = timeseries_dataset_from_array(torch.from_numpy(np.array(data)), None, 5, batch_size=None)
    assert len(single) == 60 and single[2].shape == (5, 3)
    model = deepglass.Sequential([deepglass.Input((5, 3)), deepglass.layers.Flatten(), deepglass.layers.Dense(1)])
    model.compile("adam", "mse")
    assert np.isfinite(model.fit(dataset, epochs=1, verbose=0).history["loss"][0])


def test_timeseries_argument_errors():
    data = np.zeros(10)
    with pytest.raises(ValueError, match="sequence_length"):
        timeseries_dataset_from_array(data, None, 0)
    with pytest.raises(ValueError, match="sampling_rate"):
        timeseries_dataset_from_array(data, None, 2, sampling_rate=10)
    with pytest.raises(ValueError, match="end_index"):
        timeseries_dataset_from_array(data, None, 2, start_index=5, end_index=4)
    with pytest.raises(ValueError, match="No complete window fits"):
        timeseries_dataset_from_array(data, None, 6, sampling_rate=2)


# -------------------------------------------------------------------------------------------------- split_dataset
@pytest.mark.parametrize("left,right", [(0.8, None), (None, 0.3), (3, None), (None, 7), (0.25, 0.5), (2, 5),
                                        (0.2, 3), (0.333, None)])
def test_split_sizes_match_keras(left, right):
    x = np.arange(10)
    ours = split_dataset(x, left_size=left, right_size=right)
    assert (len(ours[0]), len(ours[1])) == keras_dataset_utils._rescale_dataset_split_sizes(left, right, 10)
    np.testing.assert_array_equal([ours[0][i] for i in range(len(ours[0]))], x[:len(ours[0])])
    np.testing.assert_array_equal([ours[1][i] for i in range(len(ours[1]))], x[10 - len(ours[1]):])


@pytest.mark.parametrize("left,right,seed", [(0.8, None, 0), (3, None, 5), (None, 0.5, 11)])
def test_shuffled_split_matches_keras_torch_backend(left, right, seed):
    x = np.arange(20, dtype="float32")
    theirs = keras.utils.split_dataset(x, left_size=left, right_size=right, shuffle=True, seed=seed)
    ours = split_dataset(x, left_size=left, right_size=right, shuffle=True, seed=seed)
    for mine, keras_part in zip(ours, theirs):
        np.testing.assert_array_equal([mine[i] for i in range(len(mine))], x[keras_part.indices])


def test_split_tuples_lists_dicts_and_tensors_keep_their_structure():
    x, y = np.arange(24, dtype="float32").reshape(12, 2), np.arange(12) % 3
    left, right = split_dataset((x, y), left_size=0.75, shuffle=True, seed=1)
    pairs = [left[i] for i in range(len(left))] + [right[i] for i in range(len(right))]
    assert len(left) == 9 and len(right) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in pairs)
    assert sorted(int(p[0][0]) // 2 for p in pairs) == list(range(12))
    assert all(p[1] == (p[0][0] // 2) % 3 for p in pairs)
    as_list = split_dataset([x, y], right_size=2)[1]
    assert isinstance(as_list[0], list) and np.array_equal(as_list[1][0], x[11])
    as_dict = split_dataset({"a": x, "b": torch.as_tensor(y)}, left_size=4)
    assert set(as_dict[1][0]) == {"a", "b"} and np.array_equal(as_dict[1][0]["a"], x[4])
    assert torch.equal(split_dataset(torch.arange(5), left_size=2)[1][0], torch.tensor(2))
    with pytest.raises(ValueError, match="same length"):
        split_dataset((x, y[:5]), left_size=0.5)


def test_split_torch_datasets_and_pydatasets():
    x, y = torch.arange(10.0)[:, None], torch.arange(10) % 2
    left, right = split_dataset(torch.utils.data.TensorDataset(x, y), left_size=6, shuffle=True, seed=3)
    assert isinstance(left, torch.utils.data.Subset) and len(left) == 6 and len(right) == 4
    assert sorted(left.indices + right.indices) == list(range(10))

    class Batches(PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return x[index * 3:(index + 1) * 3].numpy(), y[index * 3:(index + 1) * 3].numpy()

    left, right = split_dataset(Batches(), left_size=0.7)
    assert isinstance(left, PyDataset) and [len(b[0]) for b in left] == [3, 3, 1] and len(right) == 1
    np.testing.assert_array_equal(right[0][0], x[7:].numpy())


def test_fit_takes_the_split_parts():
    x = np.random.default_rng(0).random((40, 3)).astype("float32")
    y = (x.sum(1) > 1.5).astype("float32")
    train, test = split_dataset((x, y), left_size=0.75, shuffle=True, seed=0)
    model = deepglass.Sequential([deepglass.Input((3,)), deepglass.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(train, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(model.evaluate(test, verbose=0))


def test_split_dataset_errors():
    with pytest.raises(ValueError, match="At least one"):
        split_dataset(np.zeros(4))
    with pytest.raises(ValueError, match="fraction in \\(0, 1\\)"):
        split_dataset(np.zeros(4), left_size=1.5)
    with pytest.raises(ValueError, match="smaller than 4"):
        split_dataset(np.zeros(4), left_size=4)
    with pytest.raises(ValueError, match="ask for 3 \\+ 3"):
        split_dataset(np.zeros(4), left_size=3, right_size=3)
    with pytest.raises(TypeError, match="Received: dataset of type str"):
        split_dataset("abc", left_size=1)
    with pytest.raises(TypeError, match="not a DataLoader"):
        split_dataset(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4))), left_size=1)
