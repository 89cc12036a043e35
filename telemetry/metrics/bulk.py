"""Metric series bound once, and many samples of one histogram series recorded in one pass,
into the SDK's own aggregations.

A decode step of 32 requests brings 32 inter-token latencies; the SDK's `Histogram.record`
costs about 13 µs a sample on the 2-core machine (a Measurement, attribute cleaning and hashing,
three layers of dispatch, a lock), so the frontend spent ~0.45 ms a step on them alone.
`HistogramSeries.record_many` adds the whole batch to each reader's
`_ExplicitBucketHistogramAggregation` of that attribute set under its lock, doing per sample
exactly what `aggregate` does (sum, min, max, bucket count), so every exported figure is the
same as with one `record` per sample, and a scrape sees all of a batch or none of it.
`CounterSeries.add` does the same for one counter increment (`_SumAggregation.aggregate`).

It reaches into SDK internals, so it does so only where it knows them: the pinned SDK version
(`FAST_PATH_SDK`), exemplars off, cumulative aggregation (a delta reader discards its
aggregations at each collection), the explicit-bucket aggregation, finite non-negative values.
Anything else, or an aggregation that moved, goes through `Histogram.record` sample by sample.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter
from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
from opentelemetry.sdk.metrics._internal.aggregation import (
    _ExplicitBucketHistogramAggregation,
    _SumAggregation,
)
from opentelemetry.sdk.version import __version__ as SDK_VERSION

FAST_PATH_SDK = "1.45.2"  # the version whose `aggregate` the fast path repeats


@dataclass
class _Target:
    """One reader's aggregation of the series, and where the SDK keeps it (to see it moved)."""

    table: dict[Any, Any]  # the view match's attribute set -> aggregation
    key: Any
    aggregation: Any

    def is_current(self) -> bool:
        return self.table.get(self.key) is self.aggregation


class _Series:
    """One synchronous instrument with one attribute set, bound once (the attributes are built
    and checked once, not per call), and the SDK aggregations that hold it once resolved."""

    aggregation_type: type

    def __init__(self, instrument: Any, attributes: Mapping[str, str]) -> None:
        self.instrument = instrument
        self.attributes = dict(attributes)
        self._targets: list[_Target] | None = None
        self._storages: object = None  # the consumer's reader storages the targets came from

    def uses_fast_path(self) -> bool:
        """Whether this series adds to the SDK's aggregations directly (tests, diagnostics)."""
        return self._fast_targets() is not None

    def _fast_targets(self) -> list[_Target] | None:
        if SDK_VERSION != FAST_PATH_SDK:
            return None
        consumer = getattr(self.instrument, "_measurement_consumer", None)
        storages = getattr(consumer, "_reader_storages", None)
        if storages is None or not self.instrument._is_enabled():
            return None
        targets = self._targets
        if targets is None or storages is not self._storages or not _all_current(targets):
            targets = self._targets = self._resolve(consumer, storages)
            self._storages = storages
        return targets

    def _resolve(self, consumer: Any, storages: Mapping[Any, Any]) -> list[_Target] | None:
        """Finds each reader's aggregation of this series (a first sample creates them)."""
        if not isinstance(consumer._sdk_config.exemplar_filter, AlwaysOffExemplarFilter):
            return None
        targets = []
        for storage in storages.values():
            matches = storage._instrument_view_instrument_matches.get(self.instrument)
            if matches is None:
                return None  # nothing recorded yet: the next record creates them
            for match in matches:
                target = self._target(match)
                if target is None:
                    return None
                targets.append(target)
        return targets

    def _target(self, match: Any) -> _Target | None:
        if match._reset_on_collect:
            return None
        keys = match._view._attribute_keys
        kept = (self.attributes if keys is None
                else {k: v for k, v in self.attributes.items() if k in keys})
        key = _hash_attributes(kept)
        aggregation = match._attributes_aggregation.get(key)
        if type(aggregation) is not self.aggregation_type:
            return None  # not created yet, or another aggregation
        return _Target(match._attributes_aggregation, key, aggregation)


class HistogramSeries(_Series):
    """A histogram series; `record_many` takes a batch in one pass."""

    aggregation_type = _ExplicitBucketHistogramAggregation

    def record(self, value: float) -> None:
        self.record_many((value,))

    def record_many(self, values: Sequence[float]) -> None:
        """Records every value, in order, as `Histogram.record` would one by one."""
        if not values:
            return
        targets = self._fast_targets()
        # a NaN or inf makes the sum NaN or inf: such a batch, or a negative value, goes
        # through the SDK, which drops those values with its warning
        if targets is None or not (0 <= sum(values) < math.inf and min(values) >= 0):
            for value in values:
                self.instrument.record(value, self.attributes)
            return
        for target in targets:
            _aggregate_histogram(target.aggregation, values)


class CounterSeries(_Series):
    """A counter series; adding 0 records nothing, as `Metrics.add`."""

    aggregation_type = _SumAggregation

    def add(self, value: float) -> None:
        if not value:
            return
        targets = self._fast_targets()
        if targets is None or not 0 < value < math.inf:
            self.instrument.add(value, self.attributes)
            return
        for target in targets:
            _aggregate_sum(target.aggregation, value)


def _all_current(targets: list[_Target]) -> bool:
    for target in targets:
        if not target.is_current():
            return False
    return True


def _aggregate_histogram(aggregation: _ExplicitBucketHistogramAggregation,
                         values: Sequence[float]) -> None:
    """`_ExplicitBucketHistogramAggregation.aggregate` for each value, under one lock hold
    (no exemplar is offered: the filter is off)."""
    with aggregation._lock:
        if aggregation._value is None:
            aggregation._value = aggregation._get_empty_bucket_counts()
        counts, boundaries = aggregation._value, aggregation._boundaries
        total = aggregation._sum
        for value in values:
            total += value
            counts[bisect_left(boundaries, value)] += 1
        aggregation._sum = total
        if aggregation._record_min_max:
            aggregation._min = min(aggregation._min, *values)
            aggregation._max = max(aggregation._max, *values)


def _aggregate_sum(aggregation: _SumAggregation, value: float) -> None:
    """`_SumAggregation.aggregate` (no exemplar is offered: the filter is off)."""
    with aggregation._lock:
        if aggregation._value is None:
            aggregation._value = 0
        aggregation._value = aggregation._value + value
