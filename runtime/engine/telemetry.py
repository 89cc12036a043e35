"""EngineTelemetry: turns what the engine reports into metrics and log events.

Runs on the engine thread. After each step it records the step's counters and latency samples,
brings the memory manager's cumulative counters (checks, leaks, prefix hits, evictions) over as
deltas, and swaps in a new gauge snapshot that scrapes read; it logs `prefill_batch` for every
prefill step and `decode_batch` every `decode_log_interval` decode steps, as SGLang does.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from runtime.engine.observability import DECODE_LOG_INTERVAL
from runtime.engine.observer import CheckTrigger, EngineObserver, IdleRecord
from runtime.memory.checker import LeakReport
from runtime.memory.sessions import SessionEviction
from runtime.scheduler.batch import Phase
from runtime.scheduler.request import Request
from runtime.scheduler.step_record import StepRecord
from telemetry import catalog
from telemetry.catalog import MetricSpec
from telemetry.logs.batch_fields import usage_fields
from telemetry.logs.logging import get_logger
from telemetry.metrics.gauges import GaugeSnapshot
from telemetry.metrics.meters import Metrics
from telemetry.pool_stats import PoolStats

if TYPE_CHECKING:
    from runtime.engine.engine import Engine

THROUGHPUT_WINDOW_S = 1.0  # the gauge's measurement window


class EngineTelemetry(EngineObserver):
    """Attach with `EngineTelemetry.attach(engine, metrics)`; `metrics=None` logs only."""

    def __init__(
        self,
        engine: Engine,
        metrics: Metrics | None,
        decode_log_interval: int = DECODE_LOG_INTERVAL,
    ) -> None:
        if decode_log_interval < 1:
            raise ValueError("decode_log_interval must be at least 1")
        self.engine, self.metrics = engine, metrics
        self.decode_log_interval = decode_log_interval
        self.log = get_logger("poolscope.engine")
        self._synced: Counter[tuple] = Counter()
        self._num_decode_steps = 0
        self._log_window = _Window()  # since the last decode_batch line
        self._gauge_window = _Window()
        self._throughput = 0.0
        self._is_idle = True

    @classmethod
    def attach(
        cls, engine: Engine, metrics: Metrics | None, decode_log_interval: int = DECODE_LOG_INTERVAL
    ) -> EngineTelemetry:
        observer = cls(engine, metrics, decode_log_interval)
        engine.observers.append(observer)
        engine.mm.leak_listeners.append(observer.on_leaks)
        observer.publish(engine.last_stats)
        return observer

    # -- engine hooks ---------------------------------------------------------------------

    def on_step(self, record: StepRecord) -> None:
        if self._is_idle:  # windows start with the first busy step, not while idle
            self._is_idle = False
            self._log_window = _Window(record.duration_s)
            self._gauge_window = _Window(record.duration_s)
        self._record_step(record)
        self._sync_counters()
        self._update_throughput(record.num_generated)
        self.publish(record.stats)
        if record.phase is Phase.PREFILL:
            self._log_prefill(record)
        else:
            self._num_decode_steps += 1
            if self._num_decode_steps % self.decode_log_interval == 0:
                self._log_decode(record)
        for retracted in record.retracted:
            self.log.info(catalog.REQUEST_RETRACTED.name, rid=retracted.rid,
                          prompt_tokens=retracted.prompt_tokens,
                          output_tokens=retracted.output_tokens,
                          running_req=record.num_running, queue_req=record.num_queued)

    def on_request_finished(self, req: Request) -> None:
        assert req.finish_reason is not None
        now = time.perf_counter()
        if self.metrics is not None:
            self.metrics.add(catalog.REQUESTS_FINISHED, 1, reason=req.finish_reason.value)
            self.metrics.record(catalog.REQUEST_E2E, now - req.arrival)
        ttft = None if req.first_token_at is None else round(req.first_token_at - req.arrival, 6)
        fields = {"session_id": req.session_id, "error": req.error}
        self.log.info(
            catalog.REQUEST_FINISHED.name, rid=req.rid, finish_reason=req.finish_reason.value,
            prompt_tokens=req.prompt_len, completion_tokens=len(req.output_ids),
            cached_tokens=req.cached_tokens, ttft_s=ttft, e2e_s=round(now - req.arrival, 6),
            **{k: v for k, v in fields.items() if v is not None},
        )

    def on_idle(self, record: IdleRecord) -> None:
        self._sync_counters()
        self._throughput, self._is_idle = 0.0, True
        self.publish(record.stats)
        quiet = record.trigger is CheckTrigger.PERIODIC and not record.is_changed
        if record.checked and not quiet:  # a quiet replica writes no line every few seconds
            pools = {name: _partition(part) for name, part in record.stats.pools.items()}
            self.log.info(catalog.IDLE_CHECK.name, mode="idle", trigger=record.trigger.value,
                          ok=not record.reports, num_leaks=len(record.reports),
                          pools=pools)

    def on_leaks(self, reports: list[LeakReport]) -> None:
        """Called by the memory manager's checker when an identity fails."""
        for r in reports:
            self.log.error(catalog.MEMORY_LEAK.name, pool=r.pool, mode=r.mode.value, kind=r.kind,
                           **_partition(r.terms), difference=r.difference)

    def on_session_opened(self, sid: str, num_open: int) -> None:
        self.publish(self.engine.last_stats)
        self.log.info(catalog.SESSION_OPENED.name, session_id=sid, open_sessions=num_open)

    def on_session_closed(self, sid: str, reason: str, history_tokens: int, num_open: int) -> None:
        self.publish(self.engine.mm.stats())
        self.log.info(catalog.SESSION_CLOSED.name, session_id=sid, reason=reason,
                      history_tokens=history_tokens, open_sessions=num_open)

    def on_session_evicted(self, eviction: SessionEviction) -> None:
        self.log.info(catalog.SESSION_EVICTED.name, session_id=eviction.sid,
                      idle_s=round(eviction.idle_s, 3), tokens=eviction.num_tokens,
                      open_sessions=len(self.engine.sessions))

    # -- metrics --------------------------------------------------------------------------

    def publish(self, stats: PoolStats) -> None:
        """Swaps in the snapshot the gauges read at the next scrape."""
        if self.metrics is None:
            return
        scheduler = self.engine.scheduler
        self.metrics.snapshot = GaugeSnapshot(
            stats=stats, leaked_slots=dict(self.engine.mm.leaked_slots),
            num_running=len(scheduler.running), num_queued=len(scheduler.waiting),
            num_sessions=len(self.engine.sessions), gen_throughput=self._throughput,
        )

    def _record_step(self, record: StepRecord) -> None:
        m = self.metrics
        if m is None:
            return
        m.record(catalog.STEP_DURATION, record.duration_s, phase=record.phase.value)
        if record.phase is Phase.PREFILL:
            m.add(catalog.TOKENS_PROMPT, record.num_tokens)
        m.add(catalog.TOKENS_GENERATED, record.num_generated)
        m.add(catalog.REQUESTS_RETRACTED, record.num_retracted)
        for ttft in record.ttfts:
            m.record(catalog.REQUEST_TTFT, ttft)
        for itl in record.itls:
            m.record(catalog.REQUEST_ITL, itl)

    def _sync_counters(self) -> None:
        """Adds what the memory manager's cumulative counters gained since the last sync."""
        mm = self.engine.mm
        for (pool, mode), total in mm.check_counts.items():
            self._sync(catalog.MEMORY_CHECKS, total, pool=pool, mode=mode)
        for (pool, kind), total in mm.leak_counts.items():
            self._sync(catalog.MEMORY_LEAKS, total, pool=pool, kind=kind)
        for pool, total in mm.hits.items():
            self._sync(catalog.TOKENS_CACHED, total, pool=pool)
        for pool, total in mm.cache.num_evicted.items():
            self._sync(catalog.POOL_EVICTED, total, pool=pool)
        self._sync(catalog.PREFIX_CACHE_QUERIES, mm.counters.prefix_queries)
        self._sync(catalog.MAMBA_TRACK_ALLOC_FAILURES, mm.counters.track_alloc_failures)
        self._sync(catalog.SESSIONS_EVICTED, mm.counters.session_evictions)

    def _sync(self, spec: MetricSpec, total: int, **labels: str) -> None:
        key = (spec.name, *sorted(labels.items()))
        delta = total - self._synced[key]
        if delta and self.metrics is not None:
            self.metrics.add(spec, delta, **labels)
        self._synced[key] = total

    def _update_throughput(self, num_generated: int) -> None:
        self._log_window.add(num_generated)
        self._gauge_window.add(num_generated)
        if self._gauge_window.elapsed() >= THROUGHPUT_WINDOW_S:
            self._throughput = self._gauge_window.rate()
            self._gauge_window = _Window()

    # -- logs -----------------------------------------------------------------------------

    def _log_prefill(self, record: StepRecord) -> None:
        total = record.num_tokens + record.num_cached_tokens
        hit_rate = record.num_cached_tokens / total if total else 0.0
        self.log.info(
            catalog.PREFILL_BATCH.name, new_seq=record.num_new_seqs, new_token=record.num_tokens,
            cached_token=record.num_cached_tokens, cache_hit_rate=round(hit_rate, 4),
            **usage_fields(record.stats), running_req=record.num_running,
            queue_req=record.num_queued,
        )

    def _log_decode(self, record: StepRecord) -> None:
        throughput = self._log_window.rate()
        self._log_window = _Window()
        self.log.info(
            catalog.DECODE_BATCH.name, running_req=record.num_reqs,  # the batch, as in SGLang
            **usage_fields(record.stats), graph=False, gen_throughput=round(throughput, 2),
            queue_req=record.num_queued,
        )


class _Window:
    """Tokens counted since a start time."""

    def __init__(self, started_ago_s: float = 0.0) -> None:
        self.start, self.tokens = time.perf_counter() - started_ago_s, 0

    def add(self, n: int) -> None:
        self.tokens += n

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def rate(self) -> float:
        elapsed = self.elapsed()
        return self.tokens / elapsed if elapsed > 0 else 0.0


def _partition(part: object) -> dict[str, int]:
    return {name: int(getattr(part, name)) for name in catalog.PARTITION_FIELDS}
