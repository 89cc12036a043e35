"""Tests for runtime.loadgen.runner against an in-memory server: loops, budgets, sessions.

Each run is bounded by `max_requests` with a long duration, so what is counted never depends
on how fast the machine is.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from runtime.loadgen.client import ServerUnreachable
from runtime.loadgen.lengths import LengthSpec
from runtime.loadgen.report import Summary
from runtime.loadgen.runner import run
from runtime.loadgen.workload import LoadgenConfig
from tests.loadgen.fake_server import FakeServer

LONG_S = 120.0


def _config(**kwargs: object) -> LoadgenConfig:
    base: dict[str, object] = {
        "duration_s": LONG_S,
        "prompt_len": LengthSpec(6),
        "output_len": LengthSpec(3),
        "json_path": None,
        "is_token_scale_measured": False,  # no probe requests: the counts below are exact
    }
    return LoadgenConfig(**(base | kwargs))


def _run(config: LoadgenConfig, server: FakeServer) -> Summary:
    return asyncio.run(run(config, transport=server.transport()))


def test_closed_loop_stops_at_max_requests() -> None:
    """A closed loop sends exactly max_requests requests, all ok, with their tokens counted."""
    server = FakeServer()
    summary = _run(_config(concurrency=3, max_requests=10), server)
    assert (summary.num_requests_ok, summary.num_requests_failed) == (10, 0)
    assert len(server.completions) == 10
    assert summary.num_completion_tokens == 30 and summary.num_prompt_tokens == 60
    assert summary.ttft.count == 10 and summary.itl.count == 20


def test_closed_loop_keeps_concurrency_workers_busy() -> None:
    """A closed loop never has more requests in flight than its workers."""
    server = FakeServer(piece_size=2)
    _run(_config(concurrency=2, max_requests=12), server)
    assert 1 <= server.max_in_flight <= 2


def test_open_loop_caps_in_flight_requests() -> None:
    """An open loop with a concurrency cap sends max_requests with at most the cap in flight."""
    server = FakeServer(piece_size=2)
    summary = _run(_config(request_rate=2000.0, concurrency=2, max_requests=8), server)
    assert summary.num_requests_ok == 8 and len(server.completions) == 8
    assert server.max_in_flight <= 2


def test_open_loop_without_cap() -> None:
    """An open loop with no concurrency cap still stops at max_requests."""
    server = FakeServer()
    summary = _run(_config(request_rate=2000.0, concurrency=None, max_requests=6), server)
    assert summary.num_requests_ok == 6


def test_sessions_run_their_turns_in_order_and_are_deleted() -> None:
    """Sessions send their turns with the session id, complete, and are deleted afterwards."""
    server = FakeServer()
    config = _config(concurrency=1, max_requests=9, session_share=1.0, session_turns=3)
    summary = _run(config, server)
    assert summary.num_requests_ok == 9
    assert (summary.num_sessions, summary.num_sessions_completed) == (3, 3)
    assert [body["session_id"] for body in server.completions] == ["sess-0"] * 3 + [
        "sess-1"
    ] * 3 + ["sess-2"] * 3
    assert not server.open_sessions


def test_budget_cuts_a_session_short() -> None:
    """When the budget ends mid-session, the session stops early, uncompleted, and is deleted."""
    server = FakeServer()
    config = _config(concurrency=1, max_requests=4, session_share=1.0, session_turns=3)
    summary = _run(config, server)
    assert summary.num_requests_ok == 4
    assert (summary.num_sessions, summary.num_sessions_completed) == (2, 1)
    assert not server.open_sessions


def test_failing_server_records_every_failure() -> None:
    """When every completion fails, each is recorded as failed with the server's message."""
    server = FakeServer(completion_status=503)
    summary = _run(_config(concurrency=2, max_requests=4), server)
    assert (summary.num_requests_ok, summary.num_requests_failed) == (0, 4)
    assert summary.errors == (("HTTP 503: boom", 4),)


def test_failed_session_open_counts_as_a_failed_request() -> None:
    """A server that refuses sessions gives one failed request per attempt, within the budget."""

    async def no_sessions(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sessions":
            return httpx.Response(404, json={"error": {"message": "no sessions"}})
        return httpx.Response(200, json={})

    config = _config(concurrency=1, max_requests=3, session_share=1.0)
    summary = asyncio.run(run(config, transport=httpx.MockTransport(no_sessions)))
    assert (summary.num_requests_failed, summary.num_sessions) == (3, 0)
    assert summary.errors == (("POST /v1/sessions: HTTP 404: no sessions", 3),)


def test_duration_ends_the_run() -> None:
    """Without max_requests, the run stops issuing at duration_s and reports what finished."""
    server = FakeServer()
    summary = _run(_config(concurrency=2, duration_s=0.2), server)
    assert summary.num_requests_ok == len(server.completions) >= 1
    assert summary.num_requests_failed == 0


def test_unreachable_server_raises_before_sending() -> None:
    """A server that cannot be reached raises ServerUnreachable and no completion is attempted."""
    attempts: list[str] = []

    async def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ServerUnreachable):
        asyncio.run(run(_config(max_requests=2), transport=httpx.MockTransport(refuse)))
    assert attempts == ["/v1/models"]
