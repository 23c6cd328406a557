"""The `deepglass` command: demo, report, info, --version."""
import html.parser
import subprocess
import sys

import numpy as np

import pytest

import deepglass
from deepglass.cli import main


def test_demo_reaches_095_and_writes_curves_and_summary(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    assert main(["demo", "--output", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.95
    png = (tmp_path / "learning_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    summary = (tmp_path / "summary.txt").read_text()
    assert 'Model: "digits_cnn"' in summary and "Total params:" in summary
    assert f"test accuracy {accuracy:.4f}" in summary
    report = (tmp_path / "report.html").read_text()
    assert f"wrote the training report {tmp_path / 'report.html'}" in out
    assert report.startswith("<!DOCTYPE html>") and 'id="confusion"' in report and 'id="grad-cam"' in report
    assert "https://" not in report and "http://" not in report


def test_info_prints_versions_and_device(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"deepglass {deepglass.__version__}" in out and "torch" in out and f"device    {deepglass.config.device()}" in out


def test_version_and_entry_point():
    result = subprocess.run([sys.executable, "-m", "deepglass.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"deepglass {deepglass.__version__}"


def test_unknown_command_fails_with_usage():
    with pytest.raises(SystemExit) as exit_info:
        main(["trian"])
    assert exit_info.value.code == 2


class _Sections(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.ids = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.ids.append(dict(attrs)["id"])


def test_report_on_a_saved_model(tmp_path, capsys):
    from deepglass.insight import save_history
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    model = deepglass.Sequential([deepglass.Input((4,)), deepglass.layers.Dense(8, activation="relu"),
                                  deepglass.layers.Dense(3, activation="softmax")], name="tabular")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:60], y[:60], epochs=4, validation_data=(x[60:], y[60:]), verbose=0)
    model.save(tmp_path / "model.keras")
    save_history(history, tmp_path / "history.json")
    np.savez(tmp_path / "val.npz", x_val=x[60:], y_val=y[60:])
    out = tmp_path / "out" / "page.html"
    assert main(["report", str(tmp_path / "model.keras"), "--history", str(tmp_path / "history.json"), "--data",
                 str(tmp_path / "val.npz"), "-o", str(out), "--class-names", "low,mid,high"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    text = out.read_text()
    assert _Sections(text).ids == ["overview", "findings", "curves", "model", "evaluation", "confusion",
                                   "top-losses", "calibration"]
    assert "tabular: training report" in text and "mid" in text
    assert main(["report", str(tmp_path / "model.keras"), "-o", str(tmp_path / "bare.html")]) == 0
    assert _Sections((tmp_path / "bare.html").read_text()).ids == ["overview", "model"]


def test_report_needs_x_val_in_the_data_file(tmp_path, capsys):
    model = deepglass.Sequential([deepglass.Input((2,)), deepglass.layers.Dense(1)])
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "data.npz", x_test=np.zeros((3, 2)))
    assert main(["report", str(tmp_path / "model.keras"), "--data", str(tmp_path / "data.npz")]) == 2
    assert "holds ['x_test'], but no x_val" in capsys.readouterr().err
