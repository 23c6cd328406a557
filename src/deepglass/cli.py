"""The `deepglass` command: `deepglass demo`, `deepglass report`, `deepglass info`, `deepglass --version`."""
import argparse
import sys


def _info(args):
    import os
    import platform

    import numpy
    import torch

    import deepglass
    print(f"deepglass {deepglass.__version__}")
    print(f"python    {platform.python_version()} ({sys.executable})")
    print(f"torch     {torch.__version__}")
    print(f"numpy     {numpy.__version__}")
    print(f"device    {deepglass.config.device()}"
          + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else ""))
    print(f"threads   {torch.get_num_threads()} torch threads on {os.cpu_count()} CPUs")
    return 0


def _demo(args):
    from deepglass.demo import run_demo
    accuracy = run_demo(args.output, epochs=args.epochs, verbose=0 if args.quiet else 1)
    return 0 if accuracy >= 0.95 else 1


def _report(args):
    import numpy as np

    from deepglass.insight.report import load_history, report
    from deepglass.saving import load_model
    x_val = y_val = None
    if args.data:
        with np.load(args.data, allow_pickle=False) as data:
            if "x_val" not in data:
                print(f"deepglass report: {args.data} holds {sorted(data.files)}, but no x_val; save the validation "
                      "data with np.savez(path, x_val=x_val, y_val=y_val).", file=sys.stderr)
                return 2
            x_val, y_val = data["x_val"], data["y_val"] if "y_val" in data else None
    model = load_model(args.model)
    history = load_history(args.history) if args.history else None
    class_names = args.class_names.split(",") if args.class_names else None
    path = report(model, history, x_val, y_val, path=args.output, class_names=class_names, title=args.title)
    print(f"wrote {path}")
    return 0


def examples_folder():
    """The folder of the runnable examples: `$DEEPGLASS_EXAMPLES` when set, else `examples/` beside the source tree of
    a repository checkout. Raises FileNotFoundError, saying where it looked and how to point it elsewhere."""
    import os
    from pathlib import Path

    import deepglass
    beside = Path(deepglass.__file__).resolve().parents[2] / "examples"
    chosen = os.environ.get("DEEPGLASS_EXAMPLES")
    if chosen:
        if Path(chosen).is_dir():
            return Path(chosen)
        raise FileNotFoundError(f"DEEPGLASS_EXAMPLES is {chosen}, which is not a folder; set it to the examples/ "
                                "folder of a deepglass checkout "
                                "(export DEEPGLASS_EXAMPLES=/path/to/deepglass/examples).")
    if beside.is_dir():
        return beside
    raise FileNotFoundError(f"No examples folder: looked for {beside} (beside the deepglass source tree) and for "
                            "$DEEPGLASS_EXAMPLES (not set); get the examples/ folder of a deepglass checkout and set "
                            "DEEPGLASS_EXAMPLES to it (export DEEPGLASS_EXAMPLES=/path/to/deepglass/examples).")


def list_examples(folder):
    """`{name: first line of its docstring}` for each `NAME.py` in `folder`, read without running any of them."""
    import ast
    found = {}
    for path in sorted(folder.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        try:
            docstring = (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()
        except SyntaxError as error:  # listed all the same: running it will show the error in full
            docstring = f"(does not parse: {error.msg}, line {error.lineno})"
        found[path.stem] = docstring.splitlines()[0] if docstring else ""
    return found


def _examples(args):
    """`deepglass examples list` and `deepglass examples run NAME [ARGUMENTS...]`."""
    import importlib.util

    from deepglass.naming import lookup
    try:
        folder = examples_folder()
    except FileNotFoundError as error:
        print(f"deepglass examples: {error}", file=sys.stderr)
        return 2
    found = list_examples(folder)
    if args.action == "list":
        width = max(map(len, found), default=0)
        for name, line in found.items():
            print(f"{name:<{width}}  {line}")
        return 0
    try:
        name = lookup("example", args.name, {name.lower(): name for name in found})
    except ValueError as error:
        print(f"deepglass examples run: {error} (examples in {folder})", file=sys.stderr)
        return 2
    path = folder / f"{name}.py"
    if not _main_takes_argv(path):
        return _run_as_script(path, args.arguments)
    spec = importlib.util.spec_from_file_location(f"deepglass_examples.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # before running it, so that dataclasses and pickling find the module
    spec.loader.exec_module(module)
    module.main(list(args.arguments))
    return 0


def _main_takes_argv(path):
    """Whether the script defines `main(argv...)`, the examples' entry point (read from its source, not run)."""
    import ast
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return bool(node.args.args) and node.args.args[0].arg == "argv"
    return False


def _run_as_script(path, arguments):
    """Run a script that has no `main(argv)` as `python PATH ARGUMENTS...` would, in this process."""
    import runpy
    saved = sys.argv
    sys.argv = [str(path), *arguments]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved
    return 0


def main(argv=None):
    """Entry point of the `deepglass` command."""
    import deepglass
    parser = argparse.ArgumentParser(prog="deepglass", description="The Keras API on PyTorch, with insight.")
    parser.add_argument("--version", action="version", version=f"deepglass {deepglass.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train a small CNN on the 8x8 digits and write its learning curves and "
                                            "training report")
    demo.add_argument("--output", default="deepglass-demo", help="folder for learning_curves.png, summary.txt and "
                                                                 "report.html")
    demo.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    report = commands.add_parser("report", help="write the HTML training report of a saved model")
    report.add_argument("model", metavar="MODEL_PATH", help="a saved model (.keras or .h5)")
    report.add_argument("--history", help="the training history as JSON (deepglass.insight.save_history, or "
                                          "json.dump(history.history))")
    report.add_argument("--data", metavar="NPZ", help="validation data: an .npz file with arrays x_val and y_val")
    report.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default report.html)")
    report.add_argument("--class-names", help="class names in class-index order, separated by commas")
    report.add_argument("--title", help="the page's title")
    report.set_defaults(run=_report)
    info = commands.add_parser("info", help="versions, device and threads")
    info.set_defaults(run=_info)
    examples = commands.add_parser("examples", help="list or run the example scripts (examples/ of a checkout, or "
                                                    "$DEEPGLASS_EXAMPLES)")
    actions = examples.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="each example's name and what it shows").set_defaults(run=_examples)
    run = actions.add_parser("run", help="run one example: deepglass examples run NAME [--quick] [--out DIR] ...")
    run.add_argument("name", metavar="NAME", help="the example's name (see deepglass examples list)")
    run.add_argument("arguments", nargs=argparse.REMAINDER, help="passed to the example's main: --quick (a "
                                                                 "seconds-long run), --out DIR, and its own options")
    run.set_defaults(run=_examples)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
