"""OpenTelemetry wiring: one MeterProvider whose instruments come from the catalog.

Readers: a PrometheusMetricReader on its own CollectorRegistry (no target_info, no scope labels;
the runtime serves it at `GET /metrics` through `exposition`, which writes the same text faster),
plus an OTLP/HTTP exporter when `otlp` is set (both at once). The OTLP exporter and its reader
take their endpoint, headers, timeout and interval from the SDK's standard
`OTEL_EXPORTER_OTLP_*` and `OTEL_METRIC_EXPORT_*` variables.
Gauges are observable and read `Metrics.snapshot`; counters start at 0 for every known label set
so that alerts see the first increase; histograms use the catalog's buckets.

    metrics = Metrics(MetricsSettings(model="poolscope-hybrid", pools=("full", "mamba")))
    metrics.add(catalog.MEMORY_LEAKS, 1, pool="full", kind="leak")
    generated = metrics.counter_series(catalog.TOKENS_GENERATED)  # labels bound once
    generated.add(32)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry

from telemetry import catalog
from telemetry.catalog import Instrument, MetricSpec
from telemetry.metrics.bulk import CounterSeries, HistogramSeries
from telemetry.metrics.exposition import ExpositionReader, ExpositionRegistry
from telemetry.metrics.gauges import READERS, GaugeSnapshot
from telemetry.metrics.views import exemplar_filter, views

# Components of the prefix cache: the only pools `tokens.cached` and `pool.evicted` can name.
CACHE_METRICS = (catalog.TOKENS_CACHED, catalog.POOL_EVICTED)


def package_version() -> str:
    try:
        return version("poolscope")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


@dataclass(frozen=True)
class MetricsSettings:
    """What the instruments are labelled with, which pools exist (counters are pre-created for
    those only), and whether metrics also go over OTLP (where to: the SDK's `OTEL_*` variables)."""

    model: str
    pools: tuple[str, ...] = catalog.POOLS
    cache_pools: tuple[str, ...] = ("full", "swa", "mamba")
    otlp: bool = False
    version: str = field(default_factory=package_version)

    def __post_init__(self) -> None:
        unknown = set(self.pools) - set(catalog.POOLS)
        if unknown:
            raise ValueError(f"unknown pools {sorted(unknown)}; known: {catalog.POOLS}")


class Metrics:
    """The catalog's instruments on one MeterProvider. Thread-safe: `add`/`record` may run on
    the engine thread while a scrape runs on the HTTP thread."""

    def __init__(
        self, settings: MetricsSettings, registry: CollectorRegistry | None = None
    ) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else ExpositionRegistry()
        self.snapshot: GaugeSnapshot | None = None
        self.provider = MeterProvider(
            metric_readers=self._readers(), resource=self._resource(),
            views=views(catalog.METRICS), exemplar_filter=exemplar_filter(),
        )
        meter = self.provider.get_meter("poolscope", settings.version)
        self._counters: dict[MetricSpec, Counter] = {}
        self._histograms: dict[MetricSpec, Histogram] = {}
        for spec in catalog.METRICS:
            if spec.instrument is Instrument.GAUGE:
                meter.create_observable_gauge(spec.otel_name, [self._observer(spec)],
                                              spec.unit, spec.description)
            elif spec.instrument is Instrument.COUNTER:
                self._counters[spec] = meter.create_counter(spec.otel_name, spec.unit,
                                                            spec.description)
            else:
                self._histograms[spec] = meter.create_histogram(spec.otel_name, spec.unit,
                                                                spec.description)
        self._precreate_counters()

    def _readers(self) -> list[MetricReader]:
        prometheus = ExpositionReader(self.registry)
        if isinstance(self.registry, ExpositionRegistry):
            self.registry.reader = prometheus
        readers: list[MetricReader] = [prometheus]
        if self.settings.otlp:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        return readers

    def _resource(self) -> Resource:
        return Resource.create({
            "service.name": catalog.NAMESPACE, "service.version": self.settings.version,
            "poolscope.model": self.settings.model,
        })

    def _observer(self, spec: MetricSpec) -> Callable[[CallbackOptions], Iterable[Observation]]:
        read = READERS[spec]

        def observe(_: CallbackOptions) -> list[Observation]:
            snapshot = self.snapshot  # one read: the engine thread may swap it meanwhile
            if snapshot is None:
                return []
            return [Observation(value, self._labels(labels)) for value, labels in read(snapshot)]

        return observe

    def _labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        return {"model": self.settings.model, **labels}

    def label_sets(self, spec: MetricSpec) -> list[dict[str, str]]:
        """Every known label set of a metric (the model label aside)."""
        domains = {**catalog.LABEL_VALUES, "pool": self.settings.pools}
        if spec in CACHE_METRICS:
            domains["pool"] = self.settings.cache_pools
        values = [domains[label] for label in spec.labels]
        return [dict(zip(spec.labels, combo, strict=True)) for combo in itertools.product(*values)]

    def _precreate_counters(self) -> None:
        for spec, counter in self._counters.items():
            for labels in self.label_sets(spec):
                counter.add(0, self._labels(labels))

    def add(self, spec: MetricSpec, value: float, **labels: str) -> None:
        """Adds to a counter; labels beyond `model` as keyword arguments."""
        if spec.instrument is not Instrument.COUNTER:
            raise TypeError(f"{spec.name} is a {spec.instrument.value}, not a counter")
        if value:
            self._counters[spec].add(value, self._labels(labels))

    def record(self, spec: MetricSpec, value: float, **labels: str) -> None:
        """Records one histogram sample."""
        if spec.instrument is not Instrument.HISTOGRAM:
            raise TypeError(f"{spec.name} is a {spec.instrument.value}, not a histogram")
        self._histograms[spec].record(value, self._labels(labels))

    def counter_series(self, spec: MetricSpec, **labels: str) -> CounterSeries:
        """One counter and label set, bound once: for a caller that adds to it often."""
        if spec.instrument is not Instrument.COUNTER:
            raise TypeError(f"{spec.name} is a {spec.instrument.value}, not a counter")
        return CounterSeries(self._counters[spec], self._labels(labels))

    def histogram_series(self, spec: MetricSpec, **labels: str) -> HistogramSeries:
        """One histogram and label set, bound once; `record_many` takes a batch in one pass."""
        if spec.instrument is not Instrument.HISTOGRAM:
            raise TypeError(f"{spec.name} is a {spec.instrument.value}, not a histogram")
        return HistogramSeries(self._histograms[spec], self._labels(labels))

    def force_flush(self) -> bool:
        return self.provider.force_flush()

    def shutdown(self) -> None:
        """Flushes OTLP and detaches the Prometheus collector from the registry."""
        self.provider.shutdown()

