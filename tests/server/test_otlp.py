"""OTLP/HTTP export: a local receiver gets the same metrics the Prometheus endpoint shows."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from runtime.config import env_settings
from runtime.engine.observability import ObservabilitySettings
from telemetry import catalog
from tests.server.harness import complete_all, greedy_body, served, wait_idle


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]]
    headers_seen: list[dict[str, str]]

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.bodies.append((self.path, body))
        self.headers_seen.append(dict(self.headers.items()))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(b"")

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def receiver(
    headers_seen: list[dict[str, str]] | None = None,
) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    bodies: list[tuple[str, bytes]] = []
    seen = headers_seen if headers_seen is not None else []
    handler = type("Handler", (_Receiver,), {"bodies": bodies, "headers_seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def _last_export(
    bodies: list[tuple[str, bytes]], path: str = "/v1/metrics"
) -> ExportMetricsServiceRequest:
    assert bodies, "the receiver got nothing"
    got, body = bodies[-1]
    assert got == path
    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    return request


@pytest.mark.slow
def test_otlp_receiver_gets_every_catalog_metric(
    nemotron_h_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an OTLP endpoint set, the exported payload decodes to every catalog metric under its
    OTel name, with the poolscope resource, and the pool gauges equal the engine's partition."""
    with receiver() as (endpoint, bodies):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        settings = ObservabilitySettings(otlp=True)
        with served(nemotron_h_dir, observability=settings) as s:
            complete_all(s.url, [greedy_body(list(range(5, 30)), 6)])
            wait_idle(s)
            assert s.server.metrics.force_flush()
            stats, model = s.summary().stats, s.server.state.model_name
        export = _last_export(bodies)
    (resource_metrics,) = export.resource_metrics
    resource = {a.key: a.value.string_value for a in resource_metrics.resource.attributes}
    assert resource["service.name"] == "poolscope" and resource["poolscope.model"] == model
    metrics = {m.name: m for scope in resource_metrics.scope_metrics for m in scope.metrics}
    assert set(metrics) == {spec.otel_name for spec in catalog.METRICS}
    slots = {}
    for point in metrics["poolscope.pool.slots"].gauge.data_points:
        labels = {a.key: a.value.string_value for a in point.attributes}
        assert labels["model"] == model
        slots[(labels["pool"], labels["state"])] = point.as_double
    assert slots == {(pool, state): part.state(state) for pool, part in stats.pools.items()
                     for state in catalog.STATES}
    generated = metrics["poolscope.tokens.generated"].sum
    assert generated.is_monotonic and generated.data_points[0].as_int == 6
    assert metrics["poolscope.request.ttft"].histogram.data_points[0].count == 1


@pytest.mark.slow
def test_otlp_metrics_endpoint_and_headers_come_from_the_sdk_variables(
    nemotron_h_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is used as given (no path appended) and
    `OTEL_EXPORTER_OTLP_HEADERS` arrive on every export, as the OTel specification says."""
    headers: list[dict[str, str]] = []
    with receiver(headers) as (endpoint, bodies):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"{endpoint}/custom/path")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=team-a,authorization=Bearer%20k")
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
        assert env_settings().otlp
        with served(nemotron_h_dir, observability=ObservabilitySettings(otlp=True)) as s:
            complete_all(s.url, [greedy_body(list(range(5, 12)), 2)])
            assert s.server.metrics.force_flush()
        export = _last_export(bodies, "/custom/path")
    assert export.resource_metrics
    lowered = {k.lower(): v for k, v in headers[-1].items()}
    assert lowered["x-tenant"] == "team-a" and lowered["authorization"] == "Bearer k"


def test_otlp_is_off_without_an_endpoint_variable() -> None:
    """Export is on when either standard endpoint variable is set, and off when neither is."""
    assert not env_settings({}).otlp
    assert env_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).otlp
    assert env_settings({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/m"}).otlp
