"""ASGI middleware: the bearer API key and the request body size limit."""

from __future__ import annotations

import secrets

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.server.errors import error_body

# The schema is open too: it is how clients find the API, and it holds no secret.
OPEN_PATHS = frozenset({"/health", "/metrics", "/openapi.json"})


async def _send_error(send: Send, status: int, message: str, code: str) -> None:
    body = orjson.dumps(error_body(status, message, code=code))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class APIKeyMiddleware:
    """Every route but /health, /metrics and /openapi.json needs `Authorization: Bearer <key>`."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app, self.expected = app, f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if not secrets.compare_digest(given, self.expected):
            message = "invalid API key" if given else "missing API key: send Authorization: Bearer"
            await _send_error(send, 401, message, "invalid_api_key")
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with a 413, by Content-Length or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # no Content-Length: counted while reading
                    raise HTTPException(413, f"the request body is larger than {self.max_bytes} "
                                             "bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send) -> None:
        message = f"the request body is larger than {self.max_bytes} bytes"
        await _send_error(send, 413, message, "body_too_large")
