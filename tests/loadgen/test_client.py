"""Tests for runtime.loadgen.client against an in-memory server: records, errors, sessions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from runtime.loadgen.client import (
    CompletionClient,
    LoadgenError,
    ServerUnreachable,
    make_http_client,
)
from runtime.loadgen.record import RequestRecord
from runtime.loadgen.workload import LoadgenConfig, RequestSpec
from tests.loadgen.fake_server import FakeServer, pieces, sse, text_chunk, usage

SPEC = RequestSpec("the quick brown fox", num_words=4, max_tokens=5)
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def _with_client(
    handler: Handler, config: LoadgenConfig, call: Callable[[CompletionClient], Awaitable[object]]
) -> object:
    async def go() -> object:
        async with make_http_client(config, httpx.MockTransport(handler)) as http:
            return await call(CompletionClient(http, config))

    return asyncio.run(go())


def _complete(handler: Handler, config: LoadgenConfig | None = None) -> RequestRecord:
    record = _with_client(handler, config or LoadgenConfig(), lambda c: c.complete(SPEC))
    assert isinstance(record, RequestRecord)
    return record


def _streaming(body: bytes, piece_size: int = 5) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=pieces(body, piece_size))

    return handler


def test_streamed_completion_gives_an_ok_record() -> None:
    """A stream split across reads yields an ok record with usage and one ITL per chunk gap."""
    record = _complete(FakeServer(piece_size=3).handle)
    assert record.is_ok and record.error is None
    assert (record.prompt_tokens, record.completion_tokens) == (4, 5)
    assert record.ttft_s is not None and len(record.itl_s) == 4
    assert record.e2e_s >= record.ttft_s


def test_payload_and_auth_header() -> None:
    """The request carries the OpenAI streaming fields, the model, and the bearer key."""
    server = FakeServer()
    config = LoadgenConfig(model="tiny", api_key="k123")
    _complete(server.handle, config)
    (body,) = server.completions
    assert body == {
        "model": "tiny",
        "prompt": SPEC.prompt,
        "max_tokens": 5,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert server.headers[0]["authorization"] == "Bearer k123"


def test_no_model_and_no_key_are_left_out() -> None:
    """Without a model name or api key, neither the field nor the header is sent."""
    server = FakeServer()
    _complete(server.handle)
    assert "model" not in server.completions[0]
    assert "authorization" not in server.headers[0]


def test_http_error_before_the_stream() -> None:
    """A 4xx JSON error answer gives a failed record with the status and the message."""
    record = _complete(FakeServer(completion_status=400).handle)
    assert not record.is_ok and record.error == "HTTP 400: boom"
    assert record.ttft_s is None


def test_error_chunk_mid_stream() -> None:
    """An error chunk after some text fails the record with the server's message."""
    body = text_chunk(" a") + sse({"error": {"message": "kv pool exhausted"}}) + sse("[DONE]")
    record = _complete(_streaming(body))
    assert not record.is_ok and record.error == "server error mid-stream: kv pool exhausted"
    assert record.ttft_s is not None


def test_abort_finish_fails_the_record() -> None:
    """A chunk finishing with `abort` fails the record."""
    body = text_chunk(" a") + text_chunk("", "abort") + sse("[DONE]")
    record = _complete(_streaming(body))
    assert not record.is_ok and "aborted" in str(record.error)


def test_stream_without_done_fails() -> None:
    """A stream that closes before [DONE] fails the record."""
    record = _complete(_streaming(text_chunk(" a", "length", usage(1, 1))))
    assert not record.is_ok and record.error == "stream ended before [DONE]"


def test_non_json_chunk_fails() -> None:
    """A data line that is not JSON fails the record instead of raising."""
    record = _complete(_streaming(b"data: {oops\n\n"))
    assert not record.is_ok and "not JSON" in str(record.error)


def test_timeout_fails_the_record() -> None:
    """A server slower than timeout_s gives a failed record naming the timeout."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, content=sse("[DONE]"))

    record = _complete(slow, LoadgenConfig(timeout_s=0.05))
    assert not record.is_ok and record.error == "timed out after 0.05 s"


def test_sessions_create_and_delete() -> None:
    """A session is created, used by a turn, and deleted on the server."""
    server = FakeServer()

    async def call(client: CompletionClient) -> RequestRecord:
        session_id = await client.create_session()
        record = await client.complete(SPEC, session_id)
        await client.delete_session(session_id)
        return record

    record = _with_client(server.handle, LoadgenConfig(), call)
    assert isinstance(record, RequestRecord) and record.is_ok and record.is_session
    assert server.completions[0]["session_id"] == "sess-0"
    assert server.num_sessions_created == 1 and not server.open_sessions


def test_session_errors_raise_loadgen_error() -> None:
    """A failed session call raises LoadgenError with the method, path and message."""

    async def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"message": "sessions disabled"}})

    with pytest.raises(LoadgenError, match="POST /v1/sessions: HTTP 404: sessions disabled"):
        _with_client(refuse, LoadgenConfig(), lambda c: c.create_session())


def test_unreachable_server() -> None:
    """A transport failure on the reachability check raises ServerUnreachable naming the URL."""

    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ServerUnreachable, match="cannot reach http://127.0.0.1:8000"):
        _with_client(refuse, LoadgenConfig(), lambda c: c.check_reachable())


def test_any_http_status_counts_as_reachable() -> None:
    """A 404 on the reachability check still proves the server is there."""

    async def not_found(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, content=json.dumps({"detail": "Not Found"}))

    assert _with_client(not_found, LoadgenConfig(), lambda c: c.check_reachable()) is None
