"""clear_session resets what Keras's resets (the Keras oracle on the same settings) and keeps the rest."""
import gc
import os
import sys
import types
import weakref

import pytest

import deepglass
from deepglass import config

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


@pytest.fixture
def restored_settings():
    """Both libraries start from a cleared session; the settings that clear_session keeps are put back after the
    test."""
    keras.utils.clear_session(free_memory=False)
    ours = dict(config._settings)
    theirs = (keras.config.floatx(), keras.config.epsilon(), keras.config.image_data_format())
    yield
    config._settings.update(ours)
    keras.config.set_floatx(theirs[0])
    keras.config.set_epsilon(theirs[1])
    keras.config.set_image_data_format(theirs[2])
    deepglass.clear_session(free_memory=False)
    keras.utils.clear_session(free_memory=False)


def settings(library, safe_mode):
    return {"dtype_policy": library.config.dtype_policy().name, "floatx": library.config.floatx(),
            "epsilon": library.config.epsilon(), "image_data_format": library.config.image_data_format(),
            "safe_mode": safe_mode is not False, "distribution": library.distribution.distribution() is not None,
            "name": library.layers.Dense(1).name}


@pytest.mark.filterwarnings("ignore:The dtype policy computes in")  # emulated half precision on this CPU
def test_clear_session_resets_what_keras_resets(restored_settings):
    from keras.src.saving import serialization_lib
    for library in (deepglass, keras):
        library.config.set_floatx("float64")
        library.config.set_epsilon(1e-3)
        library.config.set_image_data_format("channels_first")
        library.config.set_dtype_policy("mixed_float16")
        library.config.enable_unsafe_deserialization()
        library.distribution.set_distribution(library.distribution.DataParallel(devices=["cpu:0"]))
        library.layers.Dense(1)
    assert settings(deepglass, config.in_safe_mode()) == settings(keras, serialization_lib.in_safe_mode())
    deepglass.clear_session()
    keras.utils.clear_session()
    after = settings(deepglass, config.in_safe_mode())
    assert after == settings(keras, serialization_lib.in_safe_mode())
    # The policy falls back to floatx's; safe mode, the distribution and the names are reset; the rest stays.
    assert after == {"dtype_policy": "float64", "floatx": "float64", "epsilon": 1e-3,
                     "image_data_format": "channels_first", "safe_mode": True, "distribution": False, "name": "dense"}


def test_the_default_policy_applies_again_to_new_layers():
    deepglass.mixed_precision.set_global_policy("mixed_bfloat16")
    assert deepglass.layers.Dense(1).compute_dtype == "bfloat16"
    deepglass.clear_session(free_memory=False)
    assert deepglass.mixed_precision.global_policy().name == "float32"
    assert deepglass.layers.Dense(1).compute_dtype == "float32"


def test_free_memory_collects_garbage_and_compiled_code_is_forgotten(monkeypatch):
    class Node:
        pass

    node = Node()
    node.self = node  # a reference cycle: only the garbage collector frees it
    alive = weakref.ref(node)
    del node
    resets = []
    monkeypatch.setitem(sys.modules, "torch._dynamo", types.SimpleNamespace(reset=lambda: resets.append(1)))
    gc.disable()
    try:
        deepglass.clear_session(free_memory=False)
        assert alive() is not None and resets == [1]
        deepglass.clear_session()
        assert alive() is None and resets == [1, 1]
    finally:
        gc.enable()
