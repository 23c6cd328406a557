"""The `deepglass` command: `deepglass demo`, `deepglass info`, `deepglass --version`."""
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


def main(argv=None):
    """Entry point of the `deepglass` command."""
    import deepglass
    parser = argparse.ArgumentParser(prog="deepglass", description="The Keras API on PyTorch, with insight.")
    parser.add_argument("--version", action="version", version=f"deepglass {deepglass.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train a small CNN on the 8x8 digits and write its learning curves")
    demo.add_argument("--output", default="deepglass-demo", help="folder for learning_curves.png and summary.txt")
    demo.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    info = commands.add_parser("info", help="versions, device and threads")
    info.set_defaults(run=_info)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
