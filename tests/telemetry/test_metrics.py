"""Metrics: the catalog's instruments on a private registry, read through the real exposition."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from telemetry import catalog
from telemetry.metrics.gauges import GaugeSnapshot
from telemetry.metrics.meters import Metrics, MetricsSettings
from telemetry.pool_stats import PoolPartition, PoolStats

STATS = PoolStats(
    pools={
        "full": PoolPartition(capacity=100, available=40, evictable=10, protected=5,
                              session_held=5, running=40),
        "mamba": PoolPartition(capacity=8, available=2, evictable=1, running=4),
    },
)


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    m = Metrics(MetricsSettings(model="tiny", pools=("full", "mamba"), cache_pools=("full",)))
    yield m
    m.shutdown()


def samples(m: Metrics) -> dict[tuple[str, frozenset], float]:
    text = generate_latest(m.registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_gauges_read_the_snapshot_at_scrape_time(metrics: Metrics) -> None:
    """Pool gauges show nothing before a snapshot, then exactly the snapshot's figures."""
    assert not any(name.startswith("poolscope_pool_slots") for name, _ in samples(metrics))
    metrics.snapshot = GaugeSnapshot(STATS, leaked_slots={"full": 0, "mamba": 1}, num_running=3)
    got = samples(metrics)
    model = ("model", "tiny")
    slot = frozenset({model, ("pool", "mamba"), ("state", "running")})
    assert got[("poolscope_pool_slots", slot)] == 4
    assert got[("poolscope_pool_usage", frozenset({model, ("pool", "full")}))] == 0.5
    assert got[("poolscope_pool_leaked_slots", frozenset({model, ("pool", "mamba")}))] == 1
    assert got[("poolscope_token_usage", frozenset({model}))] == 0.625  # mamba 5/8
    assert got[("poolscope_kv_token_usage", frozenset({model}))] == 0.5
    assert got[("poolscope_requests_running", frozenset({model}))] == 3


def test_counters_start_at_zero_for_every_known_label_set(metrics: Metrics) -> None:
    """Leak counters exist at 0 for each live pool and kind before anything happens; cache
    counters only for the cache's components."""
    got = samples(metrics)
    for pool in ("full", "mamba"):
        for kind in catalog.LEAK_KINDS:
            labels = frozenset({("model", "tiny"), ("pool", pool), ("kind", kind)})
            assert got[("poolscope_memory_leaks_total", labels)] == 0
    cached = [dict(k[1]) for k in got if k[0] == "poolscope_tokens_cached_total"]
    assert cached == [{"model": "tiny", "pool": "full"}]


def test_add_and_record_reach_the_exposition(metrics: Metrics) -> None:
    """A counter increment and a histogram sample show up with their labels and buckets."""
    metrics.add(catalog.MEMORY_LEAKS, 1, pool="mamba", kind="double_free")
    metrics.record(catalog.STEP_DURATION, 0.003, phase="decode")
    got = samples(metrics)
    leak = frozenset({("model", "tiny"), ("pool", "mamba"), ("kind", "double_free")})
    assert got[("poolscope_memory_leaks_total", leak)] == 1
    bucket = frozenset({("model", "tiny"), ("phase", "decode"), ("le", "0.005")})
    assert got[("poolscope_scheduler_step_duration_seconds_bucket", bucket)] == 1


def test_the_wrong_instrument_kind_is_refused(metrics: Metrics) -> None:
    """Adding to a histogram or recording into a counter is a TypeError, not a silent no-op."""
    with pytest.raises(TypeError, match="not a counter"):
        metrics.add(catalog.REQUEST_TTFT, 1)
    with pytest.raises(TypeError, match="not a histogram"):
        metrics.record(catalog.TOKENS_GENERATED, 1)


def test_settings_are_validated() -> None:
    """Unknown pools are refused."""
    with pytest.raises(ValueError, match="unknown pools"):
        MetricsSettings(model="m", pools=("full", "kv"))


def test_no_target_info_and_no_scope_labels(metrics: Metrics) -> None:
    """The exposition has neither `target_info` nor `otel_scope_*` labels."""
    metrics.snapshot = GaugeSnapshot(STATS)
    text = generate_latest(metrics.registry).decode()
    assert "target_info" not in text and "otel_scope" not in text
