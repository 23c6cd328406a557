"""Run the benchmark suite: `python -m benchmarks [--quick] [--repeats N] [--workloads W1,W5] [--out DIR]`.

Every contender runs every workload in this one process, interleaved (the order rotates each repetition), after
a warm-up epoch; the table gives the median time per training step, samples per second, the ratio to the
tutorial-style PyTorch loop, and how far resident memory rose above its level at the start of the contender's run.
"""
import argparse
import json
import os
import platform
import statistics
import time

import torch

from benchmarks import contenders
from benchmarks.workloads import all_workloads


def peak_rss_reset():
    """Reset the kernel's high-water mark of this process's resident memory (Linux); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_mb(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(workload, names, repeats):
    epochs = {name: contenders.CONTENDERS[name](workload) for name in names}
    for epoch in epochs.values():
        epoch()  # warm-up
    times = {name: [] for name in names}
    memory = {name: 0.0 for name in names}
    for repeat in range(repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        for name in order:
            peak_rss_reset()
            resident = _status_mb("VmRSS")
            start = time.perf_counter()
            epochs[name]()
            times[name].append(time.perf_counter() - start)
            memory[name] = max(memory[name], _status_mb("VmHWM") - resident)
    steps = contenders.steps_per_epoch(workload)
    rows = {}
    for name in names:
        step = statistics.median(times[name]) / steps
        rows[name] = {"ms_per_step": 1000 * step, "samples_per_s": workload.batch_size / step,
                      "peak_extra_rss_mb": memory[name]}
    baseline = rows.get(contenders.BASELINE, {}).get("ms_per_step")
    for row in rows.values():
        row["ratio_to_tutorial"] = row["ms_per_step"] / baseline if baseline else None
    return rows


def markdown(results, notes, header):
    lines = [header, ""]
    for workload, rows in results.items():
        lines += [f"### {workload}", "", "| contender | ms/step | samples/s | vs tutorial loop | extra peak RSS (MB) |",
                  "|---|---:|---:|---:|---:|"]
        for name, row in rows["contenders"].items():
            ratio = f"{row['ratio_to_tutorial']:.2f}x" if row["ratio_to_tutorial"] else "-"
            lines.append(f"| {name} | {row['ms_per_step']:.2f} | {row['samples_per_s']:.0f} | {ratio} | "
                         f"{row['peak_extra_rss_mb']:.0f} |")
        lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the data: a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default=None, help="comma-separated names, e.g. W1,W5")
    parser.add_argument("--contenders", default=None, help="comma-separated names")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)
    names, notes = contenders.available()
    if args.contenders:
        names = [n for n in names if n in args.contenders.split(",")]
    chosen = args.workloads.split(",") if args.workloads else None
    results = {}
    for workload in all_workloads(quick=args.quick):
        if chosen and workload.name not in chosen:
            continue
        print(f"{workload.name}: {workload.description} ({workload.source}, {len(workload.x)} samples)", flush=True)
        rows = measure(workload, names, args.repeats)
        for name, row in rows.items():
            ratio = f"{row['ratio_to_tutorial']:.2f}x" if row["ratio_to_tutorial"] else "-"
            print(f"  {name:18s} {row['ms_per_step']:8.2f} ms/step  {ratio:>6s}  +{row['peak_extra_rss_mb']:.0f} MB peak")
        results[f"{workload.name}: {workload.description}"] = {"contenders": rows, "source": workload.source}
    header = (f"deepglass benchmarks on {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats} epochs.")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump({"header": header, "notes": notes, "results": results}, handle, indent=2)
    with open(os.path.join(args.out, "RESULTS.md"), "w") as handle:
        handle.write(markdown(results, notes, header))
    for note in notes:
        print(note)
    print(f"wrote {os.path.join(args.out, 'RESULTS.md')}")


if __name__ == "__main__":
    main()
