"""The benchmark suite runs end to end (speed itself is measured by running it, not here)."""
import json
import os
import time
import types

import pytest
import torch

import benchmarks
from benchmarks import accuracy, contenders, devices, overhead, report, speed, startup, targets, timing
from benchmarks.__main__ import main, parse
from benchmarks.workloads import Unavailable, all_workloads, keras_model, torch_model

FAST = "deepglass,torch (tutorial),torch (tuned)"  # Keras and Lightning take seconds to import


def test_smoke_run_of_every_part_writes_tables_and_json(tmp_path):
    main(["--smoke", "--threads", "1", "--device", "cpu", "--workloads", "W4,W5,W6,W8,L1,feed,I1", "--contenders", FAST,
          "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    sections = saved["sections"]
    assert saved["device"] == {"type": "cpu"} and ", device cpu, " in saved["header"]
    assert list(sections) == ["W4", "W5", "W6", "W8", "L1", "F1", "F2", "F3", "I1"]
    w5 = sections["W5"]["data"]["contenders"]
    assert set(w5) == {"deepglass", "torch (tutorial)", "torch (tuned)"}
    assert w5["torch (tutorial)"]["ratio"] == 1.0
    assert all(row["ms_per_step"] > 0 for row in w5.values())
    assert sections["W5"]["columns"][-1] == "extra peak RSS (MB)" and sections["W5"]["data"]["device"]["type"] == "cpu"
    assert not any("gpu" in key for row in w5.values() for key in row)
    work = sections["W5"]["data"]["operators_ms_per_step"]
    assert work > 0 and sections["W5"]["data"]["overhead"] == pytest.approx(
        {name: row["ms_per_step"] - work for name, row in w5.items()})
    assert any(note.startswith("target: deepglass's overhead at most 1.2x") for note in sections["W5"]["notes"])
    w5_targets = [note for note in sections["W5"]["notes"] if note.startswith("target: deepglass at")]
    assert w5_targets[0].startswith("target: deepglass at most 1.05x the tuned loop's time (")
    assert w5_targets[1] == "target: deepglass at least 2x faster than Keras 3 (not measured: keras 3 did not run)"
    assert not any(note.startswith("target:") for note in sections["L1"]["notes"])  # a probe, not a workload
    w6 = sections["W6"]["data"]["contenders"]
    assert set(w6) == {f"{who} {mode}" for who in ("deepglass", "torch (inference_mode)")
                       for mode in ("predict", "evaluate")}
    assert w6["torch (inference_mode) evaluate"]["ratio"] == 1.0
    assert [note.split(" at most")[0] for note in sections["W6"]["notes"] if note.startswith("target:")] == \
        ["target: deepglass predict", "target: deepglass evaluate"]
    assert "deepglass" in sections["W8"]["data"]["contenders"] or "skipped" in " ".join(sections["W8"]["notes"])
    assert set(sections["L1"]["data"]["contenders"]) == {"deepglass", "torch (tutorial)", "torch (tuned)"}
    assert sections["F3"]["data"]["peak_rss_mb"] > sections["F3"]["data"]["rss_before_fit_mb"] > 0
    assert set(sections["F2"]["data"]["ratios"]) == {"0", "2"}
    i1 = sections["I1"]["data"]["ms_per_step"]
    assert set(i1) == {"fit", "fit with Monitor(every_n_steps=50)", "fit with Monitor(every_n_steps=1)"}
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "| deepglass |" in markdown and "### F3:" in markdown
    assert markdown.startswith(saved["header"]) and devices.current().type == "cpu"
    assert saved["notes"][-1].startswith("this run took ") and "(W4 " in saved["notes"][-1]


def test_auto_picks_cuda_when_present_and_a_gpu_run_writes_to_its_own_folder(monkeypatch):
    results = os.path.join(os.path.dirname(benchmarks.__file__), "results")
    assert parse([]).device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert parse(["--device", "cpu"]).out == results
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    args = parse([])
    assert args.device == "cuda" and args.out == os.path.join(results, "gpu")
    assert parse(["--device", "cuda", "--out", "elsewhere"]).out == "elsewhere"
    assert parse(["--smoke"]).out.endswith("deepglass-benchmarks-smoke-gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_asked_for_without_cuda_is_a_usage_error_naming_the_problem(capsys):
    with pytest.raises(SystemExit) as stop:
        parse(["--device", "cuda"])
    error = capsys.readouterr().err
    assert stop.value.code == 2
    assert "--device cuda: CUDA is not available to torch" in error and "use --device cpu" in error


@pytest.fixture
def fake_cuda(monkeypatch):
    """The CUDA calls of the timing code recorded instead of made: `log` lists synchronisations and runs; the
    allocator has 100 MB allocated and `memory["peak"]` as its peak."""
    log, memory = [], {"now": 100 * 2 ** 20, "peak": 0}
    monkeypatch.setattr(devices, "is_cuda", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: log.append("sync"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: memory.update(peak=memory["now"]))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: memory["now"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: memory["peak"])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "a GPU")
    return log, memory


def test_on_cuda_the_clock_waits_for_the_gpu_and_each_run_reports_its_peak_gpu_memory(fake_cuda):
    log, memory = fake_cuda
    rises = iter([30, 50, 10])  # MB each call allocates beyond what was there: warm-up, then two repetitions

    def run():
        log.append("run")
        memory["peak"] += next(rises) * 2 ** 20
    timed = timing.measure({"a": run}, repeats=2)
    assert log == ["sync", "run", "sync"] * 3  # the warm-up is timed too (its time holds one-time costs)
    assert timed["a"]["peak_gpu_mb"] == 150 and timed["a"]["peak_extra_gpu_mb"] == 50  # the larger repetition


def test_on_cuda_the_speed_table_has_the_gpu_memory_columns(fake_cuda):
    workload = next(w for w in all_workloads("smoke") if w.name == "W5")
    section = speed.run_workload(workload, ["torch (tutorial)", "torch (tuned)"], repeats=1)
    assert section.columns[-4:] == ["extra peak RSS (MB)", "peak GPU memory (MB)", "extra peak GPU memory (MB)",
                                    "own peak GPU memory (MB)"]
    assert [row[-3:] for row in section.rows] == [["100", "0", "0"], ["100", "0", "0"]]
    assert section.data["device"]["name"] == "a GPU" and "peak GPU memory:" in section.notes[-1]


def test_own_gpu_memory_adds_what_a_contender_keeps_between_runs_to_its_rise(fake_cuda, monkeypatch):
    log, memory = fake_cuda
    mb = 2 ** 20

    def keeps_its_data(workload):  # 20 MB of data on the GPU when prepared, 5 MB of state made by its first run
        memory["now"] += 20 * mb
        made_state = []

        def epoch():
            if not made_state:
                memory["now"] += 5 * mb
                made_state.append(True)
            memory["peak"] = max(memory["peak"], memory["now"] + 30 * mb)  # 30 MB of activations, then freed
        return epoch
    monkeypatch.setitem(contenders.CONTENDERS, "torch (tuned)", keeps_its_data)
    workload = next(w for w in all_workloads("smoke") if w.name == "W3")
    row = speed.run_workload(workload, ["torch (tuned)"], repeats=2).data["contenders"]["torch (tuned)"]
    assert row["peak_extra_gpu_mb"] == 30 and row["peak_own_gpu_mb"] == 55


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


def test_operator_time_leaves_out_the_python_around_the_operators():
    a = torch.randn(64, 64)

    def operators_then_python(pause):
        def run():
            for _ in range(20):
                torch.mm(a, a).relu()  # relu is an outermost operator too; mm's own inner calls are inside mm
            time.sleep(pause)
        return run

    quick = overhead.operator_ms(operators_then_python(0.0), steps=2, repeats=3)
    slow = overhead.operator_ms(operators_then_python(0.05), steps=2, repeats=3)
    assert 0 < quick and slow < 2 * quick + 1  # the 25 ms per step of sleeping is not operator time


def test_device_time_counts_each_kernel_once():
    from torch.autograd import DeviceType

    def event(device_type, microseconds, annotation=False):
        return types.SimpleNamespace(device_type=device_type, device_time_total=microseconds,
                                     is_user_annotation=annotation)
    # an operator's own time on the device repeats its kernel's; an annotation's range spans kernels
    events = [event(DeviceType.CPU, 300.0), event(DeviceType.CUDA, 300.0), event(DeviceType.CUDA, 200.0),
              event(DeviceType.CUDA, 500.0, annotation=True)]
    assert overhead.device_seconds(events) == pytest.approx(500e-6)


def test_overheads_are_times_above_the_operators_against_the_tuned_loop():
    data, notes = overhead.overheads({"deepglass": 0.5, "torch (tuned)": 0.45}, 0.25, "torch (tuned)")
    assert data == pytest.approx({"deepglass": 0.25, "torch (tuned)": 0.2})
    assert "overhead of deepglass: 0.250 ms per step, 1.25x the tuned loop's" in notes
    assert notes[-1] == "target: deepglass's overhead at most 1.2x the tuned loop's (missed: 1.25x)"


def test_no_overhead_ratio_to_a_tuned_loop_faster_than_its_operators():
    _, notes = overhead.overheads({"deepglass": 0.2, "torch (tuned)": 1.1}, 1.4, "torch (tuned)")
    assert "overhead of deepglass: -1.200 ms per step" in notes
    assert notes[-1] == "target: not judged, since the tuned loop's step took no longer than its operators"


def test_speed_targets_say_met_or_missed_with_the_ratio_each_compares():
    ms = {"deepglass": 5.0, "torch (tuned)": 5.0, "torch (tutorial)": 6.0, "keras 3": 9.0, "lightning": 4.0}
    notes = targets.training_notes("W1", ms, operator_ms=lambda: 4.6)
    assert notes == [
        "target: deepglass at most 1.05x the tuned loop's time (met: 1.00x)",
        "target: deepglass at most 0.8x the tutorial loop's time (missed: 0.83x)",
        "target: deepglass at least 2x faster than Keras 3 (missed: 1.80x faster; 2x needs at most 4.50 ms a step, "
        "and the workload's operators alone take 4.60 ms a step on the tuned loop, measured inside them, under "
        "torch.profiler)",
        "target: deepglass faster than Lightning (missed: 0.80x faster)"]
    assert targets.training_notes("W2", {**ms, "deepglass": 5.3}, operator_ms=None)[:2] == [
        "target: deepglass at most 1.05x the tuned loop's time (missed: 1.06x)",
        "target: deepglass at least 1.2x faster than Keras 3 (met: 1.70x faster)"]


def test_the_operators_are_profiled_only_for_a_missed_keras_target():
    profiled = []

    def operator_ms():
        profiled.append(True)
        return 1.0
    met = {"deepglass": 1.0, "torch (tuned)": 1.0, "keras 3": 2.5}
    targets.training_notes("W5", met, operator_ms)
    targets.training_notes("W8", {**met, "keras 3": 1.1}, operator_ms)  # W8 has no Keras target
    assert not profiled
    targets.training_notes("W5", {**met, "keras 3": 1.5}, operator_ms)
    assert profiled == [True]


def test_the_inference_target_compares_predict_and_evaluate_with_the_inference_loop():
    ms = {"deepglass predict": 1.0, "loop predict": 1.0, "deepglass evaluate": 1.1, "loop evaluate": 1.0}
    assert targets.inference_notes(ms, "loop") == [
        "target: deepglass predict at most 1.05x the inference loop's time (met: 1.00x)",
        "target: deepglass evaluate at most 1.05x the inference loop's time (missed: 1.10x)"]


def test_lightning_keeps_the_cuda_caches_of_the_contenders_after_it(monkeypatch):
    accelerators = pytest.importorskip("lightning.pytorch.accelerators")
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    with contenders.keeping_cuda_caches():
        accelerators.CUDAAccelerator().teardown()
    assert emptied == []
    accelerators.CUDAAccelerator().teardown()  # outside the benchmark's Trainer runs, Lightning's own behaviour
    assert emptied == [True]


def test_short_runs_get_more_repetitions_until_each_has_run_min_seconds(monkeypatch):
    clock = iter(range(10 ** 6))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock) / 8)  # each run takes 1/8 s
    runs = {"a": lambda: None, "b": lambda: None}
    assert [timing.repetitions(timing.measure(runs, repeats=3, min_seconds=s)) for s in (0.0, 0.25, 1.0)] == [3, 3, 8]
    assert timing.repetitions(timing.measure(runs, repeats=3, min_seconds=10 ** 6)) == timing.MAX_REPEATS


def test_the_smoke_run_makes_one_repetition_and_a_full_run_asks_for_a_second_of_runs():
    assert (parse(["--smoke"]).min_seconds, parse([]).min_seconds, parse(["--min-seconds", "3"]).min_seconds) == \
        (0.0, 1.0, 3.0)
