"""Tests for how `poolscope loadgen` ends a run that goes wrong: it backs off, stops after a run of
connection errors, fails on a failure share above --max-failure-rate, and writes no file unasked."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import httpx
import pytest

from runtime.loadgen import runner
from runtime.loadgen.args import run_loadgen
from runtime.loadgen.lengths import LengthSpec
from runtime.loadgen.runner import run
from runtime.loadgen.workload import LoadgenConfig
from tests.loadgen.fake_server import FakeServer
from tests.loadgen.verb import parse, route


def _dies_after(num_ok: int) -> tuple[httpx.MockTransport, list[str]]:
    """A server that answers /v1/models and `num_ok` completions, then refuses connections."""
    server, seen = FakeServer(), []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/v1/completions" and seen.count("/v1/completions") > num_ok:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return await server.handle(request)

    return httpx.MockTransport(handle), seen


def test_dead_server_stops_the_run_after_a_bounded_run_of_connection_errors() -> None:
    """When the server goes away mid-run, the run stops issuing after max_connect_errors
    failures in a row (not at the end of its duration) and says why."""
    transport, seen = _dies_after(2)
    config = LoadgenConfig(duration_s=600.0, concurrency=1, max_connect_errors=4,
                           prompt_len=LengthSpec(4), output_len=LengthSpec(2),
                           is_token_scale_measured=False)
    summary = asyncio.run(run(config, transport=transport))
    assert (summary.num_requests_ok, summary.num_requests_failed) == (2, 4)
    assert seen.count("/v1/completions") == 6
    assert summary.stop_reason is not None
    assert "4 connection errors in a row" in summary.stop_reason
    assert "Connection refused" in summary.stop_reason


def test_failures_in_a_row_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed-loop worker's pause after a failure doubles with each failure in a row."""
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(seconds: float) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(runner.asyncio, "sleep", recording_sleep)
    config = LoadgenConfig(duration_s=600.0, concurrency=1, max_requests=5,
                           prompt_len=LengthSpec(4), output_len=LengthSpec(2),
                           is_token_scale_measured=False)
    server = FakeServer(completion_status=503)
    asyncio.run(run(config, transport=server.transport()))
    backoff = [p for p in pauses if p >= runner.FAILURE_PAUSE_S]
    assert backoff[:4] == [runner.FAILURE_PAUSE_S * 2**i for i in range(4)]
    assert max(backoff) <= runner.MAX_FAILURE_PAUSE_S


def test_dead_server_exits_one_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """run_loadgen against a server that died exits 1 and names the stop and the address."""
    transport, _ = _dies_after(1)
    route(monkeypatch, transport)
    args = parse("--duration", "600", "--concurrency", "1", "--max-connect-errors", "3",
                  "--no-progress", "--prompt-len", "4")
    assert run_loadgen(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("poolscope: error: loadgen stopped after 3 connection errors")
    assert "http://127.0.0.1:8000 is not answering" in err[-1]


def _fails_every(nth: int) -> httpx.MockTransport:
    """A server whose every `nth` completion answers HTTP 500."""
    server, counter = FakeServer(), itertools.count(1)

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/completions" and next(counter) % nth == 0:
            return httpx.Response(500, json={"error": {"message": "boom"}})
        return await server.handle(request)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("limit, code", [(None, 1), ("0.5", 0)])
def test_failure_share_above_the_limit_exits_one(
    limit: str | None, code: int, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run where a quarter of the requests failed exits 1 under the default limit and 0
    under --max-failure-rate 0.5."""
    route(monkeypatch, _fails_every(4))
    flags = ["--max-failure-rate", limit] if limit else []
    args = parse("--max-requests", "8", "--concurrency", "1", "--no-progress", *flags)
    assert run_loadgen(args) == code
    err = capsys.readouterr().err
    if code:
        assert "2 of 8 requests failed (25.0%, above --max-failure-rate 0.01)" in err


def test_no_report_file_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run without --json writes no file into the current folder."""
    route(monkeypatch, FakeServer().transport())
    monkeypatch.chdir(tmp_path)
    assert run_loadgen(parse("--max-requests", "3", "--no-progress")) == 0
    assert os.listdir(tmp_path) == []
    assert "report written" not in capsys.readouterr().out
