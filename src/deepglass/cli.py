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
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
