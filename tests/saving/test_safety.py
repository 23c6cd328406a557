"""Malicious and malformed files raise `SavedFileError` (a ValueError) naming the file and the problem, run nothing,
allocate nothing beyond the file's size, and leave the model they were loaded into unchanged.

The cases of the threat model (configs naming code, Lambda bytecode, bombs, crafted archives, pickles) are in
tests/hardening/test_hostile_files.py, which uses the helpers here; these are the remaining malformed files."""
import io
import json
import resource
import zipfile

import numpy as np
import pytest

import deepglass
from deepglass.saving import SavedFileError

h5py = pytest.importorskip("h5py")


def small_model():
    return deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3, activation="relu"),
                                 deepglass.layers.Dense(2)])


def saved(tmp_path, model=None, name="m.keras"):
    path = tmp_path / name
    (model or small_model()).save(path)
    return path


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rewrite(path, new_members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in new_members.items():
            archive.writestr(name, data)
    return path


def with_config(tmp_path, edit, name="evil.keras"):
    """A copy of a valid archive whose config.json went through `edit(config)`."""
    parts = members(saved(tmp_path))
    config = json.loads(parts["config.json"])
    edit(config)
    parts["config.json"] = json.dumps(config).encode()
    return rewrite(tmp_path / name, parts)


# --------------------------------------------------------------------------------------------- names that run code
def test_unknown_custom_class_needs_custom_objects(tmp_path):
    class Doubling(deepglass.layers.Layer):
        def call(self, x):
            return 2 * x

    model = deepglass.Sequential([deepglass.Input((4,)), Doubling(name="double")])
    path = saved(tmp_path, model)
    with pytest.raises(SavedFileError, match="custom_objects"):
        deepglass.saving.load_model(path)
    restored = deepglass.saving.load_model(path, custom_objects={"Doubling": Doubling})
    assert isinstance(restored.layers[0], Doubling)
    with deepglass.saving.custom_object_scope({"Doubling": Doubling}):
        assert isinstance(deepglass.saving.load_model(path).layers[0], Doubling)


def test_registered_custom_objects_load_by_their_registered_name(tmp_path):
    @deepglass.saving.register_serializable(package="tests")
    def shifted_relu(x):
        return deepglass.activations.relu(x - 1)

    @deepglass.saving.register_serializable(package="tests")
    class Scale(deepglass.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return self.factor * x

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3, activation=shifted_relu),
                                  Scale(3.0)])
    path = saved(tmp_path, model)
    config = json.loads(members(path)["config.json"])
    assert config["config"]["layers"][2]["registered_name"] == "tests>Scale"
    restored = deepglass.saving.load_model(path)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert restored.layers[0].activation is shifted_relu and restored.layers[1].factor == 3.0


# ------------------------------------------------------------------------------------------------- crafted archives
def test_invalid_json_config(tmp_path):
    parts = members(saved(tmp_path))
    for name, text in [("bad.keras", b"{not json"), ("deep.keras", b"[" * 100000 + b"]" * 100000)]:
        parts["config.json"] = text
        with pytest.raises(SavedFileError, match="config.json is not valid JSON"):
            deepglass.saving.load_model(rewrite(tmp_path / name, parts))


# ---------------------------------------------------------------------------------------- weights that do not fit
def assert_unchanged(model, before):
    for mine, theirs in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("suffix", [".weights.h5", ".safetensors", ".h5", ".keras"])
def test_wrong_shapes_raise_and_change_nothing(tmp_path, suffix):
    other = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3, activation="relu"),
                                  deepglass.layers.Dense(5)])
    path = tmp_path / f"w{suffix}"
    other.save(path) if suffix == ".keras" else other.save_weights(path)
    model = small_model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(SavedFileError, match=r"shape.*\(3, 2\)|shape \(2,\)|\(2, 3\)"):
        model.load_weights(path)
    assert_unchanged(model, before)


def test_missing_and_unexpected_layers(tmp_path):
    deeper = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3), deepglass.layers.Dense(2),
                                   deepglass.layers.Dense(2)])
    deeper.save_weights(tmp_path / "w.weights.h5")
    model = small_model()
    with pytest.raises(SavedFileError, match="layers the model does not have"):
        model.load_weights(tmp_path / "w.weights.h5")
    small_model().save_weights(tmp_path / "small.weights.h5")
    with pytest.raises(SavedFileError, match="has 2 weights and the file has none"):
        deeper.load_weights(tmp_path / "small.weights.h5")


def test_skip_mismatch_loads_the_rest(tmp_path):
    other = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3), deepglass.layers.Dense(5)])
    other.save_weights(tmp_path / "w.weights.h5")
    model = small_model()
    with pytest.warns(UserWarning, match="skipping"):
        model.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], other.layers[0].get_weights()[0])


def test_wrong_dtype_is_refused(tmp_path):
    model = small_model()
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((4, 3), dtype="int32")
    with pytest.raises(SavedFileError, match="holds int32"):
        model.load_weights(path)


def test_config_that_does_not_match_its_weights(tmp_path):
    parts = members(saved(tmp_path))
    config = json.loads(parts["config.json"])
    config["config"]["layers"][2]["config"]["units"] = 7  # the weights file still has 2
    parts["config.json"] = json.dumps(config).encode()
    with pytest.raises(SavedFileError, match=r"\(3, 7\) and the file \(3, 2\)"):
        deepglass.saving.load_model(rewrite(tmp_path / "mismatch.keras", parts))


def test_config_claiming_an_enormous_model_allocates_nothing(tmp_path):
    """Dense(250_000) on 4_000 inputs would need 4 GB: refused from the meta-device build, before allocation."""
    def edit(config):
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, 4000]
        config["config"]["layers"][1]["config"]["units"] = 250_000
        config["config"]["layers"][1].pop("build_config", None)
        del config["config"]["layers"][2]
    path = with_config(tmp_path, edit)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SavedFileError, match="bytes of weights, but the file holds only"):
        deepglass.saving.load_model(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 << 10  # KiB


def test_h5_links_and_external_data_are_refused(tmp_path):
    model = small_model()
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["kernel"] = np.ones((4, 3), "float32")
    path = tmp_path / "w.weights.h5"
    for kind in ("external_link", "soft_link", "external_storage"):
        model.save_weights(path)
        with h5py.File(path, "a") as f:
            del f["layers/dense/vars/0"]
            group = f["layers/dense/vars"]
            if kind == "external_link":
                group["0"] = h5py.ExternalLink(str(outside), "kernel")
            elif kind == "soft_link":
                group["0"] = h5py.SoftLink("/layers/dense/vars/1")
            else:
                raw = tmp_path / "raw.bin"
                raw.write_bytes(np.ones((4, 3), "float32").tobytes())
                group.create_dataset("0", shape=(4, 3), dtype="float32", external=[(str(raw), 0, 48)])
        with pytest.raises(SavedFileError, match="Link|another file"):
            model.load_weights(path)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="File not found"):
        deepglass.saving.load_model(tmp_path / "nothing.keras")
    with pytest.raises(ValueError, match="must end in"):
        small_model().save_weights(tmp_path / "w.bin")
    with pytest.raises(ValueError, match="expected `.keras`"):
        small_model().save(tmp_path / "m.bin")


def test_in_memory_round_trip_of_config_bytes():
    """The h5 weights of an archive are read from memory, never extracted to disk."""
    model = small_model()
    data = deepglass.saving.keras_file.weights_bytes(model)
    with h5py.File(io.BytesIO(data), "r") as f:
        assert sorted(f["layers"]) == ["dense", "dense_1"]
