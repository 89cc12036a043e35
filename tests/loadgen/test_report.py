"""Tests for runtime.loadgen.report: percentiles on known data, summaries, table and JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from runtime.loadgen.record import RequestRecord
from runtime.loadgen.report import LatencyStats, percentile, summarize
from runtime.loadgen.workload import LoadgenConfig

REPORT_KEYS = {
    "config",
    "num_requests_ok",
    "num_requests_failed",
    "duration_s",
    "request_throughput",
    "output_token_throughput",
    "total_token_throughput",
    "num_prompt_tokens",
    "failure_rate",
    "prompt_tokens",
    "token_scale",
    "stop_reason",
    "num_completion_tokens",
    "ttft_ms",
    "itl_ms",
    "e2e_ms",
    "num_sessions",
    "num_sessions_completed",
    "errors",
}


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 90, 3.7),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 25, 1.75),
        ([7.0], 50, 7.0),
        ([7.0], 99, 7.0),
        ([1.0, 3.0], 99, 2.98),
        ([10.0, 20.0, 30.0], 50, 20.0),
        (list(map(float, range(1, 101))), 99, 99.01),
    ],
)
def test_percentile_on_known_data(values: list[float], p: float, expected: float) -> None:
    """percentile interpolates linearly between closest ranks, as numpy does by default."""
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_matches_numpy() -> None:
    """On small random samples, percentile agrees with numpy.percentile."""
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 11):
        values = rng.exponential(size=n).tolist()
        for p in (50, 90, 99):
            assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_percentile_rejects_bad_input() -> None:
    """No values, or p outside [0, 100], raise ValueError."""
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="0, 100"):
        percentile([1.0], 101)


def test_latency_stats_of_nothing() -> None:
    """Stats of no latencies have count 0 and no values."""
    assert LatencyStats.of([]) == LatencyStats(0, None, None, None, None)


def _ok(
    ttft: float,
    itl: tuple[float, ...],
    e2e: float,
    prompt: int,
    completion: int,
    is_session: bool = False,
) -> RequestRecord:
    return RequestRecord(0.0, ttft, itl, e2e, prompt, completion, True, is_session=is_session)


def _failed(message: str) -> RequestRecord:
    return RequestRecord(0.0, None, (), 0.5, None, None, False, message)


RECORDS = [
    _ok(0.1, (0.01, 0.03), 0.2, 10, 3),
    _ok(0.3, (0.02,), 0.4, 20, 2, is_session=True),
    _failed("HTTP 503: busy"),
    _failed("HTTP 503: busy"),
    _failed("timed out after 60 s"),
]


def test_summary_counts_and_throughputs() -> None:
    """Only ok requests feed latencies and tokens; throughputs divide by the duration."""
    summary = summarize(
        LoadgenConfig(), RECORDS, duration_s=2.0, num_sessions=1, num_sessions_completed=1
    )
    assert (summary.num_requests_ok, summary.num_requests_failed) == (2, 3)
    assert summary.request_throughput == pytest.approx(1.0)
    assert summary.output_token_throughput == pytest.approx(2.5)
    assert summary.total_token_throughput == pytest.approx(17.5)
    assert summary.ttft.mean == pytest.approx(0.2) and summary.ttft.count == 2
    assert summary.itl.p50 == pytest.approx(0.02) and summary.itl.count == 3
    assert summary.e2e.p90 == pytest.approx(0.38)
    assert summary.errors == (("HTTP 503: busy", 2), ("timed out after 60 s", 1))


def test_summary_rejects_zero_duration() -> None:
    """A summary over no time raises ValueError rather than dividing by zero."""
    with pytest.raises(ValueError, match="duration"):
        summarize(LoadgenConfig(), [], duration_s=0.0)


def test_json_report_contents(tmp_path: Path) -> None:
    """write_json writes every report key, latencies in ms, errors by message, no api key."""
    config = LoadgenConfig(api_key="secret", seed=5)
    summary = summarize(config, RECORDS, duration_s=2.0, num_sessions=1, num_sessions_completed=1)
    path = tmp_path / "out" / "report.json"
    summary.write_json(path)
    report = json.loads(path.read_text())
    assert set(report) == REPORT_KEYS
    assert report["num_requests_ok"] == 2 and report["num_requests_failed"] == 3
    assert report["ttft_ms"] == pytest.approx(
        {"count": 2, "p50": 200.0, "p90": 280.0, "p99": 298.0, "mean": 200.0}
    )
    assert report["errors"] == {"HTTP 503: busy": 2, "timed out after 60 s": 1}
    assert report["output_token_throughput"] == pytest.approx(2.5)
    assert report["config"]["seed"] == 5 and report["config"]["api_key"] == "***"
    assert "secret" not in path.read_text()


def test_json_report_of_all_failures_has_null_latencies(tmp_path: Path) -> None:
    """With no ok request, latency stats are written with count 0 and null values."""
    summary = summarize(LoadgenConfig(), [_failed("x")], duration_s=1.0)
    summary.write_json(tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["e2e_ms"] == {"count": 0, "p50": None, "p90": None, "p99": None, "mean": None}


def test_print_table_shows_rows_and_errors() -> None:
    """The table names each metric row and lists the errors with their counts."""
    out = io.StringIO()
    summarize(LoadgenConfig(), RECORDS, duration_s=2.0).print_table(out)
    text = out.getvalue()
    assert "requests ok / failed" in text and "2 / 3" in text
    for name in ("TTFT", "ITL", "E2E", "output token throughput"):
        assert name in text
    assert "error x2: HTTP 503: busy" in text


def test_print_table_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a file, the table goes to stdout."""
    summarize(LoadgenConfig(), [], duration_s=1.0).print_table()
    assert "0 / 0" in capsys.readouterr().out
