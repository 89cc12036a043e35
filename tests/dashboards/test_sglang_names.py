"""Every series the SGLang dashboard and rules query is one SGLang exports, with the type and
suffix the query needs: a panel over a name SGLang does not export shows nothing and an alert
over it never fires, silently. Checked against the vendored TSV read directly (not through
`telemetry.sglang.catalog`, whose loader this also guards), for both prefixes."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

from dashboards import sglang_alerts, stack
from dashboards.build import GENERATED
from dashboards.grafana_json import fix, to_plain
from dashboards.sglang_serving_memory import dashboard
from tests.dashboards.promql_names import Exposed, metric_names, problems

ROOT = Path(__file__).resolve().parents[2]
TSV = ROOT / "telemetry" / "sglang" / "sglang_metrics.tsv"
TSV_PREFIX = "sglang:"
PREFIXES = ("sglang:", "sglang_")
LABEL_VALUES = re.compile(r"^label_values\((.+),\s*\w+\)$")


def exposed_from_tsv(prefix: str) -> dict[str, Exposed]:
    """Series name under `prefix` → its metric's type and suffix, from the TSV's columns."""
    lines = [line for line in TSV.read_text().splitlines() if line and not line.startswith("#")]
    header, *rows = (line.split("\t") for line in lines)
    assert header == ["name", "type", "exposed_series", "introduced", "removed", "note"]
    exposed = {}
    for name, metric_type, series, *_era in rows:
        for one in series.split(","):
            series_name = prefix + one.removeprefix(TSV_PREFIX)
            exposed[series_name] = Exposed(metric_type, one.removeprefix(name))
    return exposed


def _dashboard_exprs(data: dict) -> list[str]:
    exprs = [t["expr"] for p in data["panels"] for t in p.get("targets", [])]
    for variable in data["templating"]["list"]:
        match = LABEL_VALUES.match(variable.get("query", ""))
        if variable["type"] == "query":
            assert match, variable["query"]
            exprs.append(match.group(1))  # the series; the label after it is no metric
    return exprs


def _rule_exprs(document: dict) -> list[str]:
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def _built(prefix: str) -> list[str]:
    board = fix(to_plain(dashboard(prefix)))
    return _dashboard_exprs(board) + _rule_exprs(sglang_alerts.rules_document(prefix))


def _committed() -> list[str]:
    board = json.loads((GENERATED / stack.SGLANG_DASHBOARD_FILE).read_text())
    rules = yaml.safe_load((GENERATED / sglang_alerts.RULES_FILE).read_text())
    return _dashboard_exprs(board) + _rule_exprs(rules)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_queried_series_is_exported_with_its_type(prefix: str) -> None:
    """For each prefix, every expression of the dashboard and the rules names at least one
    series, and each is in the TSV's exposed series with a fitting type and suffix."""
    exposed = exposed_from_tsv(prefix)
    exprs = _built(prefix)
    assert len(exprs) > 30
    for expr in exprs:
        assert metric_names(expr), expr
        assert problems(expr, exposed) == [], expr


def test_committed_files_query_only_exported_series() -> None:
    """The files on disk (what Grafana and Prometheus load) pass the same check."""
    exposed = exposed_from_tsv(TSV_PREFIX)
    for expr in _committed():
        assert problems(expr, exposed) == [], expr


def test_the_sglang_underscore_build_names_no_colon_series() -> None:
    """The `sglang_` variant queries `sglang_...` series only, and each of them is exported."""
    names = {n for expr in _built("sglang_") for n in metric_names(expr)} - {"up"}
    assert names and all(n.startswith("sglang_") for n in names)
    assert not any(":" in n for n in names)


@pytest.mark.parametrize(
    ("expr", "reported"),
    [
        ("sglang:token_usage_total", "sglang:token_usage_total: not exposed"),
        ("rate(sglang:num_retracted_requests[5m])", "sglang:num_retracted_requests: not exposed"),
        ('sum(sglang:time_to_first_token_seconds{model_name=~"$model_name"})',
         "sglang:time_to_first_token_seconds: not exposed"),
        ("sglang_token_usage > 0", "sglang_token_usage: not exposed"),
        ("rate(sglang:token_usage[5m])", "rate(sglang:token_usage): a gauge, not a counter"),
        ("histogram_quantile(0.9, sum by (le) (rate(sglang:time_to_first_token_seconds_sum[5m])))",
         "histogram_quantile over sglang:time_to_first_token_seconds_sum: not a histogram's "
         "_bucket"),
    ],
)
def test_the_check_reports_what_sglang_does_not_export(expr: str, reported: str) -> None:
    """A made-up suffix, a counter without `_total`, a bare histogram, the other prefix, a rate
    over a gauge and a quantile over `_sum` are each reported (so the check above can fail)."""
    assert reported in problems(expr, exposed_from_tsv(TSV_PREFIX))


def test_names_are_told_apart_from_functions_labels_and_keywords() -> None:
    """Only metric names come out: not functions, aggregations, grouping labels, label_replace
    strings, Grafana variables, durations, offsets or numbers."""
    expr = (
        'label_replace(sum by (instance, le) (rate(a:b_total{x=~"$x",y!="z"}[$__rate_interval]))'
        ' > 0.95, "pool", "full", "", "")\nand on (instance) (c_gauge offset 5m == 1e-3)\n'
        "* ignoring (tp_rank) group_left (dp_rank) topk by (instance) (1, d)\nor up == 0"
        ' or {__name__="e_total"}'
    )
    assert metric_names(expr) == {"a:b_total", "c_gauge", "d", "up", "e_total"}


def test_an_expression_that_is_not_promql_is_refused() -> None:
    """The parser refuses what Prometheus would (unbalanced parentheses, grouping on `unless`
    with group_left), so a broken panel query fails the name check instead of passing it."""
    for expr in ("sum(rate(x_total[5m])", "a unless ignoring (b) group_left (c) d"):
        with pytest.raises(ValueError):
            metric_names(expr)


def _string_literals(package: str) -> list[tuple[str, str]]:
    found = []
    for file in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((file.relative_to(ROOT).as_posix(), node.value))
    return found


def test_no_sglang_series_name_is_spelled_outside_the_catalog() -> None:
    """dashboards/ and runtime/ take SGLang names from telemetry.sglang.catalog, never a string
    holding a series name under either prefix."""
    names = {n for prefix in PREFIXES for n in exposed_from_tsv(prefix)}
    spelled = [(file, text) for package in ("dashboards", "runtime")
               for file, text in _string_literals(package) if text in names]
    assert spelled == []
