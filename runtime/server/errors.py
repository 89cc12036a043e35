"""OpenAI-style error bodies, and the handlers that turn every failure into one.

`{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}` with a 4xx for anything
the client can fix; a 5xx only when the engine itself cannot serve.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from runtime.errors import (
    EngineStopped,
    InvalidRequest,
    SessionBusy,
    SessionNotFound,
    ShuttingDown,
    TooManySessions,
)
from runtime.scheduler.request import AbortCode

log = logging.getLogger(__name__)

STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_error",
}


class APIError(Exception):
    """An error answered with its status and an OpenAI-style body."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None
               ) -> dict:
    kind = STATUS_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(error: APIError) -> JSONResponse:
    body = error_body(error.status, error.message, error.param, error.code)
    return JSONResponse(body, status_code=error.status)


def from_engine_error(exc: Exception) -> APIError:
    """Maps an engine error to its HTTP status (the engine knows nothing of HTTP)."""
    param = getattr(exc, "param", None)
    for kind, status, code in (
        (SessionNotFound, 404, "session_not_found"),
        (SessionBusy, 409, "session_busy"),
        (TooManySessions, 429, "too_many_sessions"),
        (ShuttingDown, 503, "server_shutting_down"),
        (EngineStopped, 503, "engine_stopped"),
    ):
        if isinstance(exc, kind):
            return APIError(status, str(exc), param, code)
    if isinstance(exc, InvalidRequest | ValueError):
        return APIError(400, str(exc), param, "invalid_request")
    return APIError(500, f"internal error: {exc}", None, "internal_error")


# An aborted request's answer: the client's own doing is a 4xx, the server's state a 503.
ABORT_STATUS = {AbortCode.SESSION_CLOSED: 410}


def abort_error(message: str, code: AbortCode | None) -> APIError:
    """The error that answers a request the engine aborted (`code` says why)."""
    status = ABORT_STATUS.get(code, 503) if code is not None else 503
    return APIError(status, message, None, code.value if code is not None else "request_aborted")


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request body", None
    # In a union every member reports; a value check that ran (right type, wrong value) says
    # more than the members whose type did not match.
    first = next((e for e in errors if e.get("type") == "value_error"), errors[0])
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    # Union members add their type to the path ("str", "list[int]", "function-after[...]"):
    # the field is what the client named, so only names and list indices are kept.
    loc = [str(p) for p in first.get("loc", ()) if p != "body" and _is_field_part(p)]
    param = ".".join(loc) or None
    where = f"field '{param}': " if param else ""
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}{first.get('msg', 'invalid value')}{more}", param


def _is_field_part(part: object) -> bool:
    return isinstance(part, int) or (isinstance(part, str) and part.isidentifier()
                                     and part not in _TYPE_TAGS)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(APIError(400, message, param, "invalid_request"))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        response = error_response(APIError(exc.status_code, str(exc.detail)))
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(APIError(500, f"internal error: {exc}", code="internal_error"))
