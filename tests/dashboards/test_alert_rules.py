"""The generated alert rules: valid for promtool, and each fires (or stays quiet) as intended,
proven with `promtool test rules` on hand-written series."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards.alerts import RULES_FILE, alert_rules
from dashboards.build import GENERATED, stale

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")

RT = {"instance": "rt:8000", "job": "poolscope", "model": "m"}


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in {**RT, **labels}.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def _fired(alert: str, **labels: str) -> dict[str, object]:
    """The alert as promtool must see it: series labels plus severity, annotations rendered."""
    rule = next(r for r in alert_rules() if r.name == alert)
    full = {**labels, "severity": rule.severity}

    def render(text: str) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: full[m.group(1)], text)

    annotations = {"summary": render(rule.summary), "description": render(rule.description)}
    return {"exp_labels": full, "exp_annotations": annotations}


def _case(series: list[dict], alert: str, at: str, fired: list[dict]) -> dict[str, object]:
    test = {"eval_time": at, "alertname": alert, "exp_alerts": fired}
    return {"interval": "1m", "input_series": series, "alert_rule_test": [test]}


LEAKS = "poolscope_memory_leaks_total"
MAMBA_LEAK = {**RT, "pool": "mamba", "kind": "leak"}
CASES = {
    "leak fires on the first increase": _case(
        [_series(LEAKS, "0 0 0 1 1 1", pool="mamba", kind="leak")], "PoolscopeMemoryLeak", "4m",
        [_fired("PoolscopeMemoryLeak", **MAMBA_LEAK)]),
    "leak fires for a series that appears at 1": _case(
        [_series(LEAKS, "_ _ 1 1 1", pool="mamba", kind="leak")], "PoolscopeMemoryLeak", "3m",
        [_fired("PoolscopeMemoryLeak", **MAMBA_LEAK)]),
    "leak stays quiet on a flat zero": _case(
        [_series(LEAKS, "0x10", pool="full", kind="leak")], "PoolscopeMemoryLeak", "8m", []),
    "leak ignores double frees": _case(
        [_series(LEAKS, "0 0 1 1", pool="full", kind="double_free")], "PoolscopeMemoryLeak",
        "3m", []),
    "double free fires per pool": _case(
        [_series(LEAKS, "0 0 1 1", pool="full", kind="double_free"),
         _series(LEAKS, "0 0 0 0", pool="swa", kind="double_free")], "PoolscopeDoubleFree", "3m",
        [_fired("PoolscopeDoubleFree", **RT, pool="full", kind="double_free")]),
    "double free ignores leaks": _case(
        [_series(LEAKS, "0 0 1 1", pool="mamba", kind="leak")], "PoolscopeDoubleFree", "3m", []),
    "near full fires after 5 minutes": _case(
        [_series("poolscope_pool_usage", "0.97x10", pool="swa")], "PoolscopePoolNearFull", "6m",
        [_fired("PoolscopePoolNearFull", **RT, pool="swa")]),
    "near full waits its 5 minutes": _case(
        [_series("poolscope_pool_usage", "0.97x10", pool="swa")], "PoolscopePoolNearFull", "3m",
        []),
    "near full stays quiet at half": _case(
        [_series("poolscope_pool_usage", "0.5x10", pool="swa")], "PoolscopePoolNearFull", "8m", []),
    "usage stuck at idle fires": _case(
        [_series("poolscope_pool_usage", "0.2x15", pool="full"),
         _series("poolscope_requests_running", "0x15"),
         _series("poolscope_sessions_open", "0x15")], "PoolscopeUsageStuckAtIdle", "12m",
        [_fired("PoolscopeUsageStuckAtIdle", **RT, pool="full")]),
    "usage held by an open session is fine": _case(
        [_series("poolscope_pool_usage", "0.2x15", pool="full"),
         _series("poolscope_requests_running", "0x15"),
         _series("poolscope_sessions_open", "1x15")], "PoolscopeUsageStuckAtIdle", "12m", []),
    "usage while requests run is fine": _case(
        [_series("poolscope_pool_usage", "0.2x15", pool="full"),
         _series("poolscope_requests_running", "2x15"),
         _series("poolscope_sessions_open", "0x15")], "PoolscopeUsageStuckAtIdle", "12m", []),
    "retraction storm fires": _case(
        [_series("poolscope_requests_retracted_total", "0+60x15")], "PoolscopeRetractionStorm",
        "12m", [_fired("PoolscopeRetractionStorm", **RT)]),
    "a few retractions are no storm": _case(
        [_series("poolscope_requests_retracted_total", "0+1x15")], "PoolscopeRetractionStorm",
        "12m", []),
    "track alloc failures fire": _case(
        [_series("poolscope_mamba_track_alloc_failures_total", "0 0 2 2")],
        "PoolscopeTrackAllocFailures", "3m", [_fired("PoolscopeTrackAllocFailures", **RT)]),
    "no track alloc failures, no alert": _case(
        [_series("poolscope_mamba_track_alloc_failures_total", "0x10")],
        "PoolscopeTrackAllocFailures", "8m", []),
    "target down fires after a minute": _case(
        [{"series": 'up{instance="rt:8000",job="poolscope"}', "values": "0x5"}],
        "PoolscopeTargetDown", "3m",
        [_fired("PoolscopeTargetDown", instance="rt:8000", job="poolscope")]),
    "a target that is up is fine": _case(
        [{"series": 'up{instance="rt:8000",job="poolscope"}', "values": "1x5"}],
        "PoolscopeTargetDown", "3m", []),
}  # fmt: skip


def test_committed_rules_are_current_and_promtool_accepts_them() -> None:
    """The committed rule file equals a fresh build and passes `promtool check rules`."""
    assert stale() == []
    done = subprocess.run(["promtool", "check", "rules", str(GENERATED / RULES_FILE)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    """Each rule is covered by at least one case where it fires and one where it does not."""
    for rule in alert_rules():
        tests = [c["alert_rule_test"][0] for c in CASES.values()]
        mine = [t for t in tests if t["alertname"] == rule.name]
        assert any(t["exp_alerts"] for t in mine) and any(not t["exp_alerts"] for t in mine)


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    """`promtool test rules` runs every case against the generated rule file and passes."""
    doc = {"rule_files": [str(GENERATED / RULES_FILE)], "evaluation_interval": "1m",
           "tests": list(CASES.values())}  # fmt: skip
    test_file = tmp_path / "alerts.test.yml"
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    done = subprocess.run(["promtool", "test", "rules", str(test_file)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
