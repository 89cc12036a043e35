#!/usr/bin/env bash
# Set up the virtualenv (with the test extras: the throughput benchmark runs transformers), then run
# every benchmark: tables on stdout, JSON in bench/results/. Arguments go to `poolscope bench`,
# e.g. `bash scripts/bench.sh parser scrape` or `bash scripts/bench.sh --quick`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/poolscope bench "$@"
