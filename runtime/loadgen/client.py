"""Async streaming client for the OpenAI-compatible server: completions and sessions.

How latencies are taken from the stream is described in `runtime.loadgen.record`.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from runtime.loadgen.record import RecordBuilder, RequestRecord
from runtime.loadgen.sse import SSEDecoder, error_message, parse_chunk
from runtime.loadgen.workload import LoadgenConfig, RequestSpec


class LoadgenError(Exception):
    """A request to the server failed; the message says how, in one line."""


class ServerUnreachable(LoadgenError):
    """The server's address could not be reached at all (no HTTP answer)."""


def make_http_client(
    config: LoadgenConfig, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An AsyncClient on the server's base URL with auth, timeouts and no connection cap.

    `transport` replaces the network (tests pass an `httpx.MockTransport`).
    """
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    return httpx.AsyncClient(
        base_url=config.base_url,
        headers=headers,
        timeout=httpx.Timeout(config.timeout_s),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        transport=transport,
    )


class CompletionClient:
    """Sends requests through `http` (owned by the caller); keeps no state between requests."""

    def __init__(self, http: httpx.AsyncClient, config: LoadgenConfig) -> None:
        self._http = http
        self._config = config

    async def check_reachable(self) -> None:
        """Raises ServerUnreachable unless the server answers HTTP at all (any status will do)."""
        try:
            await self._http.get("/v1/models")
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise ServerUnreachable(f"cannot reach {self._config.base_url}: {reason}") from exc

    async def create_session(self) -> str:
        """Opens a server-side session and returns its id. Raises LoadgenError on failure."""
        body = await self._json_call("POST", "/v1/sessions", {})
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise LoadgenError(f"POST /v1/sessions: unexpected answer {str(body)[:120]}")
        return body["id"]

    async def delete_session(self, session_id: str) -> None:
        """Deletes a session. Raises LoadgenError on failure."""
        await self._json_call("DELETE", f"/v1/sessions/{session_id}", None)

    async def complete(self, spec: RequestSpec, session_id: str | None = None) -> RequestRecord:
        """Streams one completion, at most `timeout_s` in all, and returns its record.

        Never raises for a failed request (HTTP error status, error chunk, `abort` finish,
        malformed stream, timeout, transport error): the record carries the message instead.
        """
        builder = RecordBuilder(time.time(), time.perf_counter())
        try:
            async with asyncio.timeout(self._config.timeout_s):
                await self._stream(self._payload(spec, session_id), builder)
        except (TimeoutError, httpx.TimeoutException):
            builder.fail(f"timed out after {self._config.timeout_s:g} s")
        except httpx.TransportError as exc:  # refused, reset, dropped: no HTTP answer
            builder.fail(_describe(exc), is_connect_error=True)
        except httpx.HTTPError as exc:
            builder.fail(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        except (LoadgenError, ValueError) as exc:  # ValueError: a chunk that is not JSON
            builder.fail(str(exc))
        return builder.build(time.perf_counter(), is_session=session_id is not None)

    def _payload(self, spec: RequestSpec, session_id: str | None) -> dict[str, object]:
        payload: dict[str, object] = {
            "prompt": spec.prompt,
            "max_tokens": spec.max_tokens,
            "temperature": 0,
            "ignore_eos": True,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self._config.model is not None:  # None: let the server use its default model
            payload["model"] = self._config.model
        if session_id is not None:
            payload["session_id"] = session_id
        return payload

    async def _stream(self, payload: dict[str, object], builder: RecordBuilder) -> None:
        """Feeds the stream's chunks to `builder` until [DONE]. Raises LoadgenError otherwise."""
        async with self._http.stream("POST", "/v1/completions", json=payload) as response:
            if response.status_code >= 400:
                raise LoadgenError(await _http_error(response))
            decoder = SSEDecoder()
            async for piece in response.aiter_bytes():
                if _take_all(decoder.feed(piece), builder):
                    return
            if _take_all(decoder.close(), builder):
                return
        raise LoadgenError("stream ended before [DONE]")

    async def _json_call(self, method: str, path: str, body: object) -> object:
        """One JSON request, at most `timeout_s` in all. Raises LoadgenError on any failure."""
        try:
            async with asyncio.timeout(self._config.timeout_s):
                response = await self._http.request(method, path, json=body)
            if response.status_code >= 400:
                raise LoadgenError(f"{method} {path}: {await _http_error(response)}")
            return response.json()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise LoadgenError(f"{method} {path}: timed out") from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"{method} {path}: {_describe(exc)}") from exc
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: an answer that is not JSON
            raise LoadgenError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _take_all(events: list[str], builder: RecordBuilder) -> bool:
    """Feeds parsed events to `builder`; True at [DONE]. Raises LoadgenError on an error
    chunk or an `abort` finish, ValueError on a chunk that is not JSON."""
    for data in events:
        chunk = parse_chunk(data)
        if chunk.error is not None:
            raise LoadgenError(f"server error mid-stream: {chunk.error}")
        if chunk.is_done:
            return True
        builder.take(chunk, time.perf_counter())
        if chunk.finish_reason == "abort":
            raise LoadgenError("the server aborted the request")
    return False


async def _http_error(response: httpx.Response) -> str:
    """`HTTP <status>: <message>` from an error response's JSON body (or its text)."""
    raw = await response.aread()
    try:
        message = error_message(response.json())
    except ValueError:
        message = raw.decode("utf-8", errors="replace")[:200] or response.reason_phrase
    return f"HTTP {response.status_code}: {message}"
