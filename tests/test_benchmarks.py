"""The benchmark suite runs end to end (speed itself is measured by running it, not here)."""
import json

from benchmarks.__main__ import main


def test_quick_run_writes_a_table_and_json(tmp_path):
    main(["--quick", "--repeats", "1", "--workloads", "W5", "--contenders", "deepglass,torch (tutorial)",
          "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    rows = next(iter(results["results"].values()))["contenders"]
    assert set(rows) == {"deepglass", "torch (tutorial)"}
    assert rows["torch (tutorial)"]["ratio_to_tutorial"] == 1.0
    assert all(row["ms_per_step"] > 0 for row in rows.values())
    assert "| deepglass |" in (tmp_path / "RESULTS.md").read_text()
