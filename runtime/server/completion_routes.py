"""POST /v1/completions and POST /v1/chat/completions."""

from __future__ import annotations

import time
import uuid

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from runtime.scheduler.sampling_params import SamplingParams
from runtime.server import completion_service as service
from runtime.server.errors import APIError, from_engine_error
from runtime.server.formats import ChatFormat, ResponseFormat
from runtime.server.protocol import ChatCompletionRequest, CompletionRequest
from runtime.server.state import ServerState, server_state

router = APIRouter()


def _params(body: CompletionRequest | ChatCompletionRequest, max_tokens: int) -> SamplingParams:
    try:
        return body.sampling_params(max_tokens)
    except ValueError as exc:
        raise APIError(400, str(exc), getattr(exc, "param", None), "invalid_request") from exc


async def _answer(
    state: ServerState,
    request: Request,
    body: CompletionRequest | ChatCompletionRequest,
    prompt: str | list[int],
    params: SamplingParams,
    fmt: ResponseFormat,
    rid: str,
    arrival: float,
) -> Response:
    # Each request runs in its own task context: lines logged while handling it (errors
    # included) carry its id, and nothing leaks into other requests.
    structlog.contextvars.bind_contextvars(request_id=rid)
    outputs = await service.start(state.engine, prompt, params, rid, body.session_id, arrival)
    if body.stream:
        return service.streamed(outputs, rid, fmt, body.include_usage)
    return await service.whole(outputs, rid, fmt, request)


@router.post("/v1/completions")
async def completions(body: CompletionRequest, request: Request) -> Response:
    arrival = time.monotonic()  # TTFT starts here: tokenization and the engine hop count
    state = server_state(request)
    state.check_model(body.model)
    if body.echo:
        raise APIError(400, "echo is not supported", param="echo")
    try:
        prompt = body.single_prompt()
    except ValueError as exc:
        raise APIError(400, str(exc), param="prompt") from exc
    fmt = ResponseFormat(state.tokenizer, state.model_name, body.return_token_ids)
    params = _params(body, body.max_tokens)
    rid = f"cmpl-{uuid.uuid4().hex[:24]}"
    return await _answer(state, request, body, prompt, params, fmt, rid, arrival)


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    arrival = time.monotonic()  # TTFT starts here: template, tokenization, the engine hop
    state = server_state(request)
    state.check_model(body.model)
    try:
        text = state.chat_template.render([m.model_dump() for m in body.messages])
    except ValueError as exc:
        raise APIError(400, str(exc), param="messages") from exc
    ids = state.tokenizer.encode(text)
    max_tokens = body.requested_max_tokens
    if max_tokens is None:  # as vLLM: whatever the context leaves
        try:
            max_tokens = await state.engine.room_left(len(ids), body.session_id)
        except Exception as exc:  # noqa: BLE001 - mapped to a status by type
            raise from_engine_error(exc) from exc
    fmt = ChatFormat(state.tokenizer, state.model_name, body.return_token_ids)
    params = _params(body, max(max_tokens, 1))
    rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    return await _answer(state, request, body, ids, params, fmt, rid, arrival)
