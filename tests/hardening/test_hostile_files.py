"""Hostile files: each is refused with an error that names the file and the problem, runs nothing (a marker file
the payload would create never appears), and needs far less memory than it asks for.

Every load runs in a forked child (see `forked`) whose address space is capped at 2 GiB above its size, so that a
regression fails the test instead of the machine, and whose peak memory during the load is measured. The bombs are
small (tens of MiB at most once inflated) but above the limits they test; the limits are module attributes
(`archive.MAX_EXPANSION`, `keras_file.CONFIG_LIMIT`, ...) that the docstrings of those modules list.
"""
import ast
import io
import json
import pathlib
import pickle
import re
import struct
import sys
import zipfile

import numpy as np
import pytest
import torch

import deepglass
from deepglass.datasets import _safe_pickle
from tests.hardening import forked
from tests.hardening.forked import MiB
from tests.saving.test_safety import members, rewrite, saved, small_model, with_config

h5py = pytest.importorskip("h5py")
pytest.importorskip("safetensors")

PEAK = 256 * MiB  # what refusing any of these files may cost (a failed fit included), far below the 1.5 GB bound
BOMB_PEAK = 8 * MiB  # the bombs inflate to 32 MiB or more: refused before they are read


def load(path, **kwargs):
    deepglass.saving.load_model(path, **kwargs)
    return "loaded"


def assert_refused(outcome, path, problem, marker=None, error="SavedFileError", peak=PEAK):
    """The load raised `error`, naming the file and matching `problem`; nothing ran; memory stayed low."""
    assert outcome.error_type == error, f"{pathlib.Path(path).name}: expected {error}, but the load {outcome}"
    assert str(path) in outcome.error, f"the error does not name the file: {outcome.error}"
    assert re.search(problem, outcome.error), f"the error does not say {problem!r}: {outcome.error}"
    assert marker is None or not pathlib.Path(marker).exists(), f"the payload ran: {marker} exists"
    assert outcome.peak_growth < peak, f"refusing {path} took {outcome.peak_growth / MiB:.0f} MiB"


# ------------------------------------------------------------------------------- configs that name code to run
def evil_module(tmp_path, marker):
    """A module that leaves `marker` when imported, on a path the child will search."""
    folder = tmp_path / "site"
    folder.mkdir(exist_ok=True)
    (folder / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return folder


TARGETS = ["os.system", "posix.system", "subprocess.Popen", "subprocess.run", "subprocess.check_call", "builtins.exec",
           "builtins.eval", "builtins.__import__", "importlib.import_module", "runpy.run_path", "keras.utils.get_file",
           "deepglass.datasets._files.fetch"]


def payloads(marker, tmp_path):
    """`module.name` -> the config that would make the call leave `marker`, were it ever called."""
    script = tmp_path / "payload.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    touch = {"args": ["touch", str(marker)]}
    return {"os.system": {"command": f"touch {marker}"}, "posix.system": {"command": f"touch {marker}"},
            "subprocess.Popen": touch, "subprocess.run": touch, "subprocess.check_call": touch,
            "builtins.exec": {"source": f"open({str(marker)!r}, 'w')"},
            "builtins.eval": {"source": f"open({str(marker)!r}, 'w')"},
            "builtins.__import__": {"name": "evil_module"}, "importlib.import_module": {"name": "evil_module"},
            "runpy.run_path": {"path_name": str(script)},
            "keras.utils.get_file": {"fname": str(marker), "origin": f"file://{script}"},
            "deepglass.datasets._files.fetch": {"resource": str(marker)}}


def place(config, where, module, name, arguments):
    """Put a reference to `module.name` (called with `arguments`) at `where` in a Sequential config."""
    obj = {"module": module, "class_name": name, "config": arguments, "registered_name": name}
    function = {"module": module, "class_name": "function", "config": name, "registered_name": name}
    dense = config["config"]["layers"][1]["config"]
    if where == "layer":
        config["config"]["layers"][1] = obj
    elif where == "activation":
        dense["activation"] = function
    elif where == "initializer":
        dense["kernel_initializer"] = obj
    elif where == "loss":
        config["compile_config"] = {"optimizer": "adam", "loss": function}
    elif where == "metric":
        config["compile_config"] = {"optimizer": "adam", "loss": "mse", "metrics": [function]}
    elif where == "optimizer":
        config["compile_config"] = {"optimizer": obj, "loss": "mse"}
    elif where == "schedule":
        config["compile_config"] = {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                                  "config": {"learning_rate": obj}, "registered_name": None},
                                    "loss": "mse"}


POSITIONS = ["layer", "activation", "initializer", "loss", "metric", "optimizer", "schedule"]


@pytest.mark.parametrize("target", TARGETS)
def test_a_config_naming_code_outside_deepglass_is_refused_and_runs_nothing(tmp_path, target):
    marker = tmp_path / "pwned"
    module, name = target.rsplit(".", 1)
    arguments = payloads(marker, tmp_path)[target]
    parts, paths = members(saved(tmp_path)), []
    for where in POSITIONS:
        config = json.loads(parts["config.json"])
        place(config, where, module, name, arguments)
        paths.append(rewrite(tmp_path / f"evil_{where}.keras", {**parts, "config.json": json.dumps(config)}))
    site = evil_module(tmp_path, marker)

    def load_all():
        sys.path.insert(0, str(site))  # the module is there to be found: loading must not look for it
        found = []
        for path in paths:
            try:
                load(path)
                found.append((str(path), None, None))
            except Exception as error:
                found.append((str(path), type(error).__name__, str(error)))
        return found

    outcome = forked.run(load_all)
    assert outcome.error_type is None, str(outcome)
    for path, error_type, message in outcome.value:
        assert error_type == "SavedFileError", f"{path} loaded"
        assert path in message and repr(name) in message, message
        assert "Unknown" in message, message
    assert not marker.exists() and outcome.peak_growth < PEAK


def test_a_module_named_by_a_config_is_never_imported(tmp_path):
    """The module a config gives only chooses which of deepglass's registries to search; it is never imported."""
    marker = tmp_path / "imported"
    site = evil_module(tmp_path, marker)

    def edit(config):
        config["config"]["layers"][1]["module"] = "evil_module"
        config["config"]["layers"][1]["config"]["kernel_initializer"]["module"] = "evil_module"
    path = with_config(tmp_path, edit)

    def load_with_the_module_on_the_path():
        sys.path.insert(0, str(site))
        return type(deepglass.saving.load_model(path).layers[0]).__name__

    outcome = forked.run(load_with_the_module_on_the_path)
    assert outcome.value == "Dense", str(outcome)
    assert not marker.exists()


# --------------------------------------------------------------------------------- code carried by the file
def lambda_model(marker):
    marker_path = str(marker)

    def payload(x):
        open(marker_path, "w").close()  # what an attacker's code would do; here it only leaves a mark
        return x * 2
    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Lambda(payload)])
    marker.unlink()  # building the model ran it once
    return model


def lambda_file(tmp_path, marker, suffix):
    model = lambda_model(marker)
    if suffix == ".json":
        path = tmp_path / "lambda.json"
        path.write_text(model.to_json())
    else:
        path = tmp_path / f"lambda{suffix}"
        model.save(path)
    return path


def load_any(path, **kwargs):
    if str(path).endswith(".json"):
        deepglass.models.model_from_json(pathlib.Path(path).read_text(), **kwargs)
        return "loaded"
    return load(path, **kwargs)


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".json"])
def test_lambda_bytecode_is_refused_under_default_settings(tmp_path, suffix):
    marker = tmp_path / "ran"
    path = lambda_file(tmp_path, marker, suffix)
    outcome = forked.run(load_any, path)
    assert outcome.error_type in ("SavedFileError", "ValueError"), str(outcome)
    assert "Lambda" in outcome.error and "safe_mode=False" in outcome.error
    assert suffix == ".json" or str(path) in outcome.error
    assert not marker.exists()

    def global_switch_then_load():
        deepglass.config.enable_unsafe_deserialization()  # does not open a load that keeps safe_mode=True
        return load_any(path, **({} if suffix == ".json" else {"safe_mode": True}))
    if suffix != ".json":
        assert forked.run(global_switch_then_load).error_type == "SavedFileError"
        assert not marker.exists()
        # The control: a caller who trusts the file gets the code, so the marker above proves something.
        assert forked.run(lambda: load_any(path, safe_mode=False)).value == "loaded"
        assert marker.exists()


SWITCHES = {
    "enable_unsafe_deserialization as a layer": lambda other: {
        "module": "keras.config", "class_name": "enable_unsafe_deserialization", "config": {},
        "registered_name": None},
    "deepglass's switch as an activation": lambda other: {
        "module": "keras.layers", "class_name": "Activation", "registered_name": None,
        "config": {"activation": {"module": "deepglass.config", "class_name": "function",
                                  "config": "enable_unsafe_deserialization", "registered_name": None}}},
    "load_model(safe_mode=False) as a layer": lambda other: {
        "module": "deepglass.saving", "class_name": "load_model", "registered_name": None,
        "config": {"filepath": str(other), "safe_mode": False}},
    "safe_mode=False in the Lambda's own config": None,
}


@pytest.mark.parametrize("switch", list(SWITCHES))
def test_a_file_cannot_switch_safe_mode_off(tmp_path, switch):
    """CVE-2025-1550 and CVE-2025-9906 in Keras: a config that turns safe mode off, then carries a Lambda."""
    marker = tmp_path / "ran"
    other = lambda_file(tmp_path, marker, ".keras")  # a second payload the switch would load

    def edit(config):
        layers = config["config"]["layers"]
        lambda_layer = json.loads(members(other)["config.json"])["config"]["layers"][1]
        if SWITCHES[switch] is None:
            lambda_layer["config"]["safe_mode"] = False
        else:
            layers.insert(1, SWITCHES[switch](other))
        layers.append(lambda_layer)
        config["compile_config"] = None
    path = with_config(tmp_path, edit)

    def attack_then_check():
        try:
            load(path)
        except Exception as error:
            refused = (type(error).__name__, str(error))
        else:
            refused = None
        try:  # the process's setting must be what it was: a plain Lambda file is still refused
            load(other)
            still_refused = False
        except Exception:
            still_refused = True
        return refused, deepglass.config.in_safe_mode(), still_refused

    outcome = forked.run(attack_then_check)
    (error_type, message), safe, still_refused = outcome.value
    assert error_type == "SavedFileError" and str(path) in message, message
    assert safe and still_refused
    assert not marker.exists()


# --------------------------------------------------------------------------------------------- crafted archives
def bomb(size=32 * MiB):
    return bytes(size)  # zeros: deflate stores them in a thousandth of their size


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5", "metadata.json", "assets/extra.bin"])
def test_a_zip_bomb_member_is_refused_before_it_is_read(tmp_path, member):
    parts = members(saved(tmp_path))
    parts[member] = bomb()
    path = rewrite(tmp_path / "bomb.keras", parts, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < MiB
    assert_refused(forked.run(load, path), path, f"{member}.*decompression bomb", peak=BOMB_PEAK)


def test_a_member_over_its_size_limit_is_refused(tmp_path, monkeypatch):
    path = saved(tmp_path)
    monkeypatch.setattr(deepglass.saving.keras_file, "CONFIG_LIMIT", 100)  # the child inherits it
    assert_refused(forked.run(load, path), path, "config.json.*over the 100 accepted")


def test_a_member_that_inflates_past_its_declared_size_is_refused(tmp_path):
    """The zip headers say 64 KiB; the deflated data holds 32 MiB."""
    parts = members(saved(tmp_path))
    parts["config.json"] = bomb()
    path = rewrite(tmp_path / "liar.keras", parts, compression=zipfile.ZIP_DEFLATED)
    data = path.read_bytes()
    real, claimed = struct.pack("<I", 32 * MiB), struct.pack("<I", 64 << 10)
    assert data.count(real) == 2  # the local header and the central directory
    path.write_bytes(data.replace(real, claimed))
    assert_refused(forked.run(load, path), path, "config.json.*(CRC|truncated or corrupt)", peak=BOMB_PEAK)


def test_compressed_weights_inside_a_compressed_member_are_refused(tmp_path):
    """Each layer of compression stays under its limit (HDF5 chunks, then the zip member); together they inflate
    some 10 KiB into a 16 MiB kernel."""
    model = deepglass.Sequential([deepglass.Input((4096,)), deepglass.layers.Dense(1024)])
    block = np.zeros((256, 64), "float32")
    block[:4] = np.random.default_rng(0).standard_normal((4, 64))  # ~1/64 of each chunk: gzip gets ~60x
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", data=np.tile(block, (16, 16)), chunks=(256, 64), compression="gzip")
        group.create_dataset("1", data=np.zeros(1024, "float32"))
    saved(tmp_path, model, "big.keras")
    parts = members(tmp_path / "big.keras")
    parts["model.weights.h5"] = buffer.getvalue()
    path = rewrite(tmp_path / "nested.keras", parts, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 64 << 10
    assert_refused(forked.run(load, path), path, "compressed data inside a compressed member", peak=BOMB_PEAK)


def enormous_dataset(group, name):
    """A dataset declaring 2**50 float32 elements (4 PiB), with nothing stored."""
    group.create_dataset(name, shape=(1 << 25, 1 << 25), dtype="float32", chunks=(64, 64), compression="gzip")


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras", ".h5", ".npz"])
def test_an_array_declaring_2_to_the_50_elements_is_refused(tmp_path, suffix):
    model = small_model()
    path = tmp_path / f"huge{suffix}"
    if suffix == ".weights.h5":
        model.save_weights(path)
        with h5py.File(path, "a") as f:
            del f["layers/dense/vars/0"]
            enormous_dataset(f["layers/dense/vars"], "0")
        call, problem = (lambda: model.load_weights(path)), "declares shape.*decompression bomb"
    elif suffix == ".keras":
        buffer = io.BytesIO(members(saved(tmp_path))["model.weights.h5"])
        with h5py.File(buffer, "a") as f:
            del f["layers/dense/vars/0"]
            enormous_dataset(f["layers/dense/vars"], "0")
        parts = members(tmp_path / "m.keras")
        parts["model.weights.h5"] = buffer.getvalue()
        rewrite(path, parts)
        call, problem = (lambda: load(path)), "decompression bomb"
    elif suffix == ".h5":
        model.save(path)
        with h5py.File(path, "a") as f:
            group = f["model_weights/dense/dense"]
            del group["kernel"]
            enormous_dataset(group, "kernel")
        call, problem = (lambda: load(path)), "decompression bomb"
    else:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (1 << 50,)})
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x.npy", header.getvalue() + bytes(64))
        call, problem = (lambda: _safe_pickle.load_npz(path)), r"\(1125899906842624,\).*holds 64 bytes"
    error = "UnsafePickleError" if suffix == ".npz" else "SavedFileError"
    assert_refused(forked.run(call), path, problem, error=error)


def safetensors_file(path, header, data=bytes(48), length=None):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def tensor(shape, start, end):
    return {"dtype": "F32", "shape": shape, "data_offsets": [start, end]}


LYING_HEADERS = {  # (kernel, bias) -> (header, length field or None for the true one, the problem reported)
    "shape needs more bytes than claimed": lambda k, b: ({k: tensor([1 << 30, 1 << 10], 0, 48)}, None,
                                                         "needs 4398046511104 bytes but claims 48"),
    "offsets past the end": lambda k, b: ({k: tensor([4, 3], 0, 1 << 40)}, None, "outside the file"),
    "length past the end": lambda k, b: ({}, 1 << 60, "header claims"),
    "offsets that overlap": lambda k, b: ({k: tensor(k.shape, 0, 48), b: tensor(b.shape, 36, 48)}, None,
                                          "reading the tensors failed"),
}


@pytest.mark.parametrize("case", list(LYING_HEADERS))
def test_a_safetensors_header_that_lies_is_refused(tmp_path, case):
    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(3)])
    (kernel, k), (bias, b) = model.state_dict().items()
    header, length, problem = LYING_HEADERS[case](_Named(kernel, k), _Named(bias, b))
    path = safetensors_file(tmp_path / "w.safetensors", header, length=length)
    assert_refused(forked.run(model.load_weights, path), path, problem)


class _Named(str):
    """A state_dict name that also knows its tensor's shape."""

    def __new__(cls, name, value):
        named = super().__new__(cls, name)
        named.shape = list(value.shape)
        return named


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil", "assets/../../evil", "C:/evil", "a\\..\\evil"])
def test_member_paths_outside_the_archive_are_refused(tmp_path, member):
    parts = members(saved(tmp_path))
    parts[member] = b"x"
    path = rewrite(tmp_path / "evil.keras", parts)
    assert_refused(forked.run(load, path), path, "absolute or parent-relative path")
    assert not (tmp_path.parent / "evil.txt").exists() and not (tmp_path / "evil").exists()


@pytest.mark.parametrize("name, cut", [("half.keras", 0.5), ("end.keras", -30), ("empty.keras", 0),
                                       ("w.weights.h5", 200), ("w.safetensors", 200), ("w.h5", 200)])
def test_a_truncated_file_is_refused_and_changes_nothing(tmp_path, name, cut):
    model = small_model()
    path = tmp_path / name
    model.save(path) if name.endswith(".keras") else model.save_weights(path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * cut) if isinstance(cut, float) else cut])
    before = model.get_weights()

    def load_and_compare():
        try:
            load(path) if name.endswith(".keras") else model.load_weights(path)
        finally:
            assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert_refused(forked.run(load_and_compare), path, "zip archive|truncated|not a readable HDF5")


@pytest.mark.parametrize("prefix, suffix", [(b"\x89PNG\r\n\x1a\n" + bytes(1000), b""),
                                            (pickle.dumps({"a pickle": 1}), b""),
                                            (b"", b"%PDF-1.7 and more of another file")],
                         ids=["png-then-zip", "pickle-then-zip", "zip-then-junk"])
def test_a_polyglot_is_refused(tmp_path, prefix, suffix):
    path = tmp_path / "polyglot.keras"
    path.write_bytes(prefix + saved(tmp_path).read_bytes() + suffix)
    assert_refused(forked.run(load, path), path, "polyglot")


# -------------------------------------------------------------------------------------------------- pickles
SOURCE = pathlib.Path(deepglass.__file__).parent


def calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def test_every_torch_load_uses_weights_only_and_nothing_else_unpickles():
    """torch.load(weights_only=True) builds tensors and plain data only; pickle itself runs only in the dataset
    reader whose every global is a checked function; marshal only behind the Lambda layer's safe-mode check."""
    found, unsafe = [], []
    for file in sorted(SOURCE.rglob("*.py")):
        relative, text = file.relative_to(SOURCE).as_posix(), file.read_text()
        if not any(word in text for word in ("load", "pickle", "marshal", "Unpickler")):
            continue
        for node, name in calls(ast.parse(text)):
            keywords = {k.arg: k.value for k in node.keywords}
            if name in ("torch.load", "torch.serialization.load"):
                found.append(relative)
                only = keywords.get("weights_only")
                if not (isinstance(only, ast.Constant) and only.value is True):
                    unsafe.append(f"{relative}:{node.lineno} {name} without weights_only=True")
            elif name in ("pickle.load", "pickle.loads", "pickle.Unpickler") and relative != "datasets/_safe_pickle.py":
                unsafe.append(f"{relative}:{node.lineno} {name}")
            elif name == "marshal.loads" and relative != "layers/lambda_layer.py":
                unsafe.append(f"{relative}:{node.lineno} {name}")
            elif name in ("np.load", "numpy.load"):
                allow = keywords.get("allow_pickle")
                if not (isinstance(allow, ast.Constant) and allow.value is False):
                    unsafe.append(f"{relative}:{node.lineno} {name} without allow_pickle=False")
    assert not unsafe, unsafe
    assert "callbacks/backup_and_restore.py" in found  # the scan sees the calls it is meant to check


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling this creates the marker


@pytest.mark.parametrize("name", ["latest.backup", "m.keras", "m.h5", "w.weights.h5", "w.safetensors"])
def test_a_pickle_carrying_a_payload_is_rejected(tmp_path, name):
    marker = tmp_path / "ran"
    path = tmp_path / name
    torch.save({"format": "deepglass.backup/1", "weights": Payload(marker)}, path)
    torch.load(io.BytesIO(path.read_bytes()), weights_only=False)["weights"].close()  # the payload is live
    assert marker.exists()
    marker.unlink()
    model = small_model()
    model.compile(optimizer="adam", loss="mse")
    if name == "latest.backup":
        backup = deepglass.callbacks.BackupAndRestore(tmp_path)
        call = lambda: model.fit(np.zeros((4, 4)), np.zeros((4, 2)), verbose=0, callbacks=[backup])  # noqa: E731
        error, problem = "ValueError", "could not read its backup.*Weights only load failed"
    elif name.startswith("m."):
        call, error, problem = (lambda: load(path)), "SavedFileError", "no 'config.json'|not a readable HDF5"
    else:
        call, error, problem = (lambda: model.load_weights(path)), "SavedFileError", "HDF5|header"
    assert_refused(forked.run(call), path, problem, marker, error=error)
