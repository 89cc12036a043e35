"""The engine's view of streaming sessions: history, the turn in flight, and idle expiry.

The memory side of a session (its slot) lives in MemoryManager; this table keeps what the
engine needs to build a turn: the token history the slot's KV continues, and whether a turn runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from runtime.errors import SessionBusy, SessionNotFound, TooManySessions
from runtime.scheduler.request import Request


@dataclass
class SessionState:
    sid: str
    last_used: float
    history: list[int] = field(default_factory=list)  # every prompt and output token so far
    active: Request | None = None  # the turn queued or running


class SessionTable:
    """Open sessions by id, at most `max_sessions`, closed after `timeout_s` idle."""

    def __init__(self, max_sessions: int, timeout_s: float) -> None:
        self.max_sessions, self.timeout_s = max_sessions, timeout_s
        self.sessions: dict[str, SessionState] = {}

    def __len__(self) -> int:
        return len(self.sessions)

    def open(self, now: float) -> SessionState:
        """A new session; raises TooManySessions when all slots are taken."""
        if len(self.sessions) >= self.max_sessions:
            raise TooManySessions(
                f"all {self.max_sessions} session slots are open; close one or wait for one "
                "to expire"
            )
        state = SessionState(sid=f"sess-{uuid.uuid4().hex[:16]}", last_used=now)
        self.sessions[state.sid] = state
        return state

    def get(self, sid: str) -> SessionState:
        state = self.sessions.get(sid)
        if state is None:
            raise SessionNotFound(f"session {sid!r} is not open (unknown, closed or expired)",
                                  param="session_id")
        return state

    def start_turn(self, sid: str, req: Request) -> list[int]:
        """Marks the session busy with `req`; returns the history the turn continues."""
        state = self.get(sid)
        if state.active is not None:
            raise SessionBusy(
                f"session {sid!r} is already running request {state.active.rid}; send the next "
                "turn when it ends", param="session_id",
            )
        state.active = req
        return state.history

    def end_turn(self, sid: str, tokens: list[int], now: float) -> None:
        state = self.sessions.get(sid)
        if state is not None:
            state.history, state.active, state.last_used = list(tokens), None, now

    def remove(self, sid: str) -> None:
        self.sessions.pop(sid, None)

    def expired(self, now: float) -> list[str]:
        """Idle sessions whose last turn ended more than `timeout_s` ago."""
        return [
            s.sid
            for s in self.sessions.values()
            if s.active is None and now - s.last_used > self.timeout_s
        ]
