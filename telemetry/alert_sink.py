"""The alert sink: the webhook receiver Alertmanager routes to. Each alert of a POST to
`/<receiver>` (Alertmanager's webhook payload, version 4) becomes one `alert_received` log event
and is kept in memory (the latest `capacity`), so a test can see what arrived by which route.

    with AlertSink(port=0) as sink:       # `poolscope alert-sink` runs one until SIGTERM
        ...                               # Alertmanager posts to f"{sink.url}/critical"
        sink.wait_for(lambda alerts: len(alerts) > 0, timeout_s=30)

POST /<receiver> → 200 {"received": N}; 400 {"error": ...} for a body that is not JSON or has no
`alerts` list; GET /health → 200; anything else → 404.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from telemetry import catalog
from telemetry.logging import get_logger

HEALTH_PATH = "/health"
POLL_S = 0.05  # how soon serve_forever notices stop()
MAX_BODY_BYTES = 1 << 20  # Alertmanager batches whole groups; a megabyte is thousands of alerts
_RECEIVER_PATH = re.compile(r"/([A-Za-z0-9_.-]+)")
_log = get_logger("poolscope.alert_sink")


class PayloadError(ValueError):
    """A webhook body the sink cannot read: not JSON, or not an object with an `alerts` list."""


def _strings(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"an alert's `{what}` must be an object")
    return {str(key): str(item) for key, item in value.items()}


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert as the sink got it: the receiver from the URL path, and the alert's own parts."""

    receiver: str
    status: str  # "firing" or "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str | None

    @classmethod
    def parse(cls, receiver: str, group_status: str, alert: object) -> ReceivedAlert:
        if not isinstance(alert, dict):
            raise PayloadError("each entry of `alerts` must be an object")
        return cls(
            receiver=receiver,
            status=str(alert.get("status") or group_status),
            labels=_strings(alert.get("labels"), "labels"),
            annotations=_strings(alert.get("annotations"), "annotations"),
            starts_at=alert.get("startsAt"),
        )

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
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("alerts"), list):
        raise PayloadError("payload must be an object with an `alerts` list")
    status = str(document.get("status", ""))
    return [ReceivedAlert.parse(receiver, status, alert) for alert in document["alerts"]]


class AlertSink:
    """An HTTP server on a background thread. `start()` binds (port 0: any free port) and
    returns self; `stop()` closes it. `received` and `wait_for` are safe from any thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.host, self.port = host, port
        self._alerts: deque[ReceivedAlert] = deque(maxlen=capacity)
        self._changed = threading.Condition()
        self._server: _SinkServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://host:port` of the bound server (the real port after `start()`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> AlertSink:
        server = _SinkServer((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(POLL_S,), name="alert-sink", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

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


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung client never blocks stop()

    def __init__(self, address: tuple[str, int], sink: AlertSink) -> None:
        super().__init__(address, _Handler)
        self.sink = sink


class _Handler(BaseHTTPRequestHandler):
    server: _SinkServer

    def do_GET(self) -> None:
        if urlsplit(self.path).path == HEALTH_PATH:
            self._reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self._not_found()

    def do_POST(self) -> None:
        match = _RECEIVER_PATH.fullmatch(urlsplit(self.path).path)
        if match is None or match.group(0) == HEALTH_PATH:
            return self._not_found()
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": "bad Content-Length"})
        if not 0 <= length <= MAX_BODY_BYTES:
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
        try:
            alerts = parse_payload(match.group(1), self.rfile.read(length))
        except PayloadError as exc:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        self.server.sink.record(alerts)
        self._reply(HTTPStatus.OK, {"received": len(alerts)})

    def _not_found(self) -> None:
        self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.command} {self.path}"})

    do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_found

    def _reply(self, status: HTTPStatus, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: access lines would bypass the structured log; the events say what came."""
