"""The engine's hook for telemetry: it tells observers what happened, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from runtime.memory.checker import LeakReport
from runtime.memory.sessions import SessionEviction
from runtime.scheduler.request import Request
from runtime.scheduler.step_record import StepRecord
from telemetry.pool_stats import PoolStats


class CheckTrigger(Enum):
    """Why an idle check ran: the engine went idle, or, while idle, memory changed outside a
    step (a session closed or expired, a request aborted or dropped as out of memory), or the
    periodic check came due (`--idle-check-interval`)."""

    IDLE = "idle"
    SESSION_CLOSE = "session_close"
    SESSION_EXPIRY = "session_expiry"
    ABORT = "abort"
    PERIODIC = "periodic"


@dataclass(frozen=True)
class IdleRecord:
    """One idle check: the pools after it, whether it ran (`checked` is False when checks are
    off), the pools that fail the identity now, why it ran, and whether its outcome (each
    pool's signed difference) differs from the check before it."""

    stats: PoolStats
    checked: bool
    reports: list[LeakReport]
    trigger: CheckTrigger
    is_changed: bool


class EngineObserver:
    """Base class with no-op hooks; the engine calls them on its own thread, in order. An
    observer must not call back into the engine."""

    def on_step(self, record: StepRecord) -> None:
        """After every step that ran a batch."""

    def on_request_finished(self, req: Request) -> None:
        """When a request ends: stop, length, abort or out of memory (`req.finish_reason`)."""

    def on_idle(self, record: IdleRecord) -> None:
        """After every idle check: when the engine goes idle, after an idle-time memory
        change, and periodically while idle (see `CheckTrigger`)."""

    def on_session_opened(self, sid: str, num_open: int) -> None:
        """After a session was opened."""

    def on_session_closed(self, sid: str, reason: str, history_tokens: int, num_open: int) -> None:
        """After a session was closed by its client (`client`) or timed out (`expired`)."""

    def on_session_evicted(self, eviction: SessionEviction) -> None:
        """After an idle session's memory was handed to the prefix cache under pressure."""
