"""The catalog as Markdown (docs/telemetry.md): every metric and event, generated, never typed.
Regenerate it with `python -m telemetry.catalog_doc > docs/telemetry.md`.
"""

from __future__ import annotations

from telemetry import catalog
from telemetry.catalog import EventSpec, MetricSpec

HEADER = """# poolscope telemetry catalog

Generated from `telemetry/catalog.py` by `python -m telemetry.catalog_doc > docs/telemetry.md`;
a test fails when this file is stale. Every runtime metric also carries the label `model`.

"""


def _metric_row(spec: MetricSpec) -> str:
    labels = ", ".join(f"`{label}`" for label in spec.labels) or "—"
    return (f"| `{spec.prometheus_name}` | `{spec.otel_name}` | {spec.instrument.value} "
            f"| `{spec.unit}` | {labels} | {spec.description} |")


def _event_row(spec: EventSpec) -> str:
    fields = ", ".join(f"`{name}`" for name in spec.fields)
    return f"| `{spec.name}` | {fields} | {spec.description} |"


def render_markdown() -> str:
    metrics = [
        "## Metrics",
        "",
        "| Prometheus | OpenTelemetry | instrument | unit | labels | meaning |",
        "|---|---|---|---|---|---|",
        *(_metric_row(spec) for spec in catalog.METRICS),
    ]
    exporter = [
        "## Metrics of `poolscope logs export`",
        "",
        "Served by the log exporter only, beside the runtime metrics it reads from a log (pool "
        "usage, requests, throughput, leaks). Its series carry "
        + ", ".join(f"`{label}`" for label in catalog.EXPORT_LABELS)
        + " instead of `model`.",
        "",
        "| Prometheus | OpenTelemetry | instrument | unit | labels | meaning |",
        "|---|---|---|---|---|---|",
        *(_metric_row(spec) for spec in catalog.EXPORTER_METRICS),
    ]
    events = [
        "## Log events",
        "",
        "| event | fields | meaning |",
        "|---|---|---|",
        *(_event_row(spec) for spec in catalog.EVENTS),
    ]
    sections = ("\n".join(part) for part in (metrics, exporter, events))
    return HEADER + "\n\n".join(sections) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
