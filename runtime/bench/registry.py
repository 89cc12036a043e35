"""The benchmarks `poolscope bench` knows, imported only when run (each pulls in what it needs)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from runtime.bench.report import BenchResult

# name -> module under runtime.bench defining `run(quick: bool) -> BenchResult`, in run order
BENCHES: dict[str, str] = {
    "throughput": "throughput",
    "telemetry": "telemetry_overhead",
    "mamba": "mamba_strategies",
    "parser": "parser_speed",
    "decode": "decode_step",
    "scrape": "scrape_latency",
    "loadgen": "loadgen_latency",
    "soak": "soak",
}


def runner(name: str) -> Callable[[bool], BenchResult]:
    if name not in BENCHES:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHES)}")
    module = importlib.import_module(f"runtime.bench.{BENCHES[name]}")
    return module.run
