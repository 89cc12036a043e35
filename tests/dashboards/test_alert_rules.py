"""The generated alert rules: valid for promtool, and each fires (or stays quiet) as intended,
proven with `promtool test rules` on hand-written series."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest

from dashboards.alerts import RULES_FILE, alert_rules, fleet_rules
from dashboards.build import GENERATED, stale
from tests.dashboards.fleet_alert_cases import fleet_cases
from tests.dashboards.promtool_cases import (
    case,
    check_rules,
    fired,
    has_firing_and_quiet_case,
    run_rule_tests,
    series,
)

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")

RT = {"instance": "rt:8000", "job": "poolscope", "model": "m"}
_series = partial(series, base=RT)


def _fired(alert: str, **labels: str) -> dict[str, object]:
    return fired(next(r for r in alert_rules() if r.name == alert), **labels)


LEAKS = "poolscope_memory_leaks_total"
LEAKED = "poolscope_pool_leaked_slots"
MAMBA_LEAK = {**RT, "pool": "mamba", "kind": "leak"}
CASES = {
    "leak fires on the first increase": case(
        [_series(LEAKS, "0 0 0 1 1 1", pool="mamba", kind="leak")], "PoolscopeMemoryLeak", "4m",
        [_fired("PoolscopeMemoryLeak", **MAMBA_LEAK)]),
    "leak fires for a series that appears at 1": case(
        [_series(LEAKS, "_ _ 1 1 1", pool="mamba", kind="leak")], "PoolscopeMemoryLeak", "3m",
        [_fired("PoolscopeMemoryLeak", **MAMBA_LEAK)]),
    # The checker counts an unchanged leak once: the leaked-slots gauge keeps the alert firing
    # (as one alert, with the counter's labels) until the pool balances again.
    "leak fires once while both the count and the leaked slots show it": case(
        [_series(LEAKS, "0 0 1x10", pool="mamba", kind="leak"),
         _series(LEAKED, "0 0 1x10", pool="mamba")], "PoolscopeMemoryLeak", "3m",
        [_fired("PoolscopeMemoryLeak", **MAMBA_LEAK)]),
    "a persisting leak counted once keeps firing": case(
        [_series(LEAKS, "0 0 1x15", pool="mamba", kind="leak"),
         _series(LEAKED, "0 0 1x15", pool="mamba")], "PoolscopeMemoryLeak", "12m",
        [_fired("PoolscopeMemoryLeak", **MAMBA_LEAK)]),
    "a leak that cleared resolves once its count is old": case(
        [_series(LEAKS, "0 0 1x15", pool="mamba", kind="leak"),
         _series(LEAKED, "0 0 1 1 0x12", pool="mamba")], "PoolscopeMemoryLeak", "12m", []),
    "a persisting double free keeps firing": case(
        [_series(LEAKS, "0 0 1x15", pool="full", kind="double_free"),
         _series(LEAKED, "0 0 -4x15", pool="full")], "PoolscopeDoubleFree", "12m",
        [_fired("PoolscopeDoubleFree", **RT, pool="full", kind="double_free")]),
    "leaked slots above zero are no double free": case(
        [_series(LEAKED, "0 0 3x15", pool="swa")], "PoolscopeDoubleFree", "12m", []),
    "leak stays quiet on a flat zero": case(
        [_series(LEAKS, "0x10", pool="full", kind="leak")], "PoolscopeMemoryLeak", "8m", []),
    "leak ignores double frees": case(
        [_series(LEAKS, "0 0 1 1", pool="full", kind="double_free")], "PoolscopeMemoryLeak",
        "3m", []),
    "double free fires per pool": case(
        [_series(LEAKS, "0 0 1 1", pool="full", kind="double_free"),
         _series(LEAKS, "0 0 0 0", pool="swa", kind="double_free")], "PoolscopeDoubleFree", "3m",
        [_fired("PoolscopeDoubleFree", **RT, pool="full", kind="double_free")]),
    "double free ignores leaks": case(
        [_series(LEAKS, "0 0 1 1", pool="mamba", kind="leak")], "PoolscopeDoubleFree", "3m", []),
    "near full fires after 5 minutes": case(
        [_series("poolscope_pool_usage", "0.97x10", pool="swa")], "PoolscopePoolNearFull", "6m",
        [_fired("PoolscopePoolNearFull", **RT, pool="swa")]),
    "near full waits its 5 minutes": case(
        [_series("poolscope_pool_usage", "0.97x10", pool="swa")], "PoolscopePoolNearFull", "3m",
        []),
    "near full stays quiet at half": case(
        [_series("poolscope_pool_usage", "0.5x10", pool="swa")], "PoolscopePoolNearFull", "8m", []),
    "usage stuck at idle fires": case(
        [_series("poolscope_pool_usage", "0.2x15", pool="full"),
         _series("poolscope_requests_running", "0x15"),
         _series("poolscope_sessions_open", "0x15")], "PoolscopeUsageStuckAtIdle", "12m",
        [_fired("PoolscopeUsageStuckAtIdle", **RT, pool="full")]),
    "usage held by an open session is fine": case(
        [_series("poolscope_pool_usage", "0.2x15", pool="full"),
         _series("poolscope_requests_running", "0x15"),
         _series("poolscope_sessions_open", "1x15")], "PoolscopeUsageStuckAtIdle", "12m", []),
    "usage while requests run is fine": case(
        [_series("poolscope_pool_usage", "0.2x15", pool="full"),
         _series("poolscope_requests_running", "2x15"),
         _series("poolscope_sessions_open", "0x15")], "PoolscopeUsageStuckAtIdle", "12m", []),
    "retraction storm fires": case(
        [_series("poolscope_requests_retracted_total", "0+60x15")], "PoolscopeRetractionStorm",
        "12m", [_fired("PoolscopeRetractionStorm", **RT)]),
    "a few retractions are no storm": case(
        [_series("poolscope_requests_retracted_total", "0+1x15")], "PoolscopeRetractionStorm",
        "12m", []),
    "track alloc failures fire": case(
        [_series("poolscope_mamba_track_alloc_failures_total", "0 0 2 2")],
        "PoolscopeTrackAllocFailures", "3m", [_fired("PoolscopeTrackAllocFailures", **RT)]),
    "no track alloc failures, no alert": case(
        [_series("poolscope_mamba_track_alloc_failures_total", "0x10")],
        "PoolscopeTrackAllocFailures", "8m", []),
    "target down fires after a minute": case(
        [{"series": 'up{instance="rt:8000",job="poolscope"}', "values": "0x5"}],
        "PoolscopeTargetDown", "3m",
        [_fired("PoolscopeTargetDown", instance="rt:8000", job="poolscope")]),
    "a target that is up is fine": case(
        [{"series": 'up{instance="rt:8000",job="poolscope"}', "values": "1x5"}],
        "PoolscopeTargetDown", "3m", []),
}


def _usage(instance: str, pool: str, usage: float) -> dict[str, str]:
    return series("poolscope_pool_usage", f"{usage}x20", {**RT, "instance": instance}, pool=pool)


CASES |= fleet_cases(fleet_rules(), _usage, RT["model"])


def test_committed_rules_are_current_and_promtool_accepts_them() -> None:
    """The committed rule file equals a fresh build and passes `promtool check rules`."""
    assert stale() == []
    done = check_rules(GENERATED / RULES_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    """Each rule is covered by at least one case where it fires and one where it does not."""
    for rule in alert_rules():
        assert has_firing_and_quiet_case(rule, list(CASES.values())), rule.name


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    """`promtool test rules` runs every case against the generated rule file and passes."""
    done = run_rule_tests(GENERATED / RULES_FILE, list(CASES.values()), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
