"""Global settings."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import config


@pytest.fixture(autouse=True)
def restore_settings():
    saved = dict(config._settings)
    yield
    config._settings.update(saved)


def test_defaults_match_keras():
    assert config.floatx() == "float32" and config.epsilon() == 1e-7
    assert config.image_data_format() == "channels_last"


def test_setters_validate_and_apply():
    config.set_floatx("float64")
    assert deepglass.layers.Dense(2).add_weight((2,), "zeros", name="w").dtype == torch.float64
    with pytest.raises(ValueError, match="float16, bfloat16, float32, float64; got 'float8'"):
        config.set_floatx("float8")
    config.set_image_data_format("channels_first")
    assert deepglass.layers.Flatten().data_format == "channels_first"
    with pytest.raises(ValueError, match="channels_middle"):
        config.set_image_data_format("channels_middle")
    config.set_epsilon(1e-5)
    assert config.epsilon() == 1e-5


def test_device_choice_and_override():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config.device().type == expected
    config.set_device("cpu")
    assert config.device() == torch.device("cpu")
    config.set_device(None)
    assert config.device().type == expected


def test_standardize_dtype_accepts_names_numpy_and_torch():
    assert config.standardize_dtype(None) == torch.float32
    assert config.standardize_dtype("int64") == torch.int64
    assert config.standardize_dtype(np.float16) == torch.float16
    assert config.standardize_dtype(torch.bfloat16) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype name"):
        config.standardize_dtype("floaty")


def test_set_random_seed_repeats_every_generator():
    def draw():
        config.set_random_seed(7)
        import random
        return random.random(), np.random.rand(), torch.rand(1).item()

    assert draw() == draw()
    with pytest.raises(ValueError, match="integer seed"):
        config.set_random_seed(1.5)
