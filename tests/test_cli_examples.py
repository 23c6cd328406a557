"""`deepglass examples list` and `deepglass examples run NAME ...`: the listing, a run, and the errors."""
import json

import pytest

import deepglass
from deepglass.cli import main
from tests.examples.conftest import EXAMPLES, import_example


def test_list_names_each_example_with_its_first_docstring_line(capsys, monkeypatch):
    monkeypatch.delenv("DEEPGLASS_EXAMPLES", raising=False)
    assert main(["examples", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines}
    assert set(listed) == {path.stem for path in EXAMPLES.glob("*.py") if not path.stem.startswith("_")}
    for name in ("linear_to_mlp", "optimizers_compared"):  # the docstring of the module, once imported
        assert listed[name] == import_example(name).__doc__.strip().splitlines()[0]


def test_run_passes_the_arguments_to_the_example(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEEPGLASS_EXAMPLES", raising=False)
    out = tmp_path / "out"
    assert main(["examples", "run", "optimizers_compared", "--quick", "--epochs", "1", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == 1 and len(results["optimizers"]) == 7
    assert (out / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "Adadelta" in capsys.readouterr().out


def test_unknown_name_lists_the_valid_names_and_the_closest(capsys, monkeypatch):
    monkeypatch.delenv("DEEPGLASS_EXAMPLES", raising=False)
    assert main(["examples", "run", "linear_to_mpl", "--quick"]) == 2
    error = capsys.readouterr().err
    assert "Unknown example: 'linear_to_mpl'" in error and "Did you mean 'linear_to_mlp'?" in error
    assert "cheat_sheet_unchanged, " in error and str(EXAMPLES) in error


def test_deepglass_examples_points_to_another_folder(tmp_path, capsys, monkeypatch):
    (tmp_path / "echo.py").write_text('"""Print the arguments."""\n\ndef main(argv=None):\n    print("argv", argv)\n')
    (tmp_path / "script.py").write_text(
        '"""A script without main(argv)."""\nimport sys\nprint("script", sys.argv[1:])\n')
    (tmp_path / "_helper.py").write_text('"""Not an example."""\n')
    (tmp_path / "unfinished.py").write_text('"""Half written."""\ndef main(argv=None:\n')
    monkeypatch.setenv("DEEPGLASS_EXAMPLES", str(tmp_path))
    assert main(["examples", "list"]) == 0
    echo, script, unfinished = capsys.readouterr().out.splitlines()
    assert (echo, script) == ("echo        Print the arguments.", "script      A script without main(argv).")
    assert unfinished.startswith("unfinished  (does not parse: ") and unfinished.endswith(", line 2)")
    assert main(["examples", "run", "echo", "--quick", "--out", "x"]) == 0
    assert capsys.readouterr().out == "argv ['--quick', '--out', 'x']\n"
    assert main(["examples", "run", "script", "--quick"]) == 0
    assert capsys.readouterr().out == "script ['--quick']\n"


def test_missing_folders_say_where_they_looked_and_how_to_fix_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEEPGLASS_EXAMPLES", str(tmp_path / "nowhere"))
    assert main(["examples", "list"]) == 2
    error = capsys.readouterr().err
    assert f"DEEPGLASS_EXAMPLES is {tmp_path / 'nowhere'}, which is not a folder" in error

    monkeypatch.delenv("DEEPGLASS_EXAMPLES")
    # An installed copy: the package sits in site-packages, with no examples/ folder two levels up.
    monkeypatch.setattr(deepglass, "__file__", str(tmp_path / "lib" / "site-packages" / "deepglass" / "__init__.py"))
    assert main(["examples", "run", "linear_to_mlp"]) == 2
    error = capsys.readouterr().err
    assert f"looked for {tmp_path / 'lib' / 'examples'}" in error
    assert "export DEEPGLASS_EXAMPLES=" in error


def test_run_needs_a_name():
    with pytest.raises(SystemExit):
        main(["examples", "run"])
