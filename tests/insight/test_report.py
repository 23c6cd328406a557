"""The HTML training report: sections present for what was given, pictures embedded as PNG, nothing fetched from the
network, the numbers as computed independently, written atomically, and readable without matplotlib."""
import base64
import html.parser
import json
import os
import sys

import numpy as np
import pytest

import deepglass
from deepglass import layers
from deepglass.insight.report import load_history, save_history

PNG = b"\x89PNG\r\n\x1a\n"
ALL_SECTIONS = ["overview", "findings", "curves", "model", "gradients", "evaluation", "confusion", "top-losses",
                "calibration", "grad-cam"]


class Page(html.parser.HTMLParser):
    """What the tests read from the page: section ids, headings, images, links and the text."""

    def __init__(self, text):
        super().__init__()
        self.sections, self.images, self.links, self.tags, self.text = [], [], [], set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(attrs["id"])
        if "src" in attrs:
            self.images.append(attrs["src"])
        if "href" in attrs:
            self.links.append(attrs["href"])

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self):
        return " ".join(" ".join(self.text).split())


def quadrant_images(n, seed):
    """8x8 noise images whose class (0, 1 or 2) is where a bright 3x3 patch lies: easy for a small CNN."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.3, (n, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, n)
    for image, label in zip(x, y):
        row, col = [(0, 0), (0, 5), (5, 2)][label]
        image[row:row + 3, col:col + 3] = 1.0
    return x, y


@pytest.fixture(scope="module")
def trained():
    deepglass.config.set_random_seed(0)
    x, y = quadrant_images(150, 0)
    x_val, y_val = quadrant_images(45, 1)
    model = deepglass.Sequential([deepglass.Input((8, 8, 1)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                                  layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3, activation="softmax")],
                                 name="quadrants")
    model.compile(optimizer=deepglass.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    monitor = deepglass.insight.Monitor(every_n_steps=4)
    history = model.fit(x, y, epochs=4, batch_size=32, validation_data=(x_val, y_val), verbose=0,
                        callbacks=[monitor])
    return model, history, monitor, x_val, y_val


def read(path):
    text = open(path, encoding="utf-8").read()
    return text, Page(text)


def assert_self_contained(text, page):
    assert "http://" not in text and "https://" not in text
    assert not {"script", "link", "iframe", "object", "embed"} & page.tags
    assert all(link.startswith("#") for link in page.links)
    for source in page.images:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix) and base64.b64decode(source[len(prefix):], validate=True)[:8] == PNG


def test_full_report_of_a_trained_classifier(trained, tmp_path):
    pytest.importorskip("matplotlib")
    model, history, monitor, x_val, y_val = trained
    path = deepglass.insight.report(model, history, x_val, y_val, path=tmp_path / "report.html",
                                    class_names=["top left", "top right", "bottom"], monitor=monitor)
    assert path == os.fspath(tmp_path / "report.html") and os.listdir(tmp_path) == ["report.html"]
    text, page = read(path)
    assert page.sections == ALL_SECTIONS
    assert [link[1:] for link in page.links] == page.sections  # the navigation bar
    assert_self_contained(text, page)
    # curves, gradient flow, activations, confusion matrix, top losses, reliability diagram, Grad-CAM
    assert len(page.images) == 7
    words = page.words
    probabilities = model.predict(x_val, verbose=0)
    accuracy = np.mean(probabilities.argmax(axis=1) == y_val)
    assert f"{accuracy:.1%} validation accuracy" in words
    ece = deepglass.insight.expected_calibration_error(y_val, probabilities)
    assert f"Expected calibration error: {ece:.4f}" in words
    assert f"{model.count_params():,} parameters" in words
    assert "(3*3*1 + 1) * 4 = 40" in words  # the explained summary
    assert "top left" in words and "Advice:" in words
    assert 'Model "quadrants"' in words and "quadrants: training report" in words


def test_findings_cards_carry_severity_name_epochs_and_advice(tmp_path):
    losses = [1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05]
    overfit = {"loss": losses, "val_loss": [1.0, 0.7, 0.5, 0.45, 0.47, 0.52, 0.58, 0.65, 0.72, 0.8]}
    model = deepglass.Sequential([deepglass.Input((3,)), layers.Dense(2)])
    findings = deepglass.insight.diagnose(overfit, model=model)
    assert findings[0].name == "overfitting"
    text, page = read(deepglass.insight.report(model, overfit, path=tmp_path / "r.html"))
    assert '<div class="card warning"><h3><span class="badge warning">Warning</span>Overfitting' in text
    assert findings[0].advice in page.words
    assert "epochs " + ", ".join(map(str, findings[0].epochs)) in page.words


def test_sections_are_left_out_without_their_inputs(tmp_path):
    model = deepglass.Sequential([deepglass.Input((4,)), layers.Dense(3)], name="bare")
    text, page = read(deepglass.insight.report(model, path=tmp_path / "bare.html", title="Just the model"))
    assert page.sections == ["overview", "model"]
    assert page.images == [] and "Just the model" in page.words
    assert_self_contained(text, page)
    # Validation inputs without targets: predictions only, no classifier sections.
    _, page = read(deepglass.insight.report(model, x_val=np.ones((5, 4), "float32"), path=tmp_path / "x.html"))
    assert page.sections == ["overview", "model", "evaluation"] and "metrics need them" in page.words


def test_regression_gets_metrics_but_no_classifier_sections(tmp_path):
    model = deepglass.Sequential([deepglass.Input((2,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(20, 2)).astype("float32")
    y = (x @ np.array([[1.5], [-2.0]]) + 0.3).astype("float32")
    _, page = read(deepglass.insight.report(model, x_val=x, y_val=y, path=tmp_path / "r.html"))
    assert page.sections == ["overview", "model", "evaluation"]
    mse = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert f"loss {mse:.4g}" in page.words


@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)


def test_report_without_matplotlib(trained, tmp_path, no_matplotlib):
    model, history, monitor, x_val, y_val = trained
    text, page = read(deepglass.insight.report(model, history, x_val, y_val, path=tmp_path / "r.html",
                                               monitor=monitor))
    assert page.images == [] and page.sections == ALL_SECTIONS
    words = page.words
    assert "pip install 'deepglass[plot]'" in words
    for picture in ("learning curves", "gradient flow", "confusion matrix", "highest losses", "reliability diagram",
                    "Grad-CAM"):
        assert picture in words.split("These pictures need matplotlib")[1].split(".")[0]
    from deepglass.insight.confusion import confusion_matrix
    from deepglass.insight.top_losses import top_losses
    counts = confusion_matrix(y_val, model.predict(x_val, verbose=0))
    assert f"true \\ predicted 0 1 2 0 {counts[0, 0]} {counts[0, 1]} {counts[0, 2]}" in words
    indices, losses, _ = top_losses(model, x_val, y_val, k=9)
    assert f"{indices[0]} {losses[0]:.4g}" in words  # the worst sample heads the table
    assert "Expected calibration error" in words
    assert_self_contained(text, page)


def test_missing_confusion_and_top_loss_modules_skip_their_sections(trained, tmp_path, monkeypatch, no_matplotlib):
    model, history, _, x_val, y_val = trained
    monkeypatch.setitem(sys.modules, "deepglass.insight.confusion", None)
    monkeypatch.setitem(sys.modules, "deepglass.insight.top_losses", None)
    _, page = read(deepglass.insight.report(model, history, x_val, y_val, path=tmp_path / "r.html"))
    words = page.words
    assert "needs deepglass.insight.confusion, which this installation lacks" in words
    assert "need deepglass.insight.top_losses, which this installation lacks" in words
    assert "calibration" in page.sections and "grad-cam" in page.sections


def test_the_write_is_atomic(trained, tmp_path, monkeypatch):
    model = trained[0]
    path = tmp_path / "report.html"
    path.write_text("previous report")

    def fail(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        deepglass.insight.report(model, path=path)
    assert path.read_text() == "previous report" and os.listdir(tmp_path) == ["report.html"]
    monkeypatch.undo()
    deepglass.insight.report(model, path=path)
    assert os.listdir(tmp_path) == ["report.html"] and path.read_text().startswith("<!DOCTYPE html>")
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # readable as any new file, not private


def test_class_names_must_match_the_classes(trained, tmp_path):
    model, _, _, x_val, y_val = trained
    with pytest.raises(ValueError, match="2 class_names for a model with 3 classes"):
        deepglass.insight.report(model, x_val=x_val, y_val=y_val, class_names=["a", "b"], path=tmp_path / "r.html")
    assert os.listdir(tmp_path) == []


def test_history_json_round_trip(trained, tmp_path):
    history = trained[1]
    save_history(history, tmp_path / "history.json")
    assert json.loads((tmp_path / "history.json").read_text()) == history.history
    assert load_history(tmp_path / "history.json") == history.history
    (tmp_path / "bad.json").write_text('{"loss": "low"}')
    with pytest.raises(ValueError, match="mapping metric names to lists of numbers"):
        load_history(tmp_path / "bad.json")
