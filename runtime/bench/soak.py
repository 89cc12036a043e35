"""Soak benchmark: a real server (the default model on small pools, busy checker) under a mixed
load from a child process (soak_load.py) for a while, sampling the server process's RSS and
every pool's slot partition. Prints the samples, the RSS slope after warm-up (MB per 1,000
client actions and per minute), and what the clients got (answers by class, aborts for memory).
Target: the slope after warm-up stays under SLOPE_TARGET_MB_PER_1K.

    poolscope bench soak [--quick]          # 240 s (--quick: 20 s)
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.bench.report import BenchResult, Target
from runtime.bench.soak_load import LoadShape, SoakLoad
from runtime.config import bound_onednn_cache
from runtime.engine.config import EngineConfig
from runtime.engine.process.client import EngineClient
from runtime.engine.process.messages import EngineSummary
from runtime.memory.checker import CheckMode
from runtime.model.default_model import ensure_default_model
from runtime.server.app import ServerSettings
from runtime.server.serve import RunningServer
from telemetry.logs.logging import LogSettings, configure_logging, reset_logging
from telemetry.pool_stats import PoolStats

SLOPE_TARGET_MB_PER_1K = 2.0
WARMUP_FRACTION = 0.4  # samples before this share of the run are warm-up
FULL_S, QUICK_S = 240.0, 20.0


@dataclass(frozen=True)
class Sample:
    t_s: float
    actions: int
    rss_mb: float
    pools: dict[str, dict[str, int]]


def rss_mb(pid: int | None = None) -> float:
    """A process's resident set (VmRSS), MB: this one's, or `pid`'s."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two distinct xs)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def _partition(stats: PoolStats) -> dict[str, dict[str, int]]:
    return {name: {"available": p.available, "evictable": p.evictable, "protected": p.protected,
                   "session_held": p.session_held, "running": p.running}
            for name, p in stats.pools.items()}


def _engine(cache: Path) -> EngineConfig:
    bound_onednn_cache()  # as Engine.from_config does, but before the default model is built
    return EngineConfig(model=str(ensure_default_model(cache)), full_tokens=2048,
                        swa_tokens=1024, mamba_slots=24, max_sessions=16,
                        mem_check=CheckMode.BUSY, session_min_idle_s=0.5)


def _soak(config: EngineConfig, duration_s: float, interval_s: float, quick: bool) -> dict:
    server = RunningServer(config, ServerSettings(host="127.0.0.1", port=0))
    url = server.start()
    assert server.engine.ready is not None
    shape = LoadShape(num_clients=4 if quick else 12, max_prompt=200, max_tokens=32,
                      vocab_size=server.engine.ready.vocab_size)
    load = SoakLoad(url, shape)
    samples: list[Sample] = []
    start = time.monotonic()
    try:
        while (now := time.monotonic() - start) < duration_s:
            # RSS of both processes: the frontend's and the engine's
            engine = asyncio.run(server.engine.inspect())
            samples.append(Sample(round(now, 1), load.counts.read()["actions"],
                                  rss_mb() + rss_mb(server.engine.pid), _partition(engine.stats)))
            time.sleep(interval_s)
    finally:
        load.close()
        final = _settled(server.engine)
        server.stop()
    return {"samples": samples, "counts": load.counts.read(), "idle": _partition(final.stats),
            "engine": final}


def _settled(engine: EngineClient, timeout_s: float = 30.0) -> EngineSummary:
    """The engine's summary once the aborted clients' requests are gone and it went idle (or
    after `timeout_s`, as it is then)."""
    deadline = time.monotonic() + timeout_s
    while True:
        summary = asyncio.run(engine.inspect())
        if (summary.num_requests == 0 and summary.is_idle) or time.monotonic() > deadline:
            return summary
        time.sleep(0.1)


def _summary(data: dict) -> tuple[dict, dict]:
    samples: list[Sample] = data["samples"]
    warm = [s for s in samples if s.t_s >= WARMUP_FRACTION * samples[-1].t_s] or samples
    per_action = slope([s.actions for s in warm], [s.rss_mb for s in warm]) * 1000
    per_minute = slope([s.t_s for s in warm], [s.rss_mb for s in warm]) * 60
    counts, engine = data["counts"], data["engine"]
    summary = {"actions": counts["actions"], "answers ok": counts["ok"], "4xx": counts["4xx"],
               "5xx": counts["5xx"], "streams dropped": counts["dropped"],
               "oom aborts": engine.num_out_of_memory,
               "queue timeouts": engine.num_queue_timeouts,
               "session evictions": engine.num_session_evictions,
               "leaks counted": sum(engine.leak_counts.values()),
               "rss start MB": samples[0].rss_mb, "rss end MB": samples[-1].rss_mb,
               "slope MB/1k actions": per_action, "slope MB/min": per_minute}
    return summary, {"warm_samples": len(warm), "idle_partition": data["idle"]}


def _row(sample: Sample) -> dict:
    row: dict = {"t s": sample.t_s, "actions": sample.actions, "rss MB": sample.rss_mb}
    for name, part in sample.pools.items():
        row[name] = "/".join(str(part[k]) for k in part)
    return row


def run(quick: bool, duration_s: float | None = None) -> BenchResult:
    duration = duration_s or (QUICK_S if quick else FULL_S)
    with tempfile.TemporaryDirectory(prefix="poolscope-soak-") as tmp, \
            open(os.devnull, "w") as devnull:
        configure_logging(LogSettings(format="json", file=Path(tmp) / "server.jsonl"), devnull)
        try:
            data = _soak(_engine(Path(tmp)), duration, max(1.0, duration / 40), quick)
        finally:
            reset_logging()
    summary, details = _summary(data)
    rows = [_row(s) for s in data["samples"]]
    details |= {"summary": summary, "columns_note": "pool cells: available/evictable/"
                "protected/session_held/running", "load_avg_1m": os.getloadavg()[0]}
    note = "RSS still grows after warm-up: see details.summary and the samples"
    targets = [Target("RSS slope after warm-up, MB per 1k actions",
                      summary["slope MB/1k actions"], "<=", SLOPE_TARGET_MB_PER_1K, note)]
    result = BenchResult("soak", list(rows[0]), rows, targets, details, is_quick=quick)
    result.rows.append({"t s": "summary", "actions": summary["actions"],
                        "rss MB": f"{summary['slope MB/1k actions']:+.2f} MB/1k"})
    return result
