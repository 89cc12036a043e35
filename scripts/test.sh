#!/usr/bin/env bash
# Set up the virtualenv, then run the whole test suite (slow tests included).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/model -q`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
