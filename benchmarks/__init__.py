"""deepglass's benchmark suite: `python -m benchmarks` (see README.md in this folder)."""
