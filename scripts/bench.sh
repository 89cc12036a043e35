#!/usr/bin/env bash
# Set up the virtualenv (with the test extras: the throughput benchmark runs transformers), then run
# every benchmark: tables on stdout, JSON in bench/results/, and at the end one targets table
# (met / MISSED side by side, also bench/results/targets.json). Arguments go to `poolscope bench`,
# e.g. `bash scripts/bench.sh parser scrape` or `bash scripts/bench.sh --quick`.
# `bash scripts/bench.sh loadgen` alone is the before/after latency check of the server: it starts
# `poolscope serve` on 127.0.0.1 and runs the README's loadgen command against it 3 times.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/poolscope bench "$@"
