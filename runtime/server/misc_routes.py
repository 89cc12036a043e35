"""GET /v1/models, GET /health, GET /metrics, and the streaming-session routes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from runtime.server.errors import from_engine_error
from runtime.server.state import server_state
from telemetry.metrics.exposition import exposition

router = APIRouter()


@router.get("/v1/models")
async def models(request: Request) -> dict:
    state = server_state(request)
    card = {"id": state.model_name, "object": "model", "created": state.created,
            "owned_by": "poolscope", "max_model_len": state.max_context}
    return {"object": "list", "data": [card]}


@router.get("/health")
async def health(request: Request) -> Response:
    engine = server_state(request).engine
    if engine.is_running:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "error", "detail": engine.stopped_reason()}, status_code=503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    # On the event loop, not a thread: the render is about a millisecond of pure Python, which a
    # thread would run no sooner (it needs the GIL) and only hand back later.
    data = exposition(server_state(request).registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/sessions")
async def open_session(request: Request) -> dict:
    try:
        sid = await server_state(request).engine.open_session()
    except Exception as exc:  # noqa: BLE001 - mapped to a status by type
        raise from_engine_error(exc) from exc
    return {"id": sid, "object": "session"}


@router.delete("/v1/sessions/{sid}")
async def close_session(sid: str, request: Request) -> dict:
    try:
        await server_state(request).engine.close_session(sid)
    except Exception as exc:  # noqa: BLE001 - mapped to a status by type
        raise from_engine_error(exc) from exc
    return {"id": sid, "object": "session", "deleted": True}
