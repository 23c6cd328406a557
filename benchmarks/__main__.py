"""Run the benchmark suite: `python -m benchmarks [--quick | --smoke] [--device cuda] [--workloads W1,F2,...]`.

Every contender runs every workload in this one process, on one device (CUDA when torch has it, unless --device
says otherwise), interleaved (the order rotates each repetition), after a warm-up epoch; the tables give the median
time per training step (or inference batch), samples per second, the ratio to the tutorial-style PyTorch loop, how
far resident memory rose during a contender's run and, on CUDA, its peak GPU memory. Besides the workloads: time to
accuracy (W7, only when named), data feeding (F1-F3), Monitor's overhead (I1) and import time. Results merge into
results.json and RESULTS.md in --out: a part run again replaces its own section only.
"""
import argparse
import os
import platform
import shlex
import sys
import tempfile
import time

import torch

from benchmarks import accuracy, contenders, devices, feeding, monitoring, report, speed, startup, timing
from benchmarks.workloads import all_workloads

PARTS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "L1", "F1", "F2", "F3", "I1", "import")
DEFAULT = tuple(part for part in PARTS if part != "W7")  # W7 takes minutes per contender: it runs when named
GROUPS = {"all": PARTS, "default": DEFAULT, "feed": ("F1", "F2", "F3")}


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a quarter of the data")
    size.add_argument("--smoke", action="store_true",
                      help="two batches per workload, one repetition, a 1 MiB memmap, tiny W7: checks that it runs")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions (default 5; 1 with --smoke)")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help=f"more repetitions, up to {timing.MAX_REPEATS}, until each contender has run this long "
                             "in all (default 1; 0 with --smoke): short runs get more samples")
    parser.add_argument("--workloads", default="default",
                        help=f"comma-separated parts of {', '.join(PARTS)}, or groups: feed (F1-F3), default "
                             "(all but W7), all")
    parser.add_argument("--contenders", default=None, help="comma-separated names, e.g. deepglass,keras 3")
    parser.add_argument("--device", choices=devices.CHOICES, default="auto",
                        help="where every contender trains and predicts (default auto: cuda when torch has it, "
                             "else cpu)")
    parser.add_argument("--out", default=None, help="where results.json and RESULTS.md go (default: "
                                                    "benchmarks/results, benchmarks/results/gpu on cuda; a "
                                                    "temporary folder with --smoke)")
    parser.add_argument("--memmap-gib", type=float, default=None, help="F3's memmap size (default 4; 1/1024 with "
                                                                       "--smoke)")
    parser.add_argument("--memmap-dir", default=None, help="where F3 writes its memmap (default: the temp folder)")
    parser.add_argument("--threads", type=int, default=None, help="torch's intra-op threads (default: torch's own "
                                                                  "choice)")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh processes per module for import time")
    parser.add_argument("--w7-target", type=float, default=0.90, help="W7's test accuracy to reach")
    parser.add_argument("--w7-max-epochs", type=int, default=10)
    parser.add_argument("--w7-budget-s", type=float, default=300.0,
                        help="W7 stops a contender at the first epoch end past this many seconds")
    args = parser.parse_args(argv)
    args.size = "smoke" if args.smoke else "quick" if args.quick else "full"
    args.repeats = args.repeats or (1 if args.smoke else 5)
    args.min_seconds = (0.0 if args.smoke else 1.0) if args.min_seconds is None else args.min_seconds
    args.memmap_gib = args.memmap_gib or (1 / 1024 if args.smoke else 4.0)
    args.parts = _parts(args.workloads, parser)
    try:
        args.device = devices.resolve(args.device)
    except ValueError as problem:
        parser.error(f"--device {args.device}: {problem}")
    args.out = args.out or _default_out(args.smoke, args.device)
    unknown = set((args.contenders or "").split(",")) - set(contenders.CONTENDERS) - {""}
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; choose from {', '.join(contenders.CONTENDERS)}")
    return args


def _default_out(smoke, device):
    """benchmarks/results, or its gpu/ folder for a CUDA run so that it never replaces the CPU results; a
    temporary folder for a smoke run."""
    gpu = device == "cuda"
    if smoke:
        return os.path.join(tempfile.gettempdir(), "deepglass-benchmarks-smoke" + ("-gpu" if gpu else ""))
    return os.path.join(os.path.dirname(__file__), "results", *(["gpu"] if gpu else []))


def _parts(text, parser):
    chosen = []
    for name in text.split(","):
        name = name.strip()
        for part in GROUPS.get(name, (name,)):
            if part not in PARTS:
                parser.error(f"unknown workload {part!r}; choose from {', '.join(PARTS)} or {', '.join(GROUPS)}")
            if part not in chosen:
                chosen.append(part)
    return [part for part in PARTS if part in chosen]


def _more(min_seconds):
    return f" or more (until each contender has run {min_seconds:g} s, at most {timing.MAX_REPEATS})" if min_seconds \
        else ""


def run_part(part, args, names, workloads):
    """One section of the results."""
    if part == "W7":
        limit = (256, 128) if args.size == "smoke" else None
        return accuracy.run(names, args.w7_target, 1 if limit else args.w7_max_epochs, args.w7_budget_s, limit)
    if part == "F1":
        return feeding.in_memory_share(workloads["W2"], args.repeats, min_seconds=args.min_seconds)
    if part == "F2":
        return feeding.loader_speed(workloads["W2"], args.repeats, min_seconds=args.min_seconds)
    if part == "F3":
        return feeding.memmap_rss(args.memmap_gib, args.memmap_dir)
    if part == "I1":
        return monitoring.monitor_overhead(workloads["W2"], args.repeats, min_seconds=args.min_seconds)
    if part == "import":
        return startup.run(args.import_runs)
    return speed.run_workload(workloads[part], names, args.repeats, min_seconds=args.min_seconds)


def main(argv=None):
    args = parse(argv)
    args.command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or threads)
    try:
        with devices.selected(args.device):
            return run(args)
    finally:
        torch.set_num_threads(threads)


def run(args):
    names, notes = contenders.available()
    if args.contenders:
        names = [n for n in names if n in args.contenders.split(",")]
    workloads = {w.name: w for w in all_workloads(args.size)}
    machine = platform.processor() or platform.machine()
    header = (f"deepglass benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, on {machine}, {os.cpu_count()} CPUs, "
              f"device {devices.describe()}, torch {torch.__version__}, {torch.get_num_threads()} threads; median "
              f"of {args.repeats} repetitions{_more(args.min_seconds)}"
              f"{'' if args.size == 'full' else f' ({args.size} size)'}; "
              f"`{args.command}`.")
    print(header, flush=True)
    for note in notes:
        print(note)
    sections, seconds = [], {}
    for part in args.parts:
        print(f"running {part} ...", flush=True)
        start = time.perf_counter()
        section = run_part(part, args, names, workloads)
        seconds[part] = time.perf_counter() - start
        section.measured = header
        report.show(section)
        sections.append(section)
    notes.append(_duration(seconds))
    print(notes[-1])
    print(f"wrote {report.write(args.out, sections, header, notes, devices.record())}")
    return sections


def _duration(seconds):
    """How long the run took, in all and per part (the suite is meant to take under 15 minutes)."""
    parts = ", ".join(f"{part} {s:.0f} s" for part, s in seconds.items())
    return f"this run took {sum(seconds.values()) / 60:.1f} minutes ({parts})"


if __name__ == "__main__":
    main()
