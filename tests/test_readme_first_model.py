"""The README's first model, run as a newcomer would paste it: a CNN on Fashion-MNIST, evaluated, and its report
written. Here on 2,000 of the training images and 500 of the test images, for one epoch; the getting-started guide
shows the same program."""
import pathlib
import re

import numpy as np
import pytest

import deepglass
from deepglass.datasets import fashion_mnist

ROOT = pathlib.Path(__file__).resolve().parents[1]


def first_model_code(path):
    text = path.read_text(encoding="utf-8")
    return re.search(r"## A first model\n.*?```python\n(.*?)```", text, re.S).group(1)


def test_the_guide_shows_the_readme_program():
    guide = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert first_model_code(ROOT / "README.md") in guide


@pytest.mark.skipif(not pathlib.Path(fashion_mnist.SYSTEM_DIR).is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_the_readme_program_trains_a_cnn_and_writes_its_report(tmp_path, monkeypatch, capsys):
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    small = ((x_train[:2000], y_train[:2000]), (x_test[:500], y_test[:500]))
    monkeypatch.setattr(fashion_mnist, "load_data", lambda: small)
    monkeypatch.chdir(tmp_path)
    code = first_model_code(ROOT / "README.md")
    assert "epochs=10" in code
    namespace = {}
    exec(compile(code.replace("epochs=10", "epochs=1"), "README.md", "exec"), namespace)
    model, history = namespace["model"], namespace["history"]
    assert isinstance(model, deepglass.Sequential) and model.count_params() == 225_034  # 320+18,496+204,928+1,290
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    accuracy = model.evaluate(namespace["x_test"], y_test[:500], verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.4  # one epoch (15 steps) on 1,800 images; chance is 0.1 (a GPU run gave 0.56)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Ankle boot" in page and "<script" not in page
    assert np.isfinite(history.history["loss"]).all()
