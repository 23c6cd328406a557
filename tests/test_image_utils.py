"""load_img / img_to_array / array_to_img / save_img and the dataset resize, against Keras (the oracle)."""
import io
import itertools
import sys
import warnings

import numpy as np
import pytest
import torch

from deepglass.utils import array_to_img, img_to_array, load_img, save_img
from deepglass.utils.image_dataset import resize

Image = pytest.importorskip("PIL.Image")
keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """An RGBA PNG, a grayscale PNG, a 16-bit grayscale PNG and an RGB JPEG, 10 x 14 (height x width)."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = {}
    for name, mode, shape in [("rgba.png", "RGBA", (10, 14, 4)), ("gray.png", "L", (10, 14)),
                              ("rgb.jpg", "RGB", (10, 14, 3))]:
        paths[name] = str(folder / name)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(paths[name])
    paths["gray16.png"] = str(folder / "gray16.png")
    Image.fromarray(rng.integers(0, 60000, (10, 14)).astype(np.uint16)).save(paths["gray16.png"])
    return paths


def _same_image(ours, theirs):
    assert ours.mode == theirs.mode and ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize("name,color_mode", itertools.product(
    ["rgba.png", "gray.png", "rgb.jpg", "gray16.png"], ["grayscale", "rgb", "rgba"]))
def test_load_img_color_modes_match_keras(images, name, color_mode):
    _same_image(load_img(images[name], color_mode=color_mode),
                keras.utils.load_img(images[name], color_mode=color_mode))


@pytest.mark.parametrize("target_size,interpolation,keep_aspect_ratio", itertools.product(
    [(5, 7), (8, 8), (20, 9), (10, 14)], ["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"],
    [False, True]))
def test_load_img_resizing_matches_keras(images, target_size, interpolation, keep_aspect_ratio):
    arguments = dict(target_size=target_size, interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio)
    ours = load_img(images["rgba.png"], color_mode="rgba", **arguments)
    _same_image(ours, keras.utils.load_img(images["rgba.png"], color_mode="rgba", **arguments))
    assert ours.size == (target_size[1], target_size[0])


def test_load_img_accepts_paths_and_bytes_io(images, tmp_path):
    from pathlib import Path
    with open(images["rgb.jpg"], "rb") as file:
        from_bytes = load_img(io.BytesIO(file.read()))
    _same_image(load_img(Path(images["rgb.jpg"])), from_bytes)
    with pytest.raises(TypeError, match="io.BytesIO"):
        load_img(123)
    with pytest.raises(ValueError, match="Did you mean 'bilinear'"):
        load_img(images["rgb.jpg"], target_size=(3, 3), interpolation="bilinea")
    with pytest.raises(ValueError, match="color_mode"):
        load_img(images["rgb.jpg"], color_mode="cmyk")


@pytest.mark.parametrize("name,data_format,dtype", itertools.product(
    ["rgba.png", "gray.png", "gray16.png"], ["channels_last", "channels_first"], [None, "uint8", "float64"]))
def test_img_to_array_matches_keras(images, name, data_format, dtype):
    img = Image.open(images[name])
    if dtype == "uint8" and name == "gray16.png":
        dtype = "int32"
    ours = img_to_array(img, data_format=data_format, dtype=dtype)
    theirs = keras.utils.img_to_array(img, data_format=data_format, dtype=dtype)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("channels,data_format,scale,peak", itertools.product(
    [1, 3, 4], ["channels_last", "channels_first"], [True, False], [1.0, 255.0, 4000.0]))
def test_array_to_img_matches_keras(channels, data_format, scale, peak):
    x = np.random.default_rng(channels).random((6, 9, channels)) * peak
    if data_format == "channels_first":
        x = x.transpose(2, 0, 1)
    _same_image(array_to_img(x, data_format=data_format, scale=scale),
                keras.utils.array_to_img(x, data_format=data_format, scale=scale))


def test_array_to_img_takes_tensors_and_rejects_bad_shapes():
    x = torch.rand(4, 5, 3)
    _same_image(array_to_img(x), keras.utils.array_to_img(x.numpy()))
    with pytest.raises(ValueError, match="rank 3"):
        array_to_img(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        array_to_img(np.zeros((4, 5, 2)))


@pytest.mark.parametrize("channels,suffix", [(1, "png"), (3, "png"), (4, "png"), (3, "bmp")])
def test_save_img_then_load_img_round_trip(tmp_path, channels, suffix):
    x = np.random.default_rng(0).integers(0, 256, (7, 11, channels)).astype("float32")
    x[0, 0], x[0, 1] = 0, 255  # the full range: scaling leaves the values as they are
    path = str(tmp_path / f"image.{suffix}")
    save_img(path, x)
    color_mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[channels]
    np.testing.assert_array_equal(img_to_array(load_img(path, color_mode=color_mode)), x)
    keras_path = str(tmp_path / f"keras.{suffix}")
    keras.utils.save_img(keras_path, x)
    _same_image(Image.open(path), Image.open(keras_path))


def test_save_img_channels_first_without_scaling_to_a_file_object():
    x = np.random.default_rng(1).integers(0, 128, (3, 5, 6)).astype("float32")
    buffer = io.BytesIO()
    save_img(buffer, x, data_format="channels_first", file_format="png", scale=False)
    buffer.seek(0)
    np.testing.assert_array_equal(img_to_array(load_img(buffer), data_format="channels_first"), x)


def test_save_img_rgba_as_jpeg_converts_with_a_warning(tmp_path):
    x = np.random.default_rng(2).random((8, 8, 4))
    with pytest.warns(UserWarning, match="JPEG"):
        save_img(str(tmp_path / "a.jpg"), x)
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"


def test_missing_pillow_says_what_to_install(monkeypatch, images):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        load_img(images["rgb.jpg"])


@pytest.mark.parametrize("size,interpolation,mode", itertools.product(
    [(5, 5), (4, 12), (16, 6), (10, 14)], ["bilinear", "nearest", "bicubic"], ["plain", "crop", "pad"]))
def test_resize_matches_keras_ops_image_resize(size, interpolation, mode):
    image = torch.rand(3, 10, 14) * 255
    flags = dict(crop_to_aspect_ratio=mode == "crop", pad_to_aspect_ratio=mode == "pad")
    ours = resize(image, size, interpolation, **flags)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = keras.ops.image.resize(image, size, interpolation=interpolation, data_format="channels_first",
                                        **flags)
    torch.testing.assert_close(ours, torch.as_tensor(keras.ops.convert_to_numpy(theirs)), rtol=1e-5, atol=1e-4)
