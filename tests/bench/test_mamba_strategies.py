"""`poolscope bench mamba --quick`: both strategies on a saturated mamba pool, and the accounting
facts the benchmark rests on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.bench import mamba_strategies
from runtime.bench.report import BenchResult
from runtime.cli.main import main
from runtime.memory.memory_config import MambaStrategy


@pytest.fixture(scope="module")
def quick() -> BenchResult:
    return mamba_strategies.run(quick=True)


def _rows(result: BenchResult, workload: str) -> dict[str, dict]:
    return {row["strategy"]: row for row in result.rows if row["workload"] == workload}


def test_quick_run_reports_both_strategies_on_every_workload(quick: BenchResult) -> None:
    """Each workload has one row per strategy, with a running peak and 1 to 3 slots per request."""
    for workload in mamba_strategies.QUICK:
        rows = _rows(quick, workload)
        assert set(rows) == {s.value for s in mamba_strategies.STRATEGIES}
        for row in rows.values():
            assert row["peak running"] >= 1
            assert 1 <= row["slots/running req"] <= 3
            assert 0 <= row["hit rate"] <= 1


def test_quick_run_has_both_targets(quick: BenchResult) -> None:
    """The peak ratio and lazy slots-per-request targets are present with the issue's limits."""
    limits = {(t.op, t.limit) for t in quick.targets}
    assert limits == {(">=", 1.4), ("<=", 2.1)}
    assert all(t.note for t in quick.targets)


def test_extra_buffer_holds_more_slots_per_running_request_than_lazy(quick: BenchResult) -> None:
    """Memory accounting: extra_buffer owns 3 slots per running request, lazy 2 (after a step)."""
    for workload in mamba_strategies.QUICK:
        rows = _rows(quick, workload)
        extra = rows[MambaStrategy.EXTRA_BUFFER.value]["slots/running req"]
        lazy = rows[MambaStrategy.EXTRA_BUFFER_LAZY.value]["slots/running req"]
        assert extra == 3 and lazy == 2


def test_lazy_admits_more_when_boundaries_fall_in_decode(quick: BenchResult) -> None:
    """With prompts inside one track interval, lazy's peak is capacity / 2 against / 3."""
    rows = _rows(quick, "decode-crossing")
    slots = mamba_strategies.QUICK["decode-crossing"].mamba_slots
    assert rows[MambaStrategy.EXTRA_BUFFER.value]["peak running"] == slots // 3
    assert rows[MambaStrategy.EXTRA_BUFFER_LAZY.value]["peak running"] == slots // 2


def test_quick_mamba_bench_writes_json(tmp_path: Path) -> None:
    """The CLI run writes mamba.json with the rows, the targets and the per-seed runs."""
    assert main(["bench", "mamba", "--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "mamba.json").read_text())
    assert data["quick"] is True and len(data["rows"]) == 4 and len(data["targets"]) == 2
    assert set(data["details"]["runs"]) == set(mamba_strategies.QUICK)


def test_second_wave_shares_the_first_waves_prefixes_with_new_suffixes() -> None:
    """Wave 1's prompts start with wave 0's prefixes and differ from wave 0's prompts."""
    workload = mamba_strategies.QUICK["prefill-crossing"]
    first, second = workload.prompts(0), workload.prompts(0, wave=1)
    prefixes = {tuple(p[: workload.prefix_len]) for p in first}
    assert {tuple(p[: workload.prefix_len]) for p in second} <= prefixes
    assert first != second and workload.prompts(0) == first


def test_second_wave_hits_the_cache_the_first_wave_left(quick: BenchResult) -> None:
    """After the first wave, a strategy keeps prefix states that the second wave reuses: its
    hit rate is above 0 and the prefill tokens saved are the cached prompt tokens."""
    rows = _rows(quick, "prefill-crossing")
    assert max(row["wave 2 hit rate"] for row in rows.values()) > 0
    for row in rows.values():
        assert (row["wave 2 prefill saved"] > 0) == (row["wave 2 hit rate"] > 0)
    for runs in quick.details["runs"]["prefill-crossing"].values():
        for run in runs:
            wave = run["second_wave"]
            assert wave["hit_rate"] == wave["prefill_saved"] / wave["prompt_tokens"]
