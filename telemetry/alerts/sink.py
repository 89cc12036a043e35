"""The alert sink: the webhook receiver Alertmanager routes to. Each alert of a POST to
`/<receiver>` (Alertmanager's webhook payload, version 4) becomes one `alert_received` log event
and is kept in memory (the latest `capacity`), so a test can see what arrived by which route.

    with AlertSink(port=0) as sink:       # `poolscope alert-sink` runs one until SIGTERM
        ...                               # Alertmanager posts to f"{sink.url}/critical"
        sink.wait_for(lambda alerts: len(alerts) > 0, timeout_s=30)

POST /<receiver> → 200 {"received": N}; 400 {"error": ...} for a body that is not JSON or not a
webhook payload; 413 past MAX_BODY_BYTES; GET /health → 200; an unknown path → 404, a known path
with another method → 405 with `Allow`; every error is JSON.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from telemetry import catalog
from telemetry.alerts.http_thread import UvicornThread, bind_tcp
from telemetry.logs.logging import get_logger

HEALTH_PATH = "/health"
MAX_BODY_BYTES = 1 << 20  # Alertmanager batches whole groups; a megabyte is thousands of alerts
_log = get_logger("poolscope.alert_sink")


class WebhookAlert(BaseModel):
    """One entry of `alerts` in Alertmanager's webhook body; fields it does not name are kept
    out (generatorURL, fingerprint, endsAt are not logged)."""

    model_config = ConfigDict(extra="ignore")
    status: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None  # noqa: N815 - Alertmanager's own field name


class WebhookPayload(BaseModel):
    """Alertmanager's webhook body (version 4): the group's status and its alerts."""

    model_config = ConfigDict(extra="ignore")
    status: str = ""
    alerts: list[WebhookAlert]


class PayloadError(ValueError):
    """A webhook body the sink cannot read; the message says which part and why."""


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert as the sink got it: the receiver from the URL path, and the alert's own parts."""

    receiver: str
    status: str  # "firing" or "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str | None

    @classmethod
    def of(cls, receiver: str, group_status: str, alert: WebhookAlert) -> ReceivedAlert:
        return cls(receiver=receiver, status=alert.status or group_status, labels=alert.labels,
                   annotations=alert.annotations, starts_at=alert.startsAt)

    def log_fields(self) -> dict[str, Any]:
        """The event's fields (catalog.ALERT_RECEIVED); labels the alert lacks are left out."""
        fields = {
            "receiver": self.receiver,
            "status": self.status,
            "alertname": self.labels.get("alertname"),
            "severity": self.labels.get("severity"),
            "pool": self.labels.get("pool"),
            "instance": self.labels.get("instance"),
            "summary": self.annotations.get("summary"),
            "starts_at": self.starts_at,
        }
        return {key: value for key, value in fields.items() if value is not None}


def parse_payload(receiver: str, body: bytes) -> list[ReceivedAlert]:
    """Every alert of one webhook body; raises PayloadError (and reads nothing) when any part
    is malformed, so a rejected post logs nothing."""
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        raise PayloadError(_describe(exc)) from exc
    return [ReceivedAlert.of(receiver, payload.status, alert) for alert in payload.alerts]


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return f"body is not JSON: {first['msg']}"
    where = ".".join(str(part) for part in first["loc"]) or "payload"
    return f"not an Alertmanager webhook payload: `{where}`: {first['msg']}"


def create_app(sink: AlertSink) -> FastAPI:
    """The sink's two routes, with every error answered as `{"error": ...}`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get(HEALTH_PATH)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/{receiver}")
    async def receive(receiver: str, request: Request) -> JSONResponse:
        if receiver == HEALTH_PATH.lstrip("/") or not _is_receiver(receiver):
            raise HTTPException(404)
        body = await _read_capped(request)
        if body is None:
            return _error(413, f"body too large (over {MAX_BODY_BYTES} bytes)")
        try:
            alerts = parse_payload(receiver, body)
        except PayloadError as exc:
            return _error(400, str(exc))
        sink.record(alerts)
        return JSONResponse({"received": len(alerts)})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        reply = _error(exc.status_code, f"no route {request.method} {request.url.path}")
        reply.headers.update(exc.headers or {})
        return reply

    return app


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY_BYTES (declared or, for a chunked body, as read)."""
    if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _is_receiver(name: str) -> bool:
    return bool(name) and all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class AlertSink:
    """An HTTP server on a background thread. `start()` binds (port 0: any free port) and
    returns self; `stop()` closes it. `received` and `wait_for` are safe from any thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.host, self.port = host, port
        self._alerts: deque[ReceivedAlert] = deque(maxlen=capacity)
        self._changed = threading.Condition()
        self._server: UvicornThread | None = None

    @property
    def url(self) -> str:
        """`http://host:port` of the bound server (the real port after `start()`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> AlertSink:
        sock = bind_tcp(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._server = UvicornThread(create_app(self), sock, name="alert-sink").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> AlertSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def record(self, alerts: list[ReceivedAlert]) -> None:
        """Logs one event per alert, then keeps them (the oldest fall out past `capacity`)."""
        for alert in alerts:
            _log.info(catalog.ALERT_RECEIVED.name, **alert.log_fields())
        with self._changed:
            self._alerts.extend(alerts)
            self._changed.notify_all()

    @property
    def received(self) -> list[ReceivedAlert]:
        with self._changed:
            return list(self._alerts)

    def wait_for(self, predicate: Callable[[list[ReceivedAlert]], bool], timeout_s: float) -> bool:
        """Blocks until `predicate(received)` holds or `timeout_s` passes; returns whether it
        held."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(list(self._alerts)), timeout_s)
