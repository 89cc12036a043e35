"""Views: the catalog's buckets, and exemplars off unless OTEL_METRICS_EXEMPLAR_FILTER asks."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from telemetry import catalog
from telemetry.metrics.views import exemplar_filter, views


def histogram_points(monkeypatch: pytest.MonkeyPatch, filter_name: str) -> list:
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", filter_name)
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], views=views(catalog.METRICS),
                             exemplar_filter=exemplar_filter())
    spec = catalog.REQUEST_TTFT
    provider.get_meter("t").create_histogram(spec.otel_name, spec.unit).record(0.3)
    data = reader.get_metrics_data()
    provider.shutdown()
    return [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            for p in m.data.data_points]


def test_histograms_use_the_catalog_buckets_and_keep_no_exemplars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By default a histogram has the catalog's bounds and no exemplar."""
    (point,) = histogram_points(monkeypatch, "")
    assert isinstance(point, HistogramDataPoint)
    assert tuple(point.explicit_bounds) == catalog.REQUEST_TTFT.buckets
    assert not point.exemplars


def test_the_standard_variable_turns_exemplars_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_METRICS_EXEMPLAR_FILTER=always_on gives the SDK's reservoirs: the sample is kept."""
    (point,) = histogram_points(monkeypatch, "always_on")
    assert [e.value for e in point.exemplars] == [0.3]
