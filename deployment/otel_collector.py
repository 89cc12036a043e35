"""The OpenTelemetry Collector configuration that keeps poolscope's Prometheus names when its
OTLP metrics are remote-written to a long-term store.

The Collector names series by the OTel-to-Prometheus rules (dots → underscores, `_total` on
monotonic sums, unit suffixes) as the runtime's own /metrics does, with one difference: a gauge
of unit `1` gets `_ratio` (`poolscope_pool_usage_ratio`), which the runtime's exporter does not
add. The transform processor clears that unit on the catalog's `1` metrics only, so the rules and
dashboards see the same names either way. Resource attributes stay on `target_info`; `job` comes
from `service.name` and `instance` from `service.instance.id`.
"""

from __future__ import annotations

from telemetry import catalog

COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib:0.114.0"  # has transform + remote write
CONFIG_FILE = "config.yaml"
OTLP_HTTP_PORT = 4318
REMOTE_WRITE_ENV = "REMOTE_WRITE_URL"
# Mimir's push path; Thanos Receive takes http://<receive>:19291/api/v1/receive instead.
REMOTE_WRITE_PLACEHOLDER = "http://mimir-nginx.mimir.svc/api/v1/push"
TRANSFORM = "transform/poolscope-units"


def dimensionless_metrics() -> list[str]:
    """OTel names of the catalog's unit-`1` metrics (the ones the Collector would suffix)."""
    return sorted(spec.otel_name for spec in catalog.METRICS if spec.unit == "1")


def _transform() -> dict[str, object]:
    statements = [f'set(unit, "") where name == "{name}"' for name in dimensionless_metrics()]
    return {"metric_statements": [{"context": "metric", "statements": statements}]}


def collector_config() -> dict[str, object]:
    processors = ["memory_limiter", TRANSFORM, "batch"]
    return {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"}}}},
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80,
                               "spike_limit_percentage": 20},
            TRANSFORM: _transform(),
            "batch": {},
        },
        "exporters": {"prometheusremotewrite": {
            "endpoint": f"${{env:{REMOTE_WRITE_ENV}}}",
            "resource_to_telemetry_conversion": {"enabled": False},
            "target_info": {"enabled": True},
        }},
        "service": {"pipelines": {"metrics": {
            "receivers": ["otlp"], "processors": processors,
            "exporters": ["prometheusremotewrite"],
        }}},
    }
