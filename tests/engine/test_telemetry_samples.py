"""EngineTelemetry's bound series and one-pass batches record exactly the samples that one
`Metrics.add` / `Metrics.record` call per figure gives."""

from __future__ import annotations

import dataclasses

from prometheus_client import generate_latest

from runtime.engine.observer import Record, deliver
from runtime.engine.records import (
    CheckCount,
    CounterDeltas,
    FinishedRecord,
    LeakCount,
    PoolCount,
    StepRecord,
)
from runtime.engine.telemetry import EngineTelemetry
from runtime.memory.checker import CheckMode, LeakKind
from runtime.memory.pool_name import PoolName
from runtime.scheduler.outcomes import FinishReason, Phase
from telemetry import catalog
from telemetry.metrics.meters import Metrics, MetricsSettings
from tests.engine.record_samples import ONE_OF_EACH

SETTINGS = MetricsSettings(model="m", pools=("full", "swa", "mamba"),
                           cache_pools=("full", "swa", "mamba"))
STEP, FINISHED = ONE_OF_EACH[0], ONE_OF_EACH[2]
assert isinstance(STEP, StepRecord) and isinstance(FINISHED, FinishedRecord)
OTHER_LABELS = CounterDeltas(  # label values besides those of ONE_OF_EACH's counts
    checks=(CheckCount(PoolName.MAMBA, CheckMode.IDLE, 2), CheckCount(PoolName.FULL,
                                                                      CheckMode.IDLE, 1)),
    leaks=(LeakCount(PoolName.MAMBA, LeakKind.DOUBLE_FREE, 1),),
    prefix_hit_tokens=(PoolCount(PoolName.FULL, 64), PoolCount(PoolName.MAMBA, 1)),
    evicted=(PoolCount(PoolName.SWA, 5),),
)
RECORDS: list[Record] = [
    *ONE_OF_EACH,
    dataclasses.replace(STEP, phase=Phase.PREFILL, num_tokens=40, ttfts=(0.1, 0.25, 0.3),
                        itls=()),
    *(dataclasses.replace(STEP, counts=CounterDeltas(), retracted=(), num_generated=32,
                          duration_s=0.03 + i * 1e-3,
                          itls=tuple(0.03 + (i * 32 + j) * 1e-4 for j in range(32)))
      for i in range(5)),
    dataclasses.replace(STEP, counts=OTHER_LABELS),
    dataclasses.replace(FINISHED, finish_reason=FinishReason.STOP, e2e_s=0.7),
    *ONE_OF_EACH,
]


def _one_call_per_figure(m: Metrics, record: Record) -> None:
    """What each record means, written out one Metrics call per figure."""
    if isinstance(record, FinishedRecord):
        m.add(catalog.REQUESTS_FINISHED, 1, reason=record.finish_reason.value)
        m.record(catalog.REQUEST_E2E, record.e2e_s)
    if isinstance(record, StepRecord):
        m.record(catalog.STEP_DURATION, record.duration_s, phase=record.phase.value)
        if record.phase is Phase.PREFILL:
            m.add(catalog.TOKENS_PROMPT, record.num_tokens)
        m.add(catalog.TOKENS_GENERATED, record.num_generated)
        for ttft in record.ttfts:
            m.record(catalog.REQUEST_TTFT, ttft)
        for itl in record.itls:
            m.record(catalog.REQUEST_ITL, itl)
    counts = getattr(record, "counts", None)
    if counts is None:
        return
    for c in counts.checks:
        m.add(catalog.MEMORY_CHECKS, c.n, pool=c.pool.value, mode=c.mode.value)
    for lc in counts.leaks:
        m.add(catalog.MEMORY_LEAKS, lc.n, pool=lc.pool.value, kind=lc.leak_kind.value)
    for h in counts.prefix_hit_tokens:
        m.add(catalog.TOKENS_CACHED, h.n, pool=h.pool.value)
    for e in counts.evicted:
        m.add(catalog.POOL_EVICTED, e.n, pool=e.pool.value)
    m.add(catalog.PREFIX_CACHE_QUERIES, counts.prefix_queries)
    m.add(catalog.MAMBA_TRACK_ALLOC_FAILURES, counts.track_alloc_failures)
    m.add(catalog.SESSIONS_EVICTED, counts.session_evictions)
    m.add(catalog.REQUESTS_RETRACTED, counts.retracted)


def _counters_and_histograms(m: Metrics) -> list[str]:
    """Exposition lines of counters and histograms (gauges read a snapshot; `_created` lines
    carry construction times)."""
    text = generate_latest(m.registry).decode()
    kept = ("_total", "_bucket", "_sum", "_count")
    return [line for line in text.splitlines()
            if not line.startswith("#") and "_created" not in line
            and line.split("{")[0].split(" ")[0].endswith(kept)]


def test_engine_telemetry_records_what_one_call_per_figure_records() -> None:
    """Fed every record kind, prefill TTFTs and decode steps of 32 ITLs, with scrapes between,
    EngineTelemetry's counters and histograms equal one Metrics call per figure."""
    ours, reference = Metrics(SETTINGS), Metrics(SETTINGS)
    observer = EngineTelemetry(ours, decode_log_interval=1000)
    try:
        for i, record in enumerate(RECORDS):
            deliver(observer, record)
            _one_call_per_figure(reference, record)
            if i % 4 == 0:
                assert _counters_and_histograms(ours) == _counters_and_histograms(reference)
        lines = _counters_and_histograms(ours)
        assert lines == _counters_and_histograms(reference)
        assert any(line.startswith("poolscope_request_inter_token_latency_seconds_count")
                   and line.endswith(" 163.0") for line in lines)  # 3 + 5 * 32 samples
    finally:
        ours.shutdown()
        reference.shutdown()
