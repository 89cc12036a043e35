"""What the HTTP server needs of an engine: the interface `EngineClient` (the engine in its own
process, what `poolscope serve` runs) offers, so that the server does not import the client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from runtime.scheduler.request import AbortCode, RequestOutput
from runtime.scheduler.sampling_params import SamplingParams


class ServingEngine(Protocol):
    """Every coroutine raises the engine's own errors (InvalidRequest, session errors,
    EngineStopped, ShuttingDown), which the routes map to statuses."""

    @property
    def is_running(self) -> bool: ...

    def stopped_reason(self) -> str:
        """Why the engine does not run (for /health and 503 answers)."""
        ...

    def stop_accepting(self) -> None:
        """New requests and sessions are refused with ShuttingDown from now on."""
        ...

    async def generate(
        self, prompt: str | Sequence[int], params: SamplingParams, *, rid: str | None = None,
        session_id: str | None = None, arrival: float | None = None,
    ) -> AsyncIterator[RequestOutput]:
        """Queues a request (raising its validation error) and returns its deltas; `arrival`
        (time.monotonic() when the server got it, default now) starts its TTFT."""
        ...

    async def open_session(self) -> str: ...

    async def close_session(self, sid: str) -> None: ...

    async def room_left(self, num_prompt: int, session_id: str | None = None) -> int:
        """Tokens a prompt of `num_prompt` leaves in the context (see Engine.room_left)."""
        ...

    async def abort_all(self, error: str, code: AbortCode) -> int:
        """Aborts every queued and running request with `error`; returns how many."""
        ...
