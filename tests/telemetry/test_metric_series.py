"""Bound metric series (telemetry/metrics/bulk.py): a batch recorded in one pass into the SDK's
aggregations exports exactly what one SDK call per sample exports, and anything the fast path
does not know goes through the SDK's own calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    Counter,
    Histogram,
    MeterProvider,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from prometheus_client import generate_latest

from telemetry import catalog
from telemetry.metrics.bulk import CounterSeries, HistogramSeries
from telemetry.metrics.meters import Metrics, MetricsSettings

SETTINGS = MetricsSettings(model="tiny", pools=("full", "mamba"), cache_pools=("full",))
# on and beside bucket bounds, zero, past the last bound, and repeated values
BATCHES = [
    [0.035 + j * 1e-4 for j in range(32)],
    [0.0, 0.005, 0.01, 0.010000001, 0.1, 2.5, 1e9],
    [0.2],
    [],
    [0.05] * 7,
]


@pytest.fixture
def pair() -> Iterator[tuple[Metrics, Metrics]]:
    one, other = Metrics(SETTINGS), Metrics(SETTINGS)
    yield one, other
    one.shutdown()
    other.shutdown()


def _exposition(metrics: Metrics) -> list[str]:
    """The exposition without `_created` lines (their timestamps differ by construction)."""
    text = generate_latest(metrics.registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


def test_a_batch_in_one_pass_exports_what_one_record_per_sample_does(
    pair: tuple[Metrics, Metrics],
) -> None:
    """`record_many` (fast path, scrapes between batches) and `Metrics.record` per sample give
    the same buckets, count, sum, min/max-derived figures, for every batch shape."""
    bulk, one_by_one = pair
    itl = bulk.histogram_series(catalog.REQUEST_ITL)
    step = bulk.histogram_series(catalog.STEP_DURATION, phase="decode")
    for batch in BATCHES:
        itl.record_many(batch)
        for value in batch:
            one_by_one.record(catalog.REQUEST_ITL, value)
            step.record(value)
            one_by_one.record(catalog.STEP_DURATION, value, phase="decode")
        assert _exposition(bulk) == _exposition(one_by_one)  # a scrape resets the delta state
    assert itl.uses_fast_path() and step.uses_fast_path()


def test_a_counter_series_adds_what_metrics_add_does(pair: tuple[Metrics, Metrics]) -> None:
    """`CounterSeries.add` (fast path) matches `Metrics.add`, zero adds included."""
    bound, plain = pair
    leaks = bound.counter_series(catalog.MEMORY_LEAKS, pool="mamba", kind="double_free")
    generated = bound.counter_series(catalog.TOKENS_GENERATED)
    for n in (3, 0, 1, 250, 0.5):
        leaks.add(n)
        generated.add(n)
        plain.add(catalog.MEMORY_LEAKS, n, pool="mamba", kind="double_free")
        plain.add(catalog.TOKENS_GENERATED, n)
        assert _exposition(bound) == _exposition(plain)
    assert leaks.uses_fast_path() and generated.uses_fast_path()


def test_values_the_sdk_refuses_go_through_the_sdk(pair: tuple[Metrics, Metrics]) -> None:
    """A batch holding a negative, NaN or infinite value is recorded sample by sample, so the
    SDK drops exactly those values, as it would from single calls."""
    bulk, one_by_one = pair
    itl = bulk.histogram_series(catalog.REQUEST_ITL)
    batch = [0.1, -1.0, float("nan"), float("inf"), 0.3]
    itl.record_many(batch)
    for value in batch:
        one_by_one.record(catalog.REQUEST_ITL, value)
    assert _exposition(bulk) == _exposition(one_by_one)
    assert any(line.startswith("poolscope_request_inter_token_latency_seconds_count") and
               line.endswith(" 2.0") for line in _exposition(bulk))


def _provider(reader: InMemoryMetricReader, **kwargs: object) -> MeterProvider:
    return MeterProvider(metric_readers=[reader], **kwargs)  # type: ignore[arg-type]


def _points(reader: InMemoryMetricReader) -> list[object]:
    data = reader.get_metrics_data()
    assert data is not None
    return [point for rm in data.resource_metrics for sm in rm.scope_metrics
            for metric in sm.metrics for point in metric.data.data_points]


def test_a_delta_reader_or_exemplars_take_the_sdk_path() -> None:
    """With a delta reader (it drops aggregations at collection) or an exemplar filter on,
    the series records through the SDK and nothing is lost between collections."""
    delta = InMemoryMetricReader(preferred_temporality={
        Histogram: AggregationTemporality.DELTA, Counter: AggregationTemporality.DELTA})
    exemplars = InMemoryMetricReader()
    cases = [(_provider(delta), delta, 1),
             (_provider(exemplars, exemplar_filter=AlwaysOnExemplarFilter()), exemplars, 0)]
    for provider, reader, is_delta in cases:
        meter = provider.get_meter("test")
        series = HistogramSeries(meter.create_histogram("h"), {"model": "m"})
        counter = CounterSeries(meter.create_counter("c"), {"model": "m"})
        for collection in (1, 2):
            series.record_many([0.1, 0.2, 0.3])
            counter.add(2)
            assert not series.uses_fast_path() and not counter.uses_fast_path()
            seen = {type(p).__name__: getattr(p, "count", getattr(p, "value", None))
                    for p in _points(reader)}
            times = 1 if is_delta else collection
            assert seen == {"HistogramDataPoint": 3 * times, "NumberDataPoint": 2 * times}
        provider.shutdown()


def _histogram_point(reader: InMemoryMetricReader) -> tuple[object, ...]:
    (point,) = _points(reader)
    return (point.count, point.sum, point.bucket_counts, point.min,  # type: ignore[attr-defined]
            point.max)  # type: ignore[attr-defined]


def test_otlp_figures_min_and_max_included_match_one_record_per_sample() -> None:
    """What an OTLP reader collects (count, sum, buckets, min, max) is the same for a batch in
    one pass as for one `Histogram.record` per sample."""
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    providers = [_provider(r, exemplar_filter=AlwaysOffExemplarFilter()) for r in readers]
    bulk = HistogramSeries(providers[0].get_meter("t").create_histogram("h"), {"model": "m"})
    single = providers[1].get_meter("t").create_histogram("h")
    for batch in BATCHES:
        bulk.record_many(batch)
        for value in batch:
            single.record(value, {"model": "m"})
        if batch:
            assert _histogram_point(readers[0]) == _histogram_point(readers[1])
    assert bulk.uses_fast_path()
    for provider in providers:
        provider.shutdown()
