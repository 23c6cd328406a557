#!/usr/bin/env bash
# Creates .venv (if needed) and installs deepglass into it with the extras named in $1 (e.g. "plot,data").
# PyTorch comes first, as a CPU build, when the environment has none: set TORCH_SPEC to choose another
# (for example TORCH_SPEC="torch" for the default build of your platform).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "installing ${TORCH_SPEC:-torch==2.13.0} ..."
  "${pip[@]}" "${TORCH_SPEC:-torch==2.13.0}"
fi
echo "installing deepglass${extras:+[$extras]} ..."
"${pip[@]}" -e ".${extras:+[$extras]}"
