"""The engine's hook for telemetry: it hands observers complete records (see records.py)."""

from __future__ import annotations

from runtime.engine.records import (
    FinishedRecord,
    IdleRecord,
    LeakRecord,
    SessionRecord,
    StepRecord,
)


class EngineObserver:
    """Base class with no-op hooks; the engine calls them on its own thread, in order, each
    with one record that carries all it reports. An observer never reads the engine (in the
    process split it runs in another process, fed the same records)."""

    def on_step(self, record: StepRecord) -> None:
        """After every step that ran a batch."""

    def on_request_finished(self, record: FinishedRecord) -> None:
        """When a request ends: stop, length, abort or out of memory."""

    def on_idle(self, record: IdleRecord) -> None:
        """After every idle check: when the engine goes idle, after an idle-time memory
        change, and periodically while idle (see `CheckTrigger`)."""

    def on_session(self, record: SessionRecord) -> None:
        """After a session was opened, closed (by its client or its timeout) or evicted."""

    def on_leaks(self, record: LeakRecord) -> None:
        """After a check counted new leaks; before the step or idle record of that check."""


Record = StepRecord | IdleRecord | FinishedRecord | SessionRecord | LeakRecord


def deliver(observer: EngineObserver, record: Record) -> None:
    """Calls the observer's hook for this type of record (for a consumer fed decoded records)."""
    if isinstance(record, StepRecord):
        observer.on_step(record)
    elif isinstance(record, IdleRecord):
        observer.on_idle(record)
    elif isinstance(record, FinishedRecord):
        observer.on_request_finished(record)
    elif isinstance(record, SessionRecord):
        observer.on_session(record)
    else:
        observer.on_leaks(record)
