"""Tests of the runnable examples in examples/: each imports its script and runs `main(["--quick", ...])`."""
