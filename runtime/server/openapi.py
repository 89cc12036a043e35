"""The OpenAPI schema served at /openapi.json, with the error replies the routes really give.

FastAPI's generated schema documents only 200 and 422; this server answers every validation
problem with a 400 and has more errors, all in one JSON body. `install_openapi` replaces the
generator so each operation lists its real statuses (`ROUTE_ERRORS`) with that body, and drops
422. Clients and fuzzers (the schemathesis test) find the API through it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from runtime.server.errors import STATUS_TYPES

ERROR_SCHEMA = "ErrorResponse"
COMMON = (401,)  # with --api-key, every route but /health, /metrics and this schema

# (method, path) -> error statuses it can answer, besides the common ones.
ROUTE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/completions"): (400, 404, 409, 410, 413, 503),
    ("post", "/v1/chat/completions"): (400, 404, 409, 410, 413, 503),
    ("post", "/v1/sessions"): (429, 503),
    ("delete", "/v1/sessions/{sid}"): (404, 503),
    ("get", "/v1/models"): (),
    ("get", "/health"): (503,),
    ("get", "/metrics"): (),
}
DESCRIPTIONS = {
    400: "Invalid request: a field's type, range or text, or a request the pools could never "
         "hold; `param` names the field.",
    401: "Missing or wrong API key (only when the server runs with --api-key).",
    404: "Unknown model, or a session that is not open.",
    409: "The session already runs a turn.",
    410: "The session was closed by its client during this turn.",
    413: "The request body is too large.",
    429: "Every session slot is open.",
    503: "The server cannot serve it now: pools busy past --queue-timeout, shutting down, or "
         "the engine stopped.",
}
OPEN_OPERATIONS = {("get", "/health"), ("get", "/metrics")}
# 200 replies that are not (only) JSON: completions stream server-sent events when asked.
OK_CONTENT = {
    "/v1/completions": ("application/json", "text/event-stream"),
    "/v1/chat/completions": ("application/json", "text/event-stream"),
    "/metrics": ("text/plain",),
}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error reply: `{"error": {"message", "type", "param", "code"}}`."""

    error: ErrorDetail


def install_openapi(app: FastAPI) -> None:
    """Makes `app.openapi()` (and /openapi.json) return the schema with the real errors."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description=__doc__.split("\n\n")[0])
            _add_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_errors(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
                      .pop("$defs"))
    components[ERROR_SCHEMA] = ErrorResponse.model_json_schema(
        ref_template="#/components/schemas/{model}")
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if path in OK_CONTENT:
                content = responses["200"].get("content", {})
                responses["200"]["content"] = {
                    kind: content.get(kind, {"schema": {"type": "string"}})
                    for kind in OK_CONTENT[path]
                }
            statuses = ROUTE_ERRORS.get((method, path), ())
            if (method, path) not in OPEN_OPERATIONS:
                statuses = (*COMMON, *statuses)
            for status in sorted(set(statuses)):
                responses[str(status)] = _error_response(status)


def _error_response(status: int) -> dict[str, Any]:
    kind = STATUS_TYPES.get(status, "server_error")
    ref = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    return {"description": f"{DESCRIPTIONS[status]} (type {kind})",
            "content": {"application/json": {"schema": ref}}}
