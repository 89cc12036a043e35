"""The served exposition (`exposition`): the same bytes as prometheus_client's `generate_latest` on
the same data, and the values of the moment of each scrape."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from telemetry import catalog
from telemetry.metrics.exposition import ExpositionReader, ExpositionRegistry, exposition
from telemetry.metrics.gauges import GaugeSnapshot
from telemetry.metrics.meters import Metrics, MetricsSettings
from telemetry.metrics.render_bench import busy_metrics, busy_stats
from telemetry.pool_stats import PoolPartition, PoolStats


@pytest.fixture
def busy() -> Iterator[Metrics]:
    m = busy_metrics()
    yield m
    m.shutdown()


def value(text: bytes, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise KeyError(name)


def test_busy_registry_renders_the_same_bytes(busy: Metrics) -> None:
    """Every catalog metric, every pool, histograms with samples: byte-identical to
    generate_latest, twice (the second render from the kept line prefixes)."""
    assert isinstance(busy.registry, ExpositionRegistry)
    for _ in range(2):
        served = exposition(busy.registry)
        assert served == generate_latest(busy.registry)
    for spec in catalog.METRICS:
        assert f"# TYPE {spec.prometheus_name}".encode() in served


def test_new_and_removed_series_render_the_same_bytes(busy: Metrics) -> None:
    """A new label set, a new histogram series and a gauge losing pools all show at once, with
    the same text generate_latest writes."""
    exposition(busy.registry)
    busy.add(catalog.REQUESTS_FINISHED, 2, reason="stop")
    busy.record(catalog.STEP_DURATION, 0.7, phase="prefill")
    busy.add(catalog.MEMORY_LEAKS, 1, pool="full", kind="leak", extra="label")
    busy.snapshot = GaugeSnapshot(PoolStats({"full": PoolPartition(10, 4, 6)}), num_running=1)
    served = exposition(busy.registry)
    assert served == generate_latest(busy.registry)
    assert b'extra="label"' in served and b'pool="swa"' not in served.split(b"pool_usage")[1]


def test_label_values_are_escaped_as_prometheus_client_does() -> None:
    """A model name with a quote, a backslash, a newline and a Unicode line separator is
    escaped identically."""
    m = Metrics(MetricsSettings(model='we"ird\\mo\ndel\u2028x', pools=("full",)))
    m.snapshot = GaugeSnapshot(PoolStats({"full": PoolPartition(8, 8)}))
    m.record(catalog.REQUEST_TTFT, 0.2)
    try:
        assert exposition(m.registry) == generate_latest(m.registry)
        assert 'model="we\\"ird\\\\mo\\ndel\u2028x"'.encode() in exposition(m.registry)
    finally:
        m.shutdown()


def test_a_value_recorded_just_before_a_scrape_is_in_it(busy: Metrics) -> None:
    """Counters, histograms and gauges changed right before a scrape show their new values
    in that scrape, every time: no body is served stale."""
    running = catalog.REQUESTS_RUNNING.prometheus_name
    ttft = catalog.REQUEST_TTFT.prometheus_name
    for i in range(1, 6):
        before = value(exposition(busy.registry), f"{ttft}_count", model="poolscope-hybrid")
        busy.add(catalog.TOKENS_GENERATED, 7)
        busy.record(catalog.REQUEST_TTFT, 0.01 * i)
        busy.snapshot = GaugeSnapshot(busy_stats(i), num_running=i)
        text = exposition(busy.registry)
        assert value(text, running) == i
        assert value(text, f"{ttft}_count") == before + 1
        assert text == generate_latest(busy.registry)


def test_another_collector_falls_back_to_generate_latest(busy: Metrics) -> None:
    """A collector registered beside the reader is served too (the generic path)."""
    extra = Gauge("extra_gauge", "Not from OTel.", registry=busy.registry)
    extra.set(3)
    served = exposition(busy.registry)
    assert value(served, "extra_gauge") == 3
    assert served == generate_latest(busy.registry)
    busy.registry.unregister(extra)
    assert b"extra_gauge" not in exposition(busy.registry)


def test_a_plain_registry_is_served_by_generate_latest() -> None:
    """Metrics on a caller's CollectorRegistry serve the same exposition."""
    m = Metrics(MetricsSettings(model="m", pools=("full",)), CollectorRegistry())
    try:
        m.add(catalog.TOKENS_PROMPT, 5)
        assert value(exposition(m.registry), catalog.TOKENS_PROMPT.prometheus_name) == 5
    finally:
        m.shutdown()


def test_concurrent_scrapes_each_get_a_whole_exposition(busy: Metrics) -> None:
    """Served renders and generate_latest on other threads at once never take each other's
    collection (each body is whole, none empty or doubled)."""
    expected = exposition(busy.registry)
    bodies: list[bytes] = []

    def scrape(render: object) -> None:
        for _ in range(20):
            bodies.append(render(busy.registry))  # type: ignore[operator]

    threads = [threading.Thread(target=scrape, args=(r,))
               for r in (exposition, generate_latest, exposition, generate_latest)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 80 and set(bodies) == {expected}


def test_after_shutdown_nothing_is_served(busy: Metrics) -> None:
    """Once the provider is shut down the registry serves nothing, as generate_latest does."""
    busy.shutdown()
    assert exposition(busy.registry) == generate_latest(busy.registry) == b""


def provider_on(registry: ExpositionRegistry, views: list[View]) -> MeterProvider:
    reader = ExpositionReader(registry)
    registry.reader = reader
    return MeterProvider([reader], views=views)


def test_other_instrument_kinds_render_the_same_bytes() -> None:
    """Up-down counters (gauges), observable counters, units, two OTel names merged into one
    Prometheus family, several scopes: byte-identical to generate_latest."""
    registry = ExpositionRegistry()
    provider = provider_on(registry, [])
    first, second = provider.get_meter("one"), provider.get_meter("two", "1.0")
    first.create_up_down_counter("queue.depth", "By", "Bytes queued.").add(-3, {"q": "a"})
    first.create_counter("a.b", "s", "Merged.").add(1.5, {"x": "1"})
    second.create_counter("a_b", "s", "Merged.").add(2, {"x": "2"})
    second.create_observable_counter("seen", [lambda _: [Observation(9, {"k": "v"})]], "1", "")
    second.create_histogram("lat", "ms", "Latency.").record(12.5, {"p": "x"})
    try:
        for _ in range(2):
            assert exposition(registry) == generate_latest(registry)
        assert b'a_b_seconds_total{x="2"} 2.0' in exposition(registry)
    finally:
        provider.shutdown()


def test_a_kind_the_renderer_does_not_know_goes_the_exporters_way() -> None:
    """An exponential histogram, which the exporter cannot translate, fails the served render
    as it fails generate_latest (nothing left out silently); without it the rest renders."""
    registry = ExpositionRegistry()
    view = View(instrument_name="h", aggregation=ExponentialBucketHistogramAggregation())
    provider = provider_on(registry, [view])
    meter = provider.get_meter("t")
    meter.create_counter("c").add(2)
    try:
        assert exposition(registry) == generate_latest(registry)
        meter.create_histogram("h").record(1.0)
        with pytest.raises(AttributeError, match="value"):
            generate_latest(registry)
        with pytest.raises(AttributeError, match="value"):
            exposition(registry)
    finally:
        provider.shutdown()
