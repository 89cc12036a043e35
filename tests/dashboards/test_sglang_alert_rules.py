"""The generated SGLang rules (group `sglang-memory`): valid for promtool, and each fires (or stays
quiet) as intended on hand-written SGLang series, proven with `promtool test rules` for both
metric prefixes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dashboards import sglang_alerts
from dashboards.build import GENERATED, sglang_files, stale
from telemetry.sglang import catalog as sg
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

SG = {"instance": "sg:30000", "job": "sglang", "model_name": "m", "tp_rank": "0"}
SERVER = {"instance": "sg:30000", "model_name": "m"}  # what `sum by (instance, model_name)` keeps
UP = 'up{instance="sg:30000",job="sglang"}'


def _fired(prefix: str, alert: str, **labels: str) -> dict[str, object]:
    rule = next(r for r in sglang_alerts.alert_rules(prefix) if r.name == alert)
    return fired(rule, **labels)


def cases(p: str) -> dict[str, dict]:
    """The cases with SGLang's series under prefix `p`."""

    def s(name: str, values: str, **labels: str) -> dict[str, str]:
        return series(p + name, values, SG, **labels)

    def pool_usage(instance: str, pool: str, usage: float) -> dict[str, str]:
        """SGLang's gauge of that pool (one per pool), for one server."""
        return series(sg.POOL_USAGE[pool].series(p), f"{usage}x20", {**SG, "instance": instance})

    idle = [s("token_usage", "0.2x15"), s("num_running_reqs", "0x15")]
    return {
        "near full fires per pool after 5 minutes": case(
            [s("full_token_usage", "0.97x10"), s("swa_token_usage", "0.5x10"),
             s("mamba_usage", "0.99x10")], "SGLangPoolNearFull", "6m",
            [_fired(p, "SGLangPoolNearFull", **SG, pool="full"),
             _fired(p, "SGLangPoolNearFull", **SG, pool="mamba")]),
        "near full waits its 5 minutes": case(
            [s("swa_token_usage", "0.97x10")], "SGLangPoolNearFull", "3m", []),
        "near full stays quiet at half": case(
            [s("full_token_usage", "0.5x10"), s("swa_token_usage", "0.5x10")],
            "SGLangPoolNearFull", "8m", []),
        "usage stuck at idle fires": case(
            [*idle, s("num_streaming_sessions", "0x15")], "SGLangUsageStuckAtIdle", "12m",
            [_fired(p, "SGLangUsageStuckAtIdle", **SG)]),
        "usage stuck at idle fires on a server without session metrics": case(
            idle, "SGLangUsageStuckAtIdle", "12m", [_fired(p, "SGLangUsageStuckAtIdle", **SG)]),
        "usage held by an open session is fine": case(
            [*idle, s("num_streaming_sessions", "1x15")], "SGLangUsageStuckAtIdle", "12m", []),
        "usage while requests run is fine": case(
            [s("token_usage", "0.2x15"), s("num_running_reqs", "3x15")],
            "SGLangUsageStuckAtIdle", "12m", []),
        "no usage at idle is fine": case(
            [s("token_usage", "0x15"), s("num_running_reqs", "0x15")],
            "SGLangUsageStuckAtIdle", "12m", []),
        "retraction storm fires": case(
            [s("num_retracted_requests_total", "0+60x15")], "SGLangRetractionStorm", "12m",
            [_fired(p, "SGLangRetractionStorm", **SERVER)]),
        "near full falls back to token_usage where full_token_usage is missing": case(
            [s("token_usage", "0.97x10"), s("swa_token_usage", "0.2x10")],
            "SGLangPoolNearFull", "6m",
            [_fired(p, "SGLangPoolNearFull", **SG, pool="token_usage")]),
        "token_usage is ignored where full_token_usage exists": case(
            [s("token_usage", "0.97x10"), s("full_token_usage", "0.5x10")],
            "SGLangPoolNearFull", "6m", []),
        "retraction storm from the slope of total_retracted_reqs (0.4.10 to 0.5.2)": case(
            [s("total_retracted_reqs", "0+60x15")], "SGLangRetractionStorm", "12m",
            [_fired(p, "SGLangRetractionStorm", **SERVER)]),
        "retraction storm from num_retracted_reqs where no rate exists (0.5.3, 0.5.4)": case(
            [s("num_retracted_reqs", "2x15")], "SGLangRetractionStorm", "12m",
            [_fired(p, "SGLangRetractionStorm", **SERVER)]),
        "a flat retraction counter keeps the older figures quiet": case(
            [s("num_retracted_requests_total", "5x15"), s("total_retracted_reqs", "0+60x15"),
             s("num_retracted_reqs", "2x15")], "SGLangRetractionStorm", "12m", []),
        "a few retractions are no storm": case(
            [s("num_retracted_requests_total", "0+1x15")], "SGLangRetractionStorm", "12m", []),
        "target down fires after a minute": case(
            [{"series": UP, "values": "0x5"}], "SGLangTargetDown", "3m",
            [_fired(p, "SGLangTargetDown", instance="sg:30000", job="sglang")]),
        "a target that is up is fine": case(
            [{"series": UP, "values": "1x5"}], "SGLangTargetDown", "3m", []),
        "fleet rules read token_usage where full_token_usage is missing": case(
            [series(p + "token_usage", "0.97x10", {**SG, "instance": i}) for i in "ab"],
            "SGLangFleetNearFull", "7m",
            [_fired(p, "SGLangFleetNearFull", model_name="m")]),
        **fleet_cases(sglang_alerts.fleet_rules(p), pool_usage, SG["model_name"]),
    }


def _rule_file(prefix: str, tmp_path: Path) -> Path:
    """The committed file for the default prefix; a fresh build of the other in tmp_path."""
    if prefix == "sglang:":
        return GENERATED / sglang_alerts.RULES_FILE
    path = tmp_path / "sglang-alerts.rules.yml"
    path.write_text(sglang_files(prefix)[sglang_alerts.RULES_FILE])
    return path


def test_committed_rules_are_current_and_promtool_accepts_them() -> None:
    """The committed SGLang rule file equals a fresh build and passes `promtool check rules`."""
    assert sglang_alerts.RULES_FILE not in stale()
    done = check_rules(GENERATED / sglang_alerts.RULES_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    """Each SGLang rule is covered by a case where it fires and one where it does not."""
    rules = sglang_alerts.alert_rules()
    assert {r.name for r in rules} == {"SGLangPoolNearFull", "SGLangUsageStuckAtIdle",
                                       "SGLangRetractionStorm", "SGLangTargetDown",
                                       "SGLangFleetNearFull",
                                       "SGLangInstanceUsageOutlier"}
    for rule in rules:
        assert has_firing_and_quiet_case(rule, list(cases("sglang:").values())), rule.name


def test_every_rule_has_severity_and_what_to_do() -> None:
    """Each rule carries a severity and a description long enough to say what to do."""
    for rule in sglang_alerts.alert_rules():
        assert rule.severity in ("warning", "critical")
        assert len(rule.description) > 120 and rule.summary, rule.name


@pytest.mark.parametrize("prefix", ["sglang:", "sglang_"])
def test_promtool_unit_tests_pass(prefix: str, tmp_path: Path) -> None:
    """`promtool test rules` runs every case, with series under `prefix`, against the rule file
    built for that prefix, and passes."""
    rule_file = _rule_file(prefix, tmp_path)
    assert check_rules(rule_file).returncode == 0
    done = run_rule_tests(rule_file, list(cases(prefix).values()), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
