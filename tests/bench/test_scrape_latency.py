"""The /metrics scrape benchmark, in quick mode: structure only, no timing assertions."""

from __future__ import annotations

from runtime.bench.scrape_latency import run


def test_quick_run_scrapes_a_busy_server() -> None:
    """A quick run scrapes a real server while its requests run, every scrape answers 200, the
    p50 and p99 targets are stated, and the registry's render is timed and profiled."""
    result = run(quick=True)
    assert result.is_quick and result.name == "scrape"
    (row,) = result.rows
    assert row["scrapes"] > 0 and row["status"] == "200"
    assert row["running (min)"] > 0
    assert 0 < row["p50 ms"] <= row["p99 ms"] <= row["max ms"]
    assert [(t.op, t.limit) for t in result.targets] == [("<=", 3.0), ("<=", 10.0)]
    assert result.details["stream_chunks"] > 0
    assert result.details["render_median_ms"] > 0
    profile = result.details["render_profile"]
    assert any("opentelemetry/sdk/metrics" in e["function"] for e in profile)
