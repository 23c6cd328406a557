#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite and builds the documentation site strictly:
# `bash scripts/test.sh`. Extra arguments go to pytest, and then only the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev,docs"
# Real Fashion-MNIST for the end-to-end test, from Debian's package, where we may install it.
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
    || echo "could not install dataset-fashion-mnist; the Fashion-MNIST test will be skipped"
fi
export KERAS_BACKEND=torch
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
.venv/bin/python -m pytest
# A broken link or anchor, a page missing from the nav, or a docstring the API reference cannot read fails the run.
site="$(mktemp -d)"
trap 'rm -rf "$site"' EXIT
echo "building the documentation (mkdocs build --strict) ..."
NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict --site-dir "$site"
