#!/usr/bin/env bash
# Sets everything up, then trains the demo CNN: `bash scripts/demo.sh` (extra arguments go to `deepglass demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "plot,data"
exec .venv/bin/deepglass demo "$@"
