"""Building `promtool test rules` cases for generated rule files, and running promtool on them.
Shared by the poolscope and SGLang rule tests."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from dashboards.alert_rule import AlertRule


def series(name: str, values: str, base: Mapping[str, str], **labels: str) -> dict[str, str]:
    """An input series: `name{base labels, labels}` with promtool's expanding notation."""
    body = ",".join(f'{k}="{v}"' for k, v in {**base, **labels}.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def fired(rule: AlertRule, **labels: str) -> dict[str, object]:
    """The alert as promtool must see it: series labels plus severity, annotations rendered."""
    full = {**labels, "severity": rule.severity}

    def render(text: str) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: full[m.group(1)], text)

    annotations = {"summary": render(rule.summary), "description": render(rule.description)}
    return {"exp_labels": full, "exp_annotations": annotations}


def case(input_series: list[dict], alert: str, at: str, alerts: list[dict]) -> dict[str, object]:
    """One test: the series, then `alert` evaluated at `at` must be exactly `alerts`."""
    test = {"eval_time": at, "alertname": alert, "exp_alerts": alerts}
    return {"interval": "1m", "input_series": input_series, "alert_rule_test": [test]}


def has_firing_and_quiet_case(rule: AlertRule, cases: Sequence[dict]) -> bool:
    mine = [t for c in cases for t in c["alert_rule_test"] if t["alertname"] == rule.name]
    return any(t["exp_alerts"] for t in mine) and any(not t["exp_alerts"] for t in mine)


def check_rules(rule_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", "check", "rules", str(rule_file)],
                          capture_output=True, text=True, timeout=60)


def run_rule_tests(
    rule_file: Path, cases: Sequence[dict], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` with `cases` against `rule_file` (the test file goes to workdir)."""
    doc = {"rule_files": [str(rule_file)], "evaluation_interval": "1m", "tests": list(cases)}
    test_file = workdir / "alerts.test.yml"
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return subprocess.run(["promtool", "test", "rules", str(test_file)],
                          capture_output=True, text=True, timeout=120)
