"""What `GET /metrics` serves: the registry's exposition, written by `TextRenderer` from a fresh
OpenTelemetry collection when the registry holds only our reader's collector, else by
prometheus_client's `generate_latest` (the same text, slower).

The reader stays a `PrometheusMetricReader` feeding its registry, so anything that calls
`generate_latest` on the registry (tests, `poolscope bench scrape`) still gets the same text.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics.export import MetricsData
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from telemetry.metrics.text import TextRenderer


class ExpositionReader(PrometheusMetricReader):
    """A PrometheusMetricReader (no target_info, no scope labels) that can also write the
    exposition of a collection itself, without building prometheus_client samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(disable_target_info=True, scope_info_enabled=False, registry=registry)
        self._text = TextRenderer(scope_info_enabled=False)
        # Set on the thread that renders: its collection comes back here, not to the registry's
        # collector (a `generate_latest` on another thread keeps its own).
        self._direct = threading.local()

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
                         **kwargs: Any) -> None:
        if getattr(self._direct, "active", False):
            self._direct.data = metrics_data
            return
        super()._receive_metrics(metrics_data, timeout_millis, **kwargs)

    def render(self) -> bytes:
        """Collects now (gauge callbacks run, counters and histograms as recorded so far) and
        writes the exposition of exactly that collection."""
        self._direct.active, self._direct.data = True, None
        try:
            self.collect()
            data = self._direct.data
        finally:
            self._direct.active, self._direct.data = False, None
        return b"" if data is None else self._text.render(data)

    @property
    def collector(self) -> Collector:
        """What the reader registered in its registry."""
        return self._collector


class ExpositionRegistry(CollectorRegistry):
    """A CollectorRegistry that knows which collectors it holds, so that `exposition` can tell
    when the reader's own rendering is the whole of it."""

    def __init__(self) -> None:
        super().__init__()
        self._held: set[Collector] = set()
        self.reader: ExpositionReader | None = None

    def register(self, collector: Collector) -> None:
        super().register(collector)
        self._held.add(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        self._held.discard(collector)

    def serves_only(self, reader: ExpositionReader) -> bool:
        return self._held == {reader.collector}


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition (format 0.0.4) of everything in the registry."""
    if isinstance(registry, ExpositionRegistry):
        reader = registry.reader
        if reader is not None and registry.serves_only(reader):
            return reader.render()
    return generate_latest(registry)
