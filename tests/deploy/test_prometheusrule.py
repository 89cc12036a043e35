"""The rendered PrometheusRules hold exactly the rule files' groups, pass `promtool check rules`,
and pass the same `promtool test rules` cases as the rule files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dashboards import sglang_alerts
from dashboards.alerts import rules_document
from tests.dashboards.promtool_cases import check_rules, run_rule_tests
from tests.dashboards.test_alert_rules import CASES
from tests.dashboards.test_sglang_alert_rules import cases as sglang_cases
from tests.deploy.support import find, render, require

RULES = {  # PrometheusRule name → (overlay, the rule file's content, its promtool cases)
    "poolscope": ("poolscope", rules_document(), list(CASES.values())),
    "sglang": ("sglang", sglang_alerts.rules_document(), list(sglang_cases("sglang:").values())),
}


def _rule_file(name: str, tmp_path: Path) -> Path:
    """The rendered PrometheusRule's groups, written as a plain rule file."""
    overlay = RULES[name][0]
    (rule,) = find(render(overlay), "PrometheusRule", name)
    path = tmp_path / f"{name}.rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


@pytest.mark.parametrize("name", RULES)
def test_prometheusrule_holds_the_rule_files_groups(name: str, tmp_path: Path) -> None:
    """The rendered PrometheusRule's groups equal the generated rule file's."""
    _, document, _ = RULES[name]
    assert yaml.safe_load(_rule_file(name, tmp_path).read_text()) == document


def test_sglang_overlay_also_carries_poolscopes_rules_for_the_log_exporter() -> None:
    """The log exporter's series are poolscope's, so the SGLang overlay loads poolscope's rules
    too, as compose.sglang.yaml's Prometheus does."""
    (rule,) = find(render("sglang"), "PrometheusRule", "poolscope")
    assert rule["spec"]["groups"] == rules_document()["groups"]


@pytest.mark.parametrize("name", RULES)
def test_promtool_checks_and_unit_tests_pass_on_the_prometheusrule(
    name: str, tmp_path: Path
) -> None:
    """`promtool check rules` and the rule file's own `promtool test rules` cases pass on the
    PrometheusRule's groups."""
    require("promtool")
    path = _rule_file(name, tmp_path)
    checked = check_rules(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_rule_tests(path, RULES[name][2], tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
