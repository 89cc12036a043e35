"""Micro-benchmark of one `/metrics` render on a registry filled as a busy server's is: every
catalog metric, every pool's label sets, histograms with samples, 64 requests running.

    python -m telemetry.metrics.render_bench [--renders N] [--path served|generic] [--profile]

Prints the median and quartiles of N renders by the path `GET /metrics` serves (`exposition`) or
by prometheus_client's `generate_latest` on the same registry (`generic`, the path before).
Instruction counts: run under `valgrind --tool=callgrind` with N and with 0 renders; the
difference over N is one render's.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import time
from collections.abc import Callable

from prometheus_client import generate_latest

from telemetry import catalog
from telemetry.catalog import Instrument
from telemetry.metrics.exposition import exposition
from telemetry.metrics.gauges import GaugeSnapshot
from telemetry.metrics.meters import Metrics, MetricsSettings
from telemetry.pool_stats import PoolPartition, PoolStats

NUM_RUNNING = 64


def busy_stats(seed: int = 0) -> PoolStats:
    """Every pool live and partly used, as under a load of 64 requests."""
    rng = random.Random(seed)
    pools = {}
    for pool in catalog.POOLS:
        capacity = rng.randint(1000, 100_000)
        parts = [rng.randint(0, capacity // 5) for _ in range(4)]
        pools[pool] = PoolPartition(capacity, *parts, capacity - sum(parts))
    return PoolStats(pools=pools)


def busy_metrics(seed: int = 0) -> Metrics:
    """Metrics with all pools, non-zero counters and histograms with samples in every bucket."""
    rng = random.Random(seed)
    metrics = Metrics(MetricsSettings(model="poolscope-hybrid"))
    for spec in catalog.METRICS:
        for labels in metrics.label_sets(spec):
            if spec.instrument is Instrument.COUNTER:
                metrics.add(spec, rng.randint(1, 10_000), **labels)
            elif spec.instrument is Instrument.HISTOGRAM:
                for _ in range(200):
                    metrics.record(spec, rng.expovariate(1 / spec.buckets[len(spec.buckets) // 2]),
                                   **labels)
    metrics.snapshot = GaugeSnapshot(
        busy_stats(seed), leaked_slots={p: 0 for p in catalog.POOLS}, num_running=NUM_RUNNING,
        num_queued=3, num_sessions=5, gen_throughput=1234.5,
    )
    return metrics


PATHS: dict[str, Callable[[Metrics], bytes]] = {
    "served": lambda m: exposition(m.registry),
    "generic": lambda m: generate_latest(m.registry),
}


def median_seconds(fn: Callable[[], object], renders: int) -> tuple[float, float, float]:
    times = []
    for _ in range(renders):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    q1, q2, q3 = statistics.quantiles(times, n=4)
    return q1, q2, q3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=500)
    parser.add_argument("--path", choices=sorted(PATHS), default="served")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--count-only", action="store_true", help="no timing (for callgrind)")
    args = parser.parse_args()
    metrics, render = busy_metrics(), PATHS[args.path]
    body = render(metrics)
    if args.count_only:
        for _ in range(args.renders):
            render(metrics)
        return
    q1, q2, q3 = median_seconds(lambda: render(metrics), args.renders)
    lines = body.count(b"\n")
    print(f"{len(body)} bytes, {lines} lines; render median {q2 * 1e3:.3f} ms "
          f"(q1 {q1 * 1e3:.3f}, q3 {q3 * 1e3:.3f}) over {args.renders}")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(lambda: [render(metrics) for _ in range(100)])
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
