"""Runs one completion through the engine and answers it whole or as server-sent events.

A client that disconnects aborts its request, streamed or not, so its memory is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from runtime.engine.serving import ServingEngine
from runtime.scheduler.request import AbortCode, RequestOutput
from runtime.scheduler.sampling_params import SamplingParams
from runtime.server.errors import abort_error, error_body, from_engine_error
from runtime.server.formats import Reply, ResponseFormat, Usage


def sse(data: dict | str) -> bytes:
    payload = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return b"data: " + payload + b"\n\n"


async def start(
    engine: ServingEngine,
    prompt: str | Sequence[int],
    params: SamplingParams,
    rid: str,
    session_id: str | None,
    arrival: float,
) -> AsyncIterator[RequestOutput]:
    """Queues the request; engine validation errors become API errors (4xx)."""
    try:
        return await engine.generate(prompt, params, rid=rid, session_id=session_id,
                                     arrival=arrival)
    except Exception as exc:  # noqa: BLE001 - mapped to a status by type
        raise from_engine_error(exc) from exc


def streamed(
    outputs: AsyncIterator[RequestOutput], rid: str, fmt: ResponseFormat, include_usage: bool
) -> StreamingResponse:
    created = int(time.time())

    async def events() -> AsyncIterator[bytes]:
        first, last = True, None
        try:
            async for out in outputs:
                yield sse(fmt.chunk(rid, created, out, first))
                first, last = False, out
            if last is not None and last.error and last.error_code is not AbortCode.CLIENT:
                error = abort_error(last.error, last.error_code)
                yield sse(error_body(error.status, error.message, code=error.code))
            if include_usage and last is not None:
                yield sse(fmt.usage_chunk(rid, created, Usage.of(last)))
            yield sse("[DONE]")
        finally:
            await outputs.aclose()  # type: ignore[attr-defined]  # aborts if not finished

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


async def whole(
    outputs: AsyncIterator[RequestOutput], rid: str, fmt: ResponseFormat, request: Request
) -> Response:
    """Collects every delta; a disconnect while waiting aborts the request."""
    collect = asyncio.ensure_future(_collect(outputs))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({collect, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not collect.done():
        collect.cancel()  # closes the stream, which aborts the request
        with contextlib.suppress(asyncio.CancelledError):
            await collect
        return Response(status_code=499)
    deltas = collect.result()
    last = deltas[-1]
    if last.error:
        raise abort_error(last.error, last.error_code)
    reply = Reply(
        text="".join(d.text for d in deltas),
        token_ids=[t for d in deltas for t in d.token_ids],
        logprobs=[lp for d in deltas for lp in d.logprobs],
        finish_reason=last.finish_reason.value if last.finish_reason else None,
        usage=Usage.of(last),
    )
    return JSONResponse(fmt.response(rid, int(time.time()), reply))


async def _collect(outputs: AsyncIterator[RequestOutput]) -> list[RequestOutput]:
    try:
        return [out async for out in outputs]
    finally:
        await outputs.aclose()  # type: ignore[attr-defined]


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (the body was read already, so only that can come)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
