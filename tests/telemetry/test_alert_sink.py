"""The alert sink: each alert of an Alertmanager webhook post becomes one `alert_received` event
with the catalog's fields; bad bodies get 400, unknown routes 404; `poolscope alert-sink` serves
until SIGTERM without importing torch."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson
import pytest
from structlog.testing import capture_logs

from telemetry import catalog
from telemetry.alerts.sink import MAX_BODY_BYTES, AlertSink, ReceivedAlert
from tests.support import free_port, start_verb, stop_process

pytestmark = pytest.mark.usefixtures("fresh_logging")

STARTS_AT = "2025-01-02T03:04:05.678Z"


def _alert(name: str, severity: str, status: str = "firing", **labels: str) -> dict[str, object]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "instance": "runtime", **labels},
        "annotations": {"summary": f"{name} summary", "description": "what to do"},
        "startsAt": STARTS_AT,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "0123456789abcdef",
    }


def _payload(*alerts: dict[str, object], receiver: str = "critical") -> dict[str, object]:
    """Alertmanager's webhook body, version 4."""
    return {
        "version": "4", "groupKey": "{}:{alertname=\"x\"}", "truncatedAlerts": 0,
        "status": "firing", "receiver": receiver, "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": list(alerts),
    }


def _request(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _post(url: str, document: object) -> tuple[int, dict]:
    return _request(url, "POST", json.dumps(document).encode())


@pytest.fixture
def sink() -> Iterator[AlertSink]:
    with AlertSink(port=0) as running:
        yield running


def _events(logs: list[dict]) -> list[dict]:
    return [e for e in logs if e["event"] == catalog.ALERT_RECEIVED.name]


def test_each_alert_is_logged_with_the_catalog_fields(sink: AlertSink) -> None:
    """A post to /critical with two alerts answers 200 and logs two events whose fields are
    exactly the catalog's, the receiver taken from the path; a missing pool label is left out."""
    leak = _alert("PoolscopeMemoryLeak", "critical", pool="full")
    down = _alert("PoolscopeTargetDown", "critical", status="resolved")
    with capture_logs() as logs:
        status, body = _post(f"{sink.url}/critical", _payload(leak, down))
    assert (status, body) == (200, {"received": 2})
    first, second = _events(logs)
    assert {k: v for k, v in first.items() if k not in ("event", "log_level", "component")} == {
        "receiver": "critical", "status": "firing", "alertname": "PoolscopeMemoryLeak",
        "severity": "critical", "pool": "full", "instance": "runtime",
        "summary": "PoolscopeMemoryLeak summary", "starts_at": STARTS_AT,
    }
    assert set(first) - {"event", "log_level", "component"} == set(catalog.ALERT_RECEIVED.fields)
    assert "pool" not in second and second["status"] == "resolved"
    assert first["log_level"] == "info"
    assert [(a.receiver, a.labels["alertname"]) for a in sink.received] == [
        ("critical", "PoolscopeMemoryLeak"), ("critical", "PoolscopeTargetDown"),
    ]


def test_an_alert_without_status_takes_the_groups(sink: AlertSink) -> None:
    """An alert entry that carries no status of its own is logged with the payload's status."""
    alert = _alert("PoolscopePoolNearFull", "warning", pool="swa")
    del alert["status"]
    with capture_logs() as logs:
        assert _post(f"{sink.url}/warning", _payload(alert))[0] == 200
    (event,) = _events(logs)
    assert event["status"] == "firing" and event["receiver"] == "warning"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'{"version": "4", "status": "firing"}', "`alerts`"),
        (b'[{"labels": {}}]', "webhook payload"),
        (b'{"alerts": [{"labels": "x"}]}', "`alerts.0.labels`"),
        (b'{"alerts": [{"labels": {"pool": 3}}]}', "`alerts.0.labels.pool`"),
        (b'{"alerts": [1]}', "`alerts.0`"),
    ],
)
def test_bad_bodies_get_400_and_log_nothing(sink: AlertSink, body: bytes, message: str) -> None:
    """A body that is not JSON, or not a payload with an `alerts` list of objects, answers 400
    with a JSON error naming the part at fault, and nothing is logged or kept."""
    with capture_logs() as logs:
        status, answer = _request(f"{sink.url}/critical", "POST", body)
    assert status == 400 and message in answer["error"]
    assert _events(logs) == [] and sink.received == []


@pytest.mark.parametrize(("method", "path"), [("POST", "/a/b"), ("POST", "/"), ("POST", "/health")])
def test_unknown_routes_get_404(sink: AlertSink, method: str, path: str) -> None:
    """Only POST /<receiver> and GET /health exist; another path answers 404 with a JSON error."""
    body = json.dumps(_payload(_alert("X", "critical"))).encode()
    status, answer = _request(sink.url + path, method, body)
    assert status == 404 and "no route" in answer["error"]
    assert sink.received == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_get_405_with_allow(sink: AlertSink, method: str) -> None:
    """Another method on a receiver path answers 405 with `Allow: POST` and a JSON error."""
    request = urllib.request.Request(f"{sink.url}/critical", method=method)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 405 and caught.value.headers["Allow"] == "POST"
    assert "no route" in json.loads(caught.value.read())["error"]


def test_oversized_body_gets_413(sink: AlertSink) -> None:
    """A body declared past MAX_BODY_BYTES answers 413 before it is sent, and a chunked body
    that grows past it answers 413 too; neither is logged."""
    host, port = sink.url.removeprefix("http://").split(":")
    declared = http.client.HTTPConnection(host, int(port), timeout=10)
    declared.putrequest("POST", "/critical")
    declared.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    declared.endheaders()
    reply = declared.getresponse()
    assert reply.status == 413 and "too large" in json.loads(reply.read())["error"]
    declared.close()
    chunked = http.client.HTTPConnection(host, int(port), timeout=10)
    chunks = (b" " * (1 << 16) for _ in range(MAX_BODY_BYTES // (1 << 16) + 1))
    chunked.request("POST", "/critical", body=chunks, encode_chunked=True)
    reply = chunked.getresponse()
    assert reply.status == 413 and "too large" in json.loads(reply.read())["error"]
    chunked.close()
    assert sink.received == []


def test_health(sink: AlertSink) -> None:
    """GET /health answers 200 with status ok."""
    assert _request(f"{sink.url}/health") == (200, {"status": "ok"})


def test_memory_keeps_only_the_latest_alerts() -> None:
    """Past `capacity`, the oldest alerts fall out of `received`; `wait_for` sees new ones."""
    sink = AlertSink(capacity=2)
    alerts = [
        ReceivedAlert("warning", "firing", {"alertname": f"A{i}"}, {}, None) for i in (1, 2, 3)
    ]
    with capture_logs() as logs:
        sink.record(alerts)
    assert [a.labels["alertname"] for a in sink.received] == ["A2", "A3"]
    assert len(_events(logs)) == 3
    assert sink.wait_for(lambda got: len(got) == 2, timeout_s=0)
    with pytest.raises(ValueError, match="capacity"):
        AlertSink(capacity=0)


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if _request(f"{url}/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{url}/health never answered")


def test_cli_verb_logs_json_lines_and_stops_on_sigterm() -> None:
    """`poolscope alert-sink` in a fresh interpreter answers /health, writes one JSON line per
    alert to stdout, exits 0 on SIGTERM and never imports torch."""
    port = free_port()
    proc = start_verb(["alert-sink", "--port", str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        alert = _alert("PoolscopeDoubleFree", "critical", pool="mamba")
        assert _post(f"{url}/critical", _payload(alert)) == (200, {"received": 1})
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        stop_process(proc)
    assert proc.returncode == 0, err
    *lines, last = out.splitlines()
    assert last == "0 False"
    (event,) = [orjson.loads(line) for line in lines]
    assert event["event"] == catalog.ALERT_RECEIVED.name and event["pool"] == "mamba"
    assert f"alert sink on {url}" in err


def test_cli_verb_reports_a_busy_port() -> None:
    """A port already taken ends in exit 2 with one `poolscope: error:` line."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "alert-sink", "--port", str(port)],
            capture_output=True, text=True, timeout=30, check=False,
        )
    assert result.returncode == 2
    assert result.stderr.startswith("poolscope: error:") and "Traceback" not in result.stderr
