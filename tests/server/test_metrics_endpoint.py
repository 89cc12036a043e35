"""GET /metrics of a running runtime: pinned families, values equal to the engine's state."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.memory.memory_config import MambaStrategy
from telemetry import catalog
from tests.server.harness import complete_all, greedy_body, served, wait_idle

# Pinned by hand, not derived from the catalog: renaming a metric must break this test.
FAMILIES = {
    "poolscope_pool_slots": ("gauge", {"model", "pool", "state"}),
    "poolscope_pool_capacity": ("gauge", {"model", "pool"}),
    "poolscope_pool_usage": ("gauge", {"model", "pool"}),
    "poolscope_pool_leaked_slots": ("gauge", {"model", "pool"}),
    "poolscope_token_usage": ("gauge", {"model"}),
    "poolscope_kv_token_usage": ("gauge", {"model"}),
    "poolscope_pool_evicted": ("counter", {"model", "pool"}),
    "poolscope_memory_checks": ("counter", {"model", "pool", "mode"}),
    "poolscope_memory_leaks": ("counter", {"model", "pool", "kind"}),
    "poolscope_mamba_track_alloc_failures": ("counter", {"model"}),
    "poolscope_requests_running": ("gauge", {"model"}),
    "poolscope_requests_queued": ("gauge", {"model"}),
    "poolscope_requests_retracted": ("counter", {"model"}),
    "poolscope_requests_finished": ("counter", {"model", "reason"}),
    "poolscope_sessions_open": ("gauge", {"model"}),
    "poolscope_sessions_evicted": ("counter", {"model"}),
    "poolscope_tokens_prompt": ("counter", {"model"}),
    "poolscope_tokens_generated": ("counter", {"model"}),
    "poolscope_tokens_cached": ("counter", {"model", "pool"}),
    "poolscope_prefix_cache_queries": ("counter", {"model"}),
    "poolscope_generation_throughput_per_second": ("gauge", {"model"}),
    "poolscope_request_ttft_seconds": ("histogram", {"model"}),
    "poolscope_request_inter_token_latency_seconds": ("histogram", {"model"}),
    "poolscope_request_e2e_latency_seconds": ("histogram", {"model"}),
    "poolscope_scheduler_step_duration_seconds": ("histogram", {"model", "phase"}),
}
FIXME = (
    "FIXME: token_usage is the maximum usage across all pools (full KV, SWA, mamba), not only KV "
    "token usage; the name is kept until a deprecation."
)
PROMPTS = [list(range(10, 10 + n)) for n in (40, 23, 40)]  # the third repeats the first


def _scrape(url: str) -> dict[str, object]:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def _value(family: object, **labels: str) -> float:
    hits = [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (family.name, labels, hits)
    return hits[0]


@pytest.mark.slow
def test_metrics_text_is_pinned_and_matches_the_pools(hybrid_dir: Path) -> None:
    """After real traffic, /metrics holds exactly the pinned families with their types, labels
    and catalog help texts (the token_usage FIXME included), and the pool gauges equal the
    engine's PoolStats at that moment."""
    with served(
        hybrid_dir, page_size=4, mamba_strategy=MambaStrategy.EXTRA_BUFFER, track_interval=8
    ) as s:
        complete_all(s.url, [greedy_body(p, 12) for p in PROMPTS[:2]])
        complete_all(s.url, [greedy_body(PROMPTS[2], 12)])
        wait_idle(s)
        families = _scrape(s.url)
        stats = s.summary().stats
    assert {name: (f.type, {k for smp in f.samples for k in smp.labels} - {"le"})
            for name, f in families.items()} == FAMILIES
    for spec in catalog.METRICS:
        name = spec.prometheus_name.removesuffix("_total")
        assert families[name].documentation == spec.description
    assert FIXME in families["poolscope_token_usage"].documentation
    slots, model = families["poolscope_pool_slots"], s.server.state.model_name
    assert {smp.labels["pool"] for smp in slots.samples} == {"full", "swa", "mamba", "req"}
    for pool, part in stats.pools.items():
        for state in catalog.STATES:
            assert _value(slots, pool=pool, state=state, model=model) == part.state(state)
        assert _value(families["poolscope_pool_capacity"], pool=pool) == part.capacity
        assert _value(families["poolscope_pool_usage"], pool=pool) == pytest.approx(part.usage)
        assert _value(families["poolscope_pool_leaked_slots"], pool=pool) == 0
    assert _value(families["poolscope_token_usage"]) == pytest.approx(stats.token_usage)
    assert _value(families["poolscope_kv_token_usage"]) == pytest.approx(stats.kv_token_usage)
    assert stats.pools["full"].evictable > 0  # the prefix cache holds the finished requests
    _assert_counters(families)


def _assert_counters(families: dict[str, object]) -> None:
    assert _value(families["poolscope_tokens_generated"]) == 36
    assert _value(families["poolscope_requests_finished"], reason="length") == 3
    assert _value(families["poolscope_prefix_cache_queries"]) == 3
    assert _value(families["poolscope_tokens_cached"], pool="full") >= 36  # page-aligned hit
    assert _value(families["poolscope_tokens_cached"], pool="mamba") > 0
    assert _value(families["poolscope_tokens_prompt"]) == 40 + 23 + 40 - _value(
        families["poolscope_tokens_cached"], pool="mamba")
    assert _value(families["poolscope_request_ttft_seconds"], le="+Inf") == 3
    assert _value(families["poolscope_request_inter_token_latency_seconds"], le="+Inf") == 33
    assert _value(families["poolscope_memory_checks"], pool="mamba", mode="busy") > 0
    assert _value(families["poolscope_memory_leaks"], pool="full", kind="leak") == 0
    assert _value(families["poolscope_requests_running"]) == 0
