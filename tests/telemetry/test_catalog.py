"""The catalog: unique names, Prometheus names as the exporter derives them, readers for gauges."""

from __future__ import annotations

import pytest

from telemetry import catalog
from telemetry.catalog import Instrument, MetricSpec
from telemetry.metrics.gauges import READERS


def test_names_are_unique_and_namespaced() -> None:
    """No two metrics (the exporter's included) or events share a name; every metric lives
    under `poolscope.`."""
    metrics = catalog.METRICS + catalog.EXPORTER_METRICS
    names = [m.name for m in metrics]
    assert len(names) == len(set(names))
    assert all(m.otel_name.startswith("poolscope.") for m in metrics)
    events = [e.name for e in catalog.EVENTS]
    assert len(events) == len(set(events))


@pytest.mark.parametrize(
    ("name", "instrument", "unit", "expected"),
    [
        ("pool.slots", Instrument.GAUGE, "{slot}", "poolscope_pool_slots"),
        ("memory.leaks", Instrument.COUNTER, "{check}", "poolscope_memory_leaks_total"),
        ("request.ttft", Instrument.HISTOGRAM, "s", "poolscope_request_ttft_seconds"),
        ("token_usage", Instrument.GAUGE, "1", "poolscope_token_usage"),
        ("generation.throughput", Instrument.GAUGE, "{token}/s",
         "poolscope_generation_throughput_per_second"),
        ("x.bytes", Instrument.GAUGE, "By", "poolscope_x_bytes"),
    ],
)
def test_prometheus_names_follow_the_exporter_rules(
    name: str, instrument: Instrument, unit: str, expected: str
) -> None:
    """Annotations and `1` vanish, `s` becomes `_seconds`, `x/s` `_per_second`, counters
    get `_total`, and a name already ending in its unit is not suffixed twice."""
    buckets = (1.0,) if instrument is Instrument.HISTOGRAM else ()
    assert MetricSpec(name, instrument, unit, (), "d", buckets).prometheus_name == expected


def test_specs_refuse_unknown_labels_and_misplaced_buckets() -> None:
    """A label without a value domain, or buckets on a non-histogram, fail at definition."""
    with pytest.raises(ValueError, match="no domain"):
        MetricSpec("x", Instrument.COUNTER, "1", ("colour",), "d")
    with pytest.raises(ValueError, match="buckets"):
        MetricSpec("x", Instrument.GAUGE, "1", (), "d", (1.0,))
    with pytest.raises(ValueError, match="buckets"):
        MetricSpec("x", Instrument.HISTOGRAM, "s", (), "d")


def test_every_gauge_has_a_reader_and_only_gauges() -> None:
    """Each observable gauge reads the snapshot through exactly one reader."""
    assert set(READERS) == {m for m in catalog.METRICS if m.instrument is Instrument.GAUGE}


def test_token_usage_carries_the_fixme() -> None:
    """The compatibility name's help text says it is the max over all pools, mamba included."""
    text = catalog.TOKEN_USAGE.description
    assert "FIXME" in text and "maximum usage across all pools" in text and "mamba" in text
    assert "mamba excluded" in catalog.KV_TOKEN_USAGE.description


def test_lookup_by_name() -> None:
    """Entries are found by OTel name (with or without the namespace) and event name."""
    assert catalog.metric("poolscope.pool.usage") is catalog.POOL_USAGE
    assert catalog.metric("pool.usage") is catalog.POOL_USAGE
    assert catalog.metric("logs.lines") is catalog.LOG_LINES
    assert catalog.event("decode_batch") is catalog.DECODE_BATCH
    with pytest.raises(KeyError):
        catalog.metric("pool.nope")


def test_the_committed_catalog_doc_is_current() -> None:
    """docs/telemetry.md equals what the catalog renders (regenerate it when this fails)."""
    from pathlib import Path

    from telemetry.catalog_doc import render_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "telemetry.md"
    assert doc.read_text() == render_markdown()
    assert catalog.TOKEN_USAGE_FIXME in doc.read_text()
