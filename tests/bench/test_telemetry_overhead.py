"""The telemetry overhead benchmark, in quick mode: structure only, no timing assertions."""

from __future__ import annotations

import pytest

from runtime.bench.telemetry_overhead import MODES, run


@pytest.mark.slow
def test_quick_run_reports_every_mode_and_both_targets() -> None:
    """A quick run times decode steps in every mode, measures what the observer costs when on,
    and states both overhead targets."""
    result = run(quick=True)
    assert result.is_quick and result.name == "telemetry"
    assert [row["mode"] for row in result.rows] == list(MODES)
    for row in result.rows:
        assert row["steps"] > 0 and row["median ms"] > 0 and row["min ms"] > 0
        assert (row["on_step ms"] > 0) == (row["mode"] != "off")
    assert [t.limit for t in result.targets] == [1.0, 2.0]
    assert all(t.op == "<=" and t.note for t in result.targets)
    assert result.details["num_log_lines"] > 0 and result.details["num_scrapes"] > 0
