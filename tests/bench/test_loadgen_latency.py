"""The loadgen latency benchmark, in quick mode: a real `poolscope serve` process under the
loadgen client. Structure only, no timing assertions."""

from __future__ import annotations

import pytest

from runtime.bench.loadgen_latency import run


@pytest.mark.slow
def test_quick_run_reports_ttft_and_itl_from_a_real_server() -> None:
    """The loadgen run against a served model answers every request, its TTFT and inter-token
    percentiles come from the loadgen report, and the server exits cleanly on SIGTERM."""
    result = run(quick=True)
    assert result.is_quick and result.name == "loadgen"
    (report,) = result.details["reports"]
    run_row, median = result.rows
    assert run_row["requests ok"] == report["num_requests_ok"] > 0 and run_row["failed"] == 0
    assert run_row["TTFT p50 ms"] == report["ttft_ms"]["p50"] > 0
    assert run_row["ITL p99 ms"] == report["itl_ms"]["p99"] >= run_row["ITL p50 ms"] > 0
    assert median["run"] == "median" and median["TTFT p99 ms"] == run_row["TTFT p99 ms"]
    assert result.details["server_exit_code"] == 0
