"""The `deepglass` command: demo, info, --version."""
import subprocess
import sys

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
