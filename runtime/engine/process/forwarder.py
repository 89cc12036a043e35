"""The engine process's observer: it keeps each record to send beside the step's outputs.

Records are the engine's plain-data reports (runtime/engine/records.py); here they are only
wrapped for the wire (messages.py) — the frontend's EngineTelemetry turns them into metrics and
log events, so this process does no OTel work at all.
"""

from __future__ import annotations

from collections.abc import Callable

from runtime.engine.observer import EngineObserver
from runtime.engine.process import messages as m
from runtime.engine.records import (
    FinishedRecord,
    IdleRecord,
    LeakRecord,
    SessionRecord,
    StepRecord,
)


class RecordForwarder(EngineObserver):
    """Hands every record, in the engine's order, to `keep` (the core's pending records)."""

    def __init__(self, keep: Callable[[m.RecordMsg], None]) -> None:
        self.keep = keep

    def on_step(self, record: StepRecord) -> None:
        self.keep(m.StepRecordMsg(record))

    def on_request_finished(self, record: FinishedRecord) -> None:
        self.keep(m.FinishedRecordMsg(record))

    def on_idle(self, record: IdleRecord) -> None:
        self.keep(m.IdleRecordMsg(record))

    def on_session(self, record: SessionRecord) -> None:
        self.keep(m.SessionRecordMsg(record))

    def on_leaks(self, record: LeakRecord) -> None:
        self.keep(m.LeakRecordMsg(record))
