"""The Prometheus text exposition of one OpenTelemetry collection, written straight from the SDK's
`MetricsData` with the values of this collection.

What makes `generate_latest` slow on the OTel exporter's registry is per-sample work whose result
never changes between scrapes: translating each point into a prometheus_client sample, then
validating, escaping and sorting its labels. Here that work is done once per family *shape* (its
series and bucket bounds): the exporter itself translates the family and prometheus_client
renders it (so names, HELP/TYPE and label escaping are theirs, byte for byte), and the rendered
line prefixes are kept. Each scrape then only formats the values, with prometheus_client's float
formatting, in the order the exporter emits them. A family whose shape changed (a new label set)
is rendered again the slow way, so every scrape shows every series with its current value.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from itertools import accumulate

from opentelemetry.exporter.prometheus import _CustomCollector
from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_full_name
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client import generate_latest
from prometheus_client.utils import floatToGoString

Scoped = tuple[Metric, InstrumentationScope]


@dataclass(frozen=True)
class _Template:
    """One family as the exporter and prometheus_client render it: HELP/TYPE lines and, per
    sample, everything before the value."""

    shape: Hashable
    header: str
    prefixes: tuple[str, ...]


def _kind(metric: Metric) -> str:
    """The exporter's family class for a metric (cumulative non-monotonic sums become gauges)."""
    data = metric.data
    if isinstance(data, Histogram):
        return "histogram"
    if isinstance(data, Sum) and (
        data.is_monotonic or data.aggregation_temporality != AggregationTemporality.CUMULATIVE
    ):
        return "counter"
    return "gauge"


def _family_id(metric: Metric) -> tuple[str, str, str, str]:
    """The key under which the exporter merges metrics into one Prometheus family."""
    return (sanitize_full_name(metric.name), metric.description or "",
            map_unit(metric.unit or ""), _kind(metric))


def _shape(family: list[Scoped]) -> Hashable:
    """What the rendered prefixes depend on: scopes, label sets (in order) and bucket bounds."""
    return tuple(
        (scope, tuple(
            (tuple(point.attributes.items()), tuple(getattr(point, "explicit_bounds", ())))
            for point in metric.data.data_points
        ))
        for metric, scope in family
    )


def _values(family: list[Scoped]) -> Iterator[float]:
    """Sample values in the exporter's order: one per point, or for a histogram point its
    cumulative buckets (+Inf last), its count, then its sum."""
    for metric, _ in family:
        if isinstance(metric.data, Histogram):
            for point in metric.data.data_points:
                cumulative = list(accumulate(point.bucket_counts))
                yield from cumulative
                yield cumulative[-1]
                yield point.sum
        else:
            for point in metric.data.data_points:
                yield point.value


class TextRenderer:
    """Writes the exposition of a collection as `generate_latest` would on the exporter's
    registry (no target_info; scope labels when `scope_info_enabled`)."""

    def __init__(self, scope_info_enabled: bool = False) -> None:
        self._scope_info_enabled = scope_info_enabled
        self._templates: dict[tuple[str, str, str, str], _Template] = {}

    def render(self, data: MetricsData) -> bytes:
        out: list[str] = []
        for key, family in _families(data).items():
            template = self._template(key, family)
            out.append(template.header)
            values = _values(family)
            out.extend([f"{prefix} {floatToGoString(value)}\n"
                        for prefix, value in zip(template.prefixes, values, strict=True)])
        return "".join(out).encode("utf-8")

    def _template(self, key: tuple[str, str, str, str], family: list[Scoped]) -> _Template:
        shape = _shape(family)
        template = self._templates.get(key)
        if template is None or template.shape != shape:
            template = self._templates[key] = self._build(shape, family)
        return template

    def _build(self, shape: Hashable, family: list[Scoped]) -> _Template:
        # Only "\n" ends a line: label values may hold other line separators, unescaped.
        lines = [f"{line}\n" for line in self._exporter_text(family).split("\n")[:-1]]
        # HELP and TYPE come first: the exporter's families carry no OpenMetrics `_created`
        # samples, which generate_latest would write as a second family after them.
        header = "".join(line for line in lines if line.startswith("#"))
        prefixes = tuple(line.rsplit(" ", 1)[0] for line in lines if not line.startswith("#"))
        return _Template(shape, header, prefixes)

    def _exporter_text(self, metrics: list[Scoped]) -> str:
        """What the exporter's collector and `generate_latest` write for these metrics."""
        collector = _CustomCollector(disable_target_info=True,
                                     scope_info_enabled=self._scope_info_enabled)
        collector.add_metrics_data(MetricsData([ResourceMetrics(
            Resource.get_empty(), [ScopeMetrics(scope, [metric], "") for metric, scope in metrics],
            "",
        )]))
        return generate_latest(collector).decode("utf-8")


def _families(data: MetricsData) -> dict[tuple[str, str, str, str], list[Scoped]]:
    """Metrics grouped into Prometheus families, in the order the exporter first meets them (a
    kind the exporter cannot translate fails in `_build`, as it fails `generate_latest`)."""
    families: dict[tuple[str, str, str, str], list[Scoped]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                families.setdefault(_family_id(metric), []).append((metric, scope_metrics.scope))
    return families
