"""The benchmark suite runs end to end (speed itself is measured by running it, not here)."""
import json
import types

import pytest
import torch

from benchmarks import accuracy, report, startup
from benchmarks.__main__ import main
from benchmarks.workloads import Unavailable, all_workloads, keras_model, torch_model

FAST = "deepglass,torch (tutorial),torch (tuned)"  # Keras and Lightning take seconds to import


def test_smoke_run_of_every_part_writes_tables_and_json(tmp_path):
    main(["--smoke", "--threads", "1", "--workloads", "W4,W5,W6,W8,feed", "--contenders", FAST,
          "--out", str(tmp_path)])
    sections = json.loads((tmp_path / "results.json").read_text())["sections"]
    assert list(sections) == ["W4", "W5", "W6", "W8", "F1", "F2", "F3"]
    w5 = sections["W5"]["data"]["contenders"]
    assert set(w5) == {"deepglass", "torch (tutorial)", "torch (tuned)"}
    assert w5["torch (tutorial)"]["ratio"] == 1.0
    assert all(row["ms_per_step"] > 0 for row in w5.values())
    w6 = sections["W6"]["data"]["contenders"]
    assert set(w6) == {f"{who} {mode}" for who in ("deepglass", "torch (inference_mode)")
                       for mode in ("predict", "evaluate")}
    assert w6["torch (inference_mode) evaluate"]["ratio"] == 1.0
    assert "deepglass" in sections["W8"]["data"]["contenders"] or "skipped" in " ".join(sections["W8"]["notes"])
    assert sections["F3"]["data"]["peak_rss_mb"] > sections["F3"]["data"]["rss_before_fit_mb"] > 0
    assert set(sections["F2"]["data"]["ratios"]) == {"0", "2"}
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "| deepglass |" in markdown and "### F3:" in markdown


def test_a_part_run_again_replaces_only_its_section(tmp_path):
    def section(key, value):
        return report.Section(key, f"{key}: title", ["name", "value"], [["a", value]], {"value": value})

    report.write(tmp_path, [section("import", "1"), section("W1", "2")], "run one", [])
    report.write(tmp_path, [section("W1", "3")], "run two", ["a note"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert list(saved["sections"]) == ["W1", "import"]
    assert saved["sections"]["W1"]["data"] == {"value": "3"}
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert markdown.startswith("run two") and "| a | 1 |" in markdown and "| a | 3 |" in markdown
    assert "- a note" in markdown


def test_time_to_accuracy_stops_at_the_target_or_the_limits():
    def setup(accuracies):  # a contender whose test accuracy after each epoch is given
        curve = iter(accuracies)
        return lambda limit: (lambda: None, lambda: next(curve))

    reached = accuracy.race(setup([0.5, 0.91, 0.95]), 0.9, max_epochs=10, budget_s=60)
    assert reached["reached"] and [h["accuracy"] for h in reached["history"]] == [0.5, 0.91]
    assert reached["seconds"] == reached["history"][-1]["seconds"] >= reached["setup_seconds"]
    capped = accuracy.race(setup([0.5, 0.6, 0.7]), 0.9, max_epochs=2, budget_s=60)
    assert not capped["reached"] and capped["seconds"] is None and len(capped["history"]) == 2
    out_of_time = accuracy.race(setup([0.5, 0.6]), 0.9, max_epochs=10, budget_s=0.0)
    assert not out_of_time["reached"] and len(out_of_time["history"]) == 1


def test_import_time_compares_fresh_processes():
    section = startup.run(runs=1, module="json", reference="os")
    assert set(section.data["median_seconds"]) == {"json", "os"}
    assert section.data["ratio"] > 0 and section.rows[1][2] == "1.00x"


def test_resnet8_has_the_same_weights_in_both_frameworks():
    import deepglass
    workload = next(w for w in all_workloads("smoke") if w.name == "W4")
    trainable = lambda model: sum(p.numel() for p in model.parameters() if p.requires_grad)  # noqa: E731
    # stem 3*3*3*16 + BN 2*16; blocks (16: 2*(9*16*16 + 32)), (32: 9*16*32 + 9*32*32 + 16*32 + 3*64),
    # (64: 9*32*64 + 9*64*64 + 32*64 + 3*128); Dense 64*10 + 10
    expected = 432 + 32 + 4672 + 14528 + 57728 + 650
    assert trainable(keras_model(deepglass, workload)) == trainable(torch_model(workload)) == expected
    assert torch_model(workload)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_a_library_without_a_layer_is_reported_not_fatal():
    library = types.ModuleType("oldlib")
    library.layers, library.Input = types.SimpleNamespace(Dense=None), lambda shape: None
    workload = next(w for w in all_workloads("smoke") if w.name == "W8")
    with pytest.raises(Unavailable, match="oldlib.layers.LSTM does not exist"):
        keras_model(library, workload)
