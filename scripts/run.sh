#!/usr/bin/env bash
# Set up the virtualenv, then serve the built-in default model on http://127.0.0.1:8000 (Ctrl-C stops).
# Extra arguments go to `poolscope serve`, e.g. `bash scripts/run.sh --port 9000 --mem-check busy`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --no-test
exec .venv/bin/poolscope serve --model default "$@"
