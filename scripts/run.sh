#!/usr/bin/env bash
# Set up the virtualenv, then run the runtime on the built-in default model.
# Extra arguments go to `poolscope generate`, e.g. `bash scripts/run.sh --prompt "Hello"`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --no-test
exec .venv/bin/poolscope generate --model default "$@"
