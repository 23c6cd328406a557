"""Model.export: the exported file, run by onnxruntime or torch.export, gives model.predict's outputs."""
import numpy as np
import pytest
import torch

import deepglass as keras
from deepglass import layers



def needs_onnx():
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


def mlp():
    return keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dropout(0.5),
                             layers.Dense(3, activation="softmax")])


def cnn():
    return keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                             layers.MaxPooling2D(), layers.Conv2D(5, 3), layers.BatchNormalization(),
                             layers.AveragePooling2D(), layers.Flatten(), layers.Dense(4)])


def two_inputs():
    image, features = keras.Input((6, 6, 2)), keras.Input((5,))
    x = layers.GlobalAveragePooling2D()(layers.MaxPooling2D()(layers.Conv2D(3, 3, activation="relu")(image)))
    x = layers.Concatenate()([x, layers.Dense(4, activation="tanh")(features)])
    return keras.Model([image, features], [layers.Dense(2)(x), layers.Dense(1, activation="sigmoid")(x)])


def inputs_for(model, batch, rng):
    arrays = [rng.standard_normal((batch,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]
    return arrays if len(arrays) > 1 else arrays[0]


def run_onnx(path, x):
    session = needs_onnx().InferenceSession(path, providers=["CPUExecutionProvider"])
    arrays = x if isinstance(x, list) else [x]
    return session.run(None, {i.name: a for i, a in zip(session.get_inputs(), arrays)})


def run_torch_export(path, x):
    module = torch.export.load(path).module()
    arrays = x if isinstance(x, list) else [x]
    outputs = module(*[torch.from_numpy(a) for a in arrays])
    return [t.detach().cpu().numpy() for t in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def run_torchscript(path, x):
    module = torch.jit.load(path)
    arrays = x if isinstance(x, list) else [x]
    outputs = module(*[torch.from_numpy(a) for a in arrays])
    return [t.detach().cpu().numpy() for t in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


RUNNERS = {"onnx": run_onnx, "pt2": run_torch_export, "pt": run_torchscript}


@pytest.mark.parametrize("ending", sorted(RUNNERS))
@pytest.mark.parametrize("build", [mlp, cnn, two_inputs])
def test_export_matches_predict(tmp_path, build, ending):
    rng = np.random.default_rng(0)
    model = build()
    # Moving statistics away from (0, 1), so that exporting in training mode would give other outputs.
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.moving_mean.fill_(0.3)
            layer.moving_variance.fill_(2.0)
    if ending == "onnx":
        needs_onnx()
    path = str(tmp_path / f"model.{ending}")
    model.export(path, verbose=False)
    for batch in (1, 7):
        x = inputs_for(model, batch, rng)
        expected = model.predict(x, verbose=0)
        expected = expected if isinstance(expected, list) else [expected]
        got = RUNNERS[ending](path, x)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, atol=1e-5)
    assert not model.training and not any(m.training for m in model.modules())


def test_export_restores_training_mode_and_format_argument(tmp_path):
    model = mlp()
    model.train(True)
    path = str(tmp_path / "model.bin")
    model.export(path, format="torch_export", verbose=False)
    assert all(m.training for m in model.modules())
    x = np.ones((3, 6), "float32")
    model.train(False)
    np.testing.assert_allclose(run_torch_export(path, x)[0], model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("signature", [(None, 6), [(None, 6)], np.zeros((1, 6))])
def test_input_signature_forms(tmp_path, signature):
    needs_onnx()
    model = keras.Sequential([layers.Dense(2)])
    model.build((None, 6))
    path = str(tmp_path / "model.onnx")
    model.export(path, input_signature=signature, verbose=False)
    x = np.arange(30, dtype="float32").reshape(5, 6)
    np.testing.assert_allclose(run_onnx(path, x)[0], model.predict(x, verbose=0), atol=1e-5)


def test_verbose_prints_path(tmp_path, capsys):
    needs_onnx()
    path = str(tmp_path / "model.onnx")
    mlp().export(path)
    assert path in capsys.readouterr().out


def test_unknown_format_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="onnx.*torch.*torch_export"):
        mlp().export(str(tmp_path / "m.onnx"), format="tflite")
    with pytest.raises(ValueError, match=r"\.onnx or \.pt2"):
        mlp().export(str(tmp_path / "m.tflite"))
    assert not list(tmp_path.iterdir())


def test_failed_export_leaves_previous_file(tmp_path, monkeypatch):
    needs_onnx()
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous")

    def fail(*args, **kwargs):
        raise RuntimeError("exporter failed")
    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(RuntimeError, match="exporter failed"):
        mlp().export(str(path), verbose=False)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_unknown_inner_axis_asks_for_a_signature(tmp_path):
    with pytest.raises(ValueError, match="known sizes"):
        mlp().export(str(tmp_path / "model.onnx"), input_signature=(None, None))


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'deepglass\[onnx\]'"):
        mlp().export(str(tmp_path / "model.onnx"), verbose=False)


@pytest.mark.parametrize("source, destination", [(-1, 1), ((1, -1), (3, 1)), ((-2, -1, 0), (0, 1, 2))])
def test_onnx_movedim_with_negative_axes(tmp_path, source, destination):
    # Channels-last convolutions move axis -1; the exporter's own movedim writes negative Transpose axes.
    needs_onnx()
    inputs = keras.Input((3, 4, 5))
    model = keras.Model(inputs, layers.Lambda(lambda t: t.movedim(source, destination) * 2.0)(inputs))
    path = str(tmp_path / "model.onnx")
    model.export(path, verbose=False)
    x = np.random.default_rng(1).standard_normal((3, 3, 4, 5)).astype("float32")
    np.testing.assert_array_equal(run_onnx(path, x)[0], np.moveaxis(x, source, destination) * 2.0)
