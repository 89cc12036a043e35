"""The soak benchmark, in quick mode: structure and the counts it reports, no timing or memory
assertions (those are what the benchmark measures)."""

from __future__ import annotations

import pytest

from runtime.bench.soak import rss_mb, run, slope


def test_slope_is_the_least_squares_fit() -> None:
    """The slope of an exact line is its gradient; a flat or single-x series is 0."""
    assert slope([0, 1, 2, 3], [5, 7, 9, 11]) == pytest.approx(2.0)
    assert slope([0, 1, 2], [4, 4, 4]) == 0.0
    assert slope([3, 3], [1, 2]) == 0.0
    assert rss_mb() > 0


@pytest.mark.slow
def test_quick_soak_samples_rss_and_every_pool_and_answers_no_5xx() -> None:
    """A short soak drives a real server with mixed clients, samples RSS and each pool's
    partition (summing to the capacity), states the slope target, and its clients got no 5xx
    and no out-of-memory abort; at the end nothing runs and no leak was counted."""
    result = run(quick=True, duration_s=8.0)
    summary = result.details["summary"]
    assert summary["actions"] > 0 and summary["answers ok"] > 0
    assert summary["5xx"] == 0 and summary["oom aborts"] == 0 and summary["leaks counted"] == 0
    samples = [row for row in result.rows if row["t s"] != "summary"]
    assert len(samples) >= 4 and all(row["rss MB"] > 0 for row in samples)
    capacities = {name: sum(int(v) for v in samples[0][name].split("/")) for name in
                  ("full", "swa", "mamba", "req")}
    for row in samples:
        for name, capacity in capacities.items():
            assert sum(int(v) for v in row[name].split("/")) == capacity
    assert all(part["running"] == 0 for part in result.details["idle_partition"].values())
    (target,) = result.targets
    assert target.op == "<=" and "slope" in target.name
