"""The engine's hook for telemetry: it tells observers what happened, as plain data."""

from __future__ import annotations

from runtime.memory.checker import LeakReport
from runtime.memory.sessions import SessionEviction
from runtime.scheduler.request import Request
from runtime.scheduler.step_record import StepRecord
from telemetry.pool_stats import PoolStats


class EngineObserver:
    """Base class with no-op hooks; the engine calls them on its own thread, in order. An
    observer must not call back into the engine."""

    def on_step(self, record: StepRecord) -> None:
        """After every step that ran a batch."""

    def on_request_finished(self, req: Request) -> None:
        """When a request ends: stop, length, abort or out of memory (`req.finish_reason`)."""

    def on_idle(self, stats: PoolStats, checked: bool, reports: list[LeakReport]) -> None:
        """When the engine goes idle, after the idle check (`checked` is False when checks
        are off); `reports` holds the failures, if any."""

    def on_session_opened(self, sid: str, num_open: int) -> None:
        """After a session was opened."""

    def on_session_closed(self, sid: str, reason: str, history_tokens: int, num_open: int) -> None:
        """After a session was closed by its client (`client`) or timed out (`expired`)."""

    def on_session_evicted(self, eviction: SessionEviction) -> None:
        """After an idle session's memory was handed to the prefix cache under pressure."""
