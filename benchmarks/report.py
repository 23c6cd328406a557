"""Results: each benchmark gives a Section (a table and its raw numbers); sections merge into results.json and
RESULTS.md, so running one part again replaces only that part's section."""
import dataclasses
import json
import os

ORDER = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "L1", "F1", "F2", "F3", "I1", "import")
FORMAT = 2  # results.json layout; a file of another layout is started afresh


@dataclasses.dataclass
class Section:
    key: str  # one of ORDER, e.g. "W4" or "F2"
    title: str
    columns: list
    rows: list  # formatted cells, one list per row
    data: dict  # the raw numbers behind the rows
    notes: list = dataclasses.field(default_factory=list)
    measured: str = ""  # the run that measured it (machine, torch, threads, repetitions)


def load(path):
    """The sections of an earlier results.json by key; none when it is absent or of another layout."""
    try:
        with open(path) as handle:
            saved = json.load(handle)
    except (OSError, ValueError):
        return {}
    if saved.get("format") != FORMAT:
        print(f"{path} has an older layout; its results are replaced by this run's")
        return {}
    return {key: Section(key=key, **fields) for key, fields in saved["sections"].items()}


def write(folder, sections, header, notes, device=None):
    """Merge `sections` into the results in `folder` and rewrite results.json and RESULTS.md; `device` (as
    `devices.record()` gives it) is stored with them."""
    os.makedirs(folder, exist_ok=True)
    merged = load(os.path.join(folder, "results.json"))
    merged.update({section.key: section for section in sections})
    ordered = [merged[key] for key in sorted(merged, key=_rank)]
    with open(os.path.join(folder, "results.json"), "w") as handle:
        json.dump({"format": FORMAT, "header": header, "device": device, "notes": notes,
                   "sections": {s.key: {k: v for k, v in dataclasses.asdict(s).items() if k != "key"}
                                for s in ordered}}, handle, indent=2)
    with open(os.path.join(folder, "RESULTS.md"), "w") as handle:
        handle.write(markdown(ordered, header, notes))
    return os.path.join(folder, "RESULTS.md")


def _rank(key):
    return (ORDER.index(key) if key in ORDER else len(ORDER), key)


def markdown(sections, header, notes):
    lines = [header, ""]
    for section in sections:
        lines += [f"### {section.title}", ""]
        if section.measured and section.measured != header:
            lines += [f"Measured in an earlier run: {section.measured}", ""]
        lines += [table(section.columns, section.rows), ""]
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def table(columns, rows):
    """A Markdown table; the first column left-aligned, the others (numbers) right-aligned."""
    rule = "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|"
    return "\n".join(["| " + " | ".join(columns) + " |", rule] + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def show(section):
    """Print a section's table to the terminal as the run goes."""
    print(f"{section.title}\n{table(section.columns, section.rows)}")
    for note in section.notes:
        print(f"  {note}")
    print(flush=True)
