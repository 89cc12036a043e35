"""Tests for telemetry.logs.summary: per-pool usage, time above 90 %, leaks and request peaks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telemetry import catalog
from telemetry.logs.record import LogRecord
from telemetry.logs.summary import render_summary, summarise, usage_pools

DECODE = catalog.DECODE_BATCH.name
PREFILL = catalog.PREFILL_BATCH.name
LEAK = catalog.MEMORY_LEAK.name


def _at(second: int | None, event: str = DECODE, **fields: object) -> LogRecord:
    timestamp = None if second is None else f"2026-11-21T10:00:{second:02d}Z"
    return LogRecord(event, "poolscope", timestamp, dict(fields))


def test_usage_pools_are_named_from_catalog_fields() -> None:
    """Pools are token, kv, full, swa, mamba, gpu and cpu, each read from its usage field."""
    assert usage_pools() == {
        "token": "token_usage", "kv": "kv_token_usage", "full": "full_token_usage",
        "swa": "swa_token_usage", "mamba": "mamba_usage", "gpu": "gpu_token_usage",
        "cpu": "cpu_token_usage",
    }


def test_only_pools_that_appear_are_reported_with_peak_and_mean() -> None:
    """A log with token and mamba usage reports those two pools, with samples, peak and mean."""
    summary = summarise([_at(0, token_usage=0.2, mamba_usage=0.5), _at(1, token_usage=0.6)])
    pools = {p.pool: p for p in summary.pools}
    assert list(pools) == ["token", "mamba"]
    assert (pools["token"].num_samples, pools["token"].peak) == (2, 0.6)
    assert pools["token"].mean == pytest.approx(0.4)
    assert (pools["mamba"].num_samples, pools["mamba"].mean) == (1, 0.5)


def test_time_above_90_percent_sums_intervals_to_the_next_sample() -> None:
    """With timestamps, each sample above 0.9 adds the time to the pool's next sample."""
    records = [_at(0, token_usage=0.95), _at(2, token_usage=0.5), _at(3, token_usage=0.92),
               _at(4, token_usage=0.93), _at(9, token_usage=0.91)]
    (token,) = summarise(records).pools
    assert token.seconds_above == pytest.approx(2 + 1 + 5)
    assert token.share_above == pytest.approx(4 / 5)


def test_without_timestamps_the_share_of_samples_is_reported() -> None:
    """Without timestamps there are no seconds above 90 %, only the share of samples."""
    records = [_at(None, swa_token_usage=u) for u in (0.95, 0.5, 0.99, 0.1)]
    (swa,) = summarise(records).pools
    assert swa.seconds_above is None and swa.share_above == 0.5
    assert "50.0%" in render_summary(summarise(records))


def test_leaks_are_counted_per_pool() -> None:
    """memory_leak records count per pool, in the pool's row or apart when it has no usage; a
    message that names no pool counts for the full-attention pool, as the exporter counts it."""
    records = [_at(0, full_token_usage=0.5), _at(1, LEAK, pool="full"),
               _at(2, LEAK, pool="full"), _at(3, LEAK, pool="mamba"), _at(4, LEAK)]
    summary = summarise(records)
    assert summary.leaks == {"full": 3, "mamba": 1} and summary.double_frees == {}
    assert summary.pools[0].num_leaks == 3
    text = render_summary(summary)
    assert "leaks in mamba: 1" in text and "leaks in full" not in text


def test_double_frees_are_reported_apart_from_leaks() -> None:
    """A negative difference counts as a double free, a positive one as a leak, per pool."""
    records = [_at(0, full_token_usage=0.5),
               _at(1, LEAK, pool="full", total=10, available=12),
               _at(2, LEAK, pool="full", total=10, available=9),
               _at(3, LEAK, pool="swa", difference=-3)]
    summary = summarise(records)
    assert (summary.leaks, summary.double_frees) == ({"full": 1}, {"full": 1, "swa": 1})
    (full,) = summary.pools
    assert (full.num_leaks, full.num_double_frees) == (1, 1)
    text = render_summary(summary)
    assert "double frees" in text.splitlines()[0] and "double frees in swa: 1" in text
    assert "leaks in swa" not in text


def test_request_peaks_and_decode_throughput_mean() -> None:
    """Running/queued peaks span all batch records; throughput averages decode records only."""
    records = [_at(0, running_req=3, queue_req=7, gen_throughput=100.0),
               _at(1, PREFILL, running_req=9, queue_req=1, input_throughput=9999.0),
               _at(2, running_req=5, queue_req=0, gen_throughput=200.0)]
    summary = summarise(records)
    assert (summary.peak_running, summary.peak_queued) == (9, 7)
    assert summary.mean_gen_throughput == pytest.approx(150.0)
    assert summary.records == {DECODE: 2, PREFILL: 1}


def test_summary_reads_a_generator_once() -> None:
    """summarise consumes a one-shot iterator (streaming), not a list."""

    def records() -> Iterator[LogRecord]:
        for second in range(100):
            yield _at(second % 60, token_usage=second / 100)

    summary = summarise(records())
    assert summary.pools[0].num_samples == 100 and summary.pools[0].peak == 0.99


def test_render_of_an_empty_log_says_so() -> None:
    """An empty log renders a table that says there are no samples and no records."""
    text = render_summary(summarise([]))
    assert "(no usage samples)" in text and "records: none" in text


def test_render_shows_a_row_per_pool() -> None:
    """The rendered table has one row per pool: samples, peak, mean, seconds above, leaks and
    double frees."""
    text = render_summary(summarise([_at(0, kv_token_usage=0.95), _at(3, kv_token_usage=0.25)]))
    row = next(line for line in text.splitlines() if line.startswith("kv "))
    assert row.split() == ["kv", "2", "0.95", "0.60", "3.0", "s", "0", "0"]
