#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: `bash scripts/test.sh` (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev"
# Real Fashion-MNIST for the end-to-end test, from Debian's package, where we may install it.
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
    || echo "could not install dataset-fashion-mnist; the Fashion-MNIST test will be skipped"
fi
export KERAS_BACKEND=torch
exec .venv/bin/python -m pytest "$@"
