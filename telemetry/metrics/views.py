"""The View of each catalog instrument: the catalog's buckets for histograms, and no exemplars
unless `OTEL_METRICS_EXEMPLAR_FILTER` asks for them.

Exemplars link a sample to a sampled trace; poolscope starts no traces, so the SDK's default
filter (trace_based) never keeps one, yet every scrape still walked each series' empty reservoir
(about an eighth of a render). With the filter off, a reservoir would only ever be empty, so an
empty one is exactly what it collects.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.environment_variables import OTEL_METRICS_EXEMPLAR_FILTER
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    Exemplar,
    ExemplarFilter,
    ExemplarReservoir,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.util.types import Attributes

from telemetry.catalog import Instrument, MetricSpec


class NoExemplars(ExemplarReservoir):
    """The reservoir of a stream whose exemplar filter is off: nothing is offered, nothing kept."""

    def offer(self, value: float, time_unix_nano: int, attributes: Attributes,
              context: Context) -> None:
        return None

    def collect(self, point_attributes: Attributes) -> list[Exemplar]:
        return []


def _no_exemplars(_aggregation: type) -> Callable[..., ExemplarReservoir]:
    return lambda **_: NoExemplars()


def exemplars_off() -> bool:
    """Off unless the SDK's standard variable names a filter."""
    return not os.environ.get(OTEL_METRICS_EXEMPLAR_FILTER)


def exemplar_filter() -> ExemplarFilter | None:
    """AlwaysOff, or None to let the SDK read `OTEL_METRICS_EXEMPLAR_FILTER`."""
    return AlwaysOffExemplarFilter() if exemplars_off() else None


def views(specs: tuple[MetricSpec, ...]) -> list[View]:
    """One View per instrument that needs one (two matching Views would make two streams)."""
    reservoir: dict[str, Any] = {"exemplar_reservoir_factory": _no_exemplars} \
        if exemplars_off() else {}
    result = []
    for spec in specs:
        buckets: dict[str, Any] = {}
        if spec.instrument is Instrument.HISTOGRAM:
            buckets["aggregation"] = ExplicitBucketHistogramAggregation(list(spec.buckets))
        if buckets or reservoir:
            result.append(View(instrument_name=spec.otel_name, **buckets, **reservoir))
    return result
