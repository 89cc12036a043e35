"""Reporter: builds the engine's records and hands them to its observers.

The one place that reads the engine's parts for observers: the snapshot (pools, leaked slots,
queues, sessions) and the counter deltas (via CounterTracker). With no observer attached it
builds nothing, so the counters' gains wait for the first record an observer gets.
"""

from __future__ import annotations

import time

from runtime.engine.counter_deltas import CounterTracker
from runtime.engine.observer import EngineObserver
from runtime.engine.record_builders import finished_record, step_record
from runtime.engine.records import (
    CheckTrigger,
    CloseReason,
    EngineSnapshot,
    IdleRecord,
    LeakRecord,
    SessionEvent,
    SessionRecord,
)
from runtime.memory.checker import LeakReport
from runtime.memory.manager import MemoryManager
from runtime.scheduler.batch import ScheduleResult
from runtime.scheduler.outcome_counts import OutcomeCounts
from runtime.scheduler.request import Request
from runtime.scheduler.scheduler import Scheduler
from runtime.scheduler.session_table import SessionTable
from telemetry.pool_stats import PoolStats


class Reporter:
    """Owns the observer list; reads the memory manager, scheduler, sessions and outcomes."""

    def __init__(self, mm: MemoryManager, scheduler: Scheduler, sessions: SessionTable,
                 outcomes: OutcomeCounts) -> None:
        self.mm, self.scheduler, self.sessions = mm, scheduler, sessions
        self.observers: list[EngineObserver] = []  # called on the engine thread, in order
        self._counts = CounterTracker(mm, outcomes)

    def snapshot(self, stats: PoolStats) -> EngineSnapshot:
        """What the gauges show, with `stats` as the pools' partition."""
        return EngineSnapshot(
            stats=stats, leaked_slots=dict(self.mm.leaked_slots),
            num_running=len(self.scheduler.running), num_queued=len(self.scheduler.waiting),
            num_sessions=len(self.sessions),
        )

    def check(self, *, idle: bool) -> list[LeakReport]:
        """The memory check; observers get the leaks it newly counted, even when it raises."""
        try:
            return self.mm.check(idle=idle)
        finally:
            if self.mm.new_leaks and self.observers:
                record = LeakRecord(tuple(self.mm.new_leaks))
                for observer in self.observers:
                    observer.on_leaks(record)

    def step(self, result: ScheduleResult, duration_s: float, stats: PoolStats,
             timings: tuple[list[float], list[float]]) -> None:
        if not self.observers:
            return
        record = step_record(result, duration_s, self.snapshot(stats), self._counts.take(),
                             timings)
        for observer in self.observers:
            observer.on_step(record)

    def idle(self, stats: PoolStats, checked: bool, reports: list[LeakReport],
             trigger: CheckTrigger, is_changed: bool) -> None:
        if not self.observers:
            return
        record = IdleRecord(self.snapshot(stats), self._counts.take(), checked, tuple(reports),
                            trigger, is_changed)
        for observer in self.observers:
            observer.on_idle(record)

    def finished(self, req: Request) -> None:
        if not self.observers:
            return
        record = finished_record(req, time.perf_counter())
        for observer in self.observers:
            observer.on_request_finished(record)

    def session(self, event: SessionEvent, sid: str, *, reason: CloseReason | None = None,
                history_tokens: int = 0, evicted_tokens: int = 0, idle_s: float = 0.0) -> None:
        """A session record, with the pools as the session left them."""
        if not self.observers:
            return
        record = SessionRecord(event, sid, len(self.sessions), self.snapshot(self.mm.stats()),
                               self._counts.take(), reason, history_tokens, evicted_tokens,
                               idle_s)
        for observer in self.observers:
            observer.on_session(record)
