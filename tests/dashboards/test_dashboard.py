"""The generated "Serving memory" dashboard: schema-valid, built only from catalog metrics, and
every panel an operator can act on (unit, thresholds, description)."""

from __future__ import annotations

import grafanalib.core as g

from dashboards import stack
from dashboards.grafana_json import fix, strip_nulls, to_plain
from dashboards.serving_memory import dashboard, panel_specs
from telemetry import catalog
from tests.dashboards.boards import assert_operator_ready, board, panels
from tests.dashboards.promql_names import metric_names
from tests.schemas import GRAFANA_DASHBOARD, errors

UNSHOWN = {catalog.PREFIX_CACHE_QUERIES}  # lookups: the hit panel shows tokens, not lookups


def _generated() -> dict:
    return board(stack.DASHBOARD_FILE)


def test_generated_dashboard_validates_against_grafana_schema() -> None:
    """The committed dashboard JSON has no schema violation."""
    assert errors(GRAFANA_DASHBOARD, _generated()) == []


def test_raw_grafanalib_output_fails_the_schema_until_fixed() -> None:
    """grafanalib's own output (nulls, a 'null' string threshold, a gauge without overrides, a
    string datasource, a current without text) is rejected, and `fix` makes it valid."""
    steps = [g.Threshold("green", 0, 0.0), g.Threshold("red", 1, 1.0)]
    pos = g.GridPos(h=4, w=4, x=0, y=0)
    board = g.Dashboard(
        title="t", schemaVersion=41,
        panels=[g.GaugePanel(title="gauge", gridPos=pos, thresholds=steps)],
        templating=g.Templating(list=[g.Template(name="v", query="q", dataSource="prom-uid")]),
    ).auto_panel_ids()
    raw = to_plain(board)
    assert errors(GRAFANA_DASHBOARD, raw) != []
    stripped = strip_nulls(raw)
    found = errors(GRAFANA_DASHBOARD, stripped)
    assert any(e.startswith("panels/0:") for e in found)  # "null" step value, no overrides
    assert any(e.startswith("templating/list/0/current:") for e in found)
    assert any(e.startswith("templating/list/0/datasource:") for e in found)
    fixed = fix(raw)
    assert errors(GRAFANA_DASHBOARD, fixed) == []
    assert fixed["templating"]["list"][0]["datasource"] == {"type": "prometheus", "uid": "prom-uid"}
    assert fixed["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"][0] == {
        "color": "green", "value": None}


def test_committed_dashboard_is_what_the_code_builds() -> None:
    """The JSON on disk equals a fresh build (the --check guard, for this file)."""
    assert _generated() == fix(to_plain(dashboard()))


def test_every_query_names_only_catalog_metrics_and_all_are_shown() -> None:
    """Each panel expression uses catalog metrics only, and every catalog metric but the
    listed exception is on some panel."""
    known = {spec.prometheus_name for spec in catalog.METRICS}
    used: set[str] = set()
    for panel in panels(_generated()):
        for target in panel["targets"]:
            names = {n.removesuffix("_bucket") for n in metric_names(target["expr"])}
            assert names, target["expr"]
            assert names <= known, (panel["title"], names - known)
            used |= names
    assert used == known - {spec.prometheus_name for spec in UNSHOWN}


def test_every_panel_has_unit_thresholds_description_and_selectors() -> None:
    """Operators get a unit, threshold steps, a description and the template selectors on every
    query of every panel."""
    for panel in panels(_generated()):
        assert_operator_ready(panel, {"instance": "instance", "model": "model"})


def test_token_usage_panel_carries_the_fixme_and_says_max() -> None:
    """The token_usage panel's title says it is a max over pools; its description has the FIXME."""
    panel = next(p for p in panels(_generated()) if p["title"].startswith("token_usage"))
    assert "max over" in panel["title"]
    assert catalog.TOKEN_USAGE_FIXME in panel["description"]


def test_issue_panels_are_present() -> None:
    """Every view the issue lists has its panel, with one slot partition per pool, stacked."""
    titles = [p.title for p in panel_specs()]
    needles = ("kv_token_usage", "Usage per pool", "Bottleneck", "Host tier",
               "Leaks and double frees per pool", "Leaked slots", "checks", "queued",
               "throughput", "Prefix-cache hits", "track allocation", "sessions",
               "Time to first token", "Inter-token", "End-to-end", "Step duration")
    for needle in needles:
        assert any(needle in t for t in titles), needle
    partitions = [p for p in panel_specs() if p.title.startswith("Slot partition")]
    assert [p.title.split(": ")[1].split()[0] for p in partitions] == list(catalog.POOLS)
    assert all(p.is_stacked for p in partitions)


def test_template_variables_and_layout() -> None:
    """datasource, instance and model variables exist (instance and model multi with All), and
    no two panels overlap on the grid."""
    data = _generated()
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert list(variables) == ["datasource", "instance", "model"]
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("instance", "model"):
        assert variables[name]["multi"] and variables[name]["includeAll"]
        assert variables[name]["current"]["text"] == "All"
    cells: set[tuple[int, int]] = set()
    for panel in data["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        area = {(pos["x"] + i, pos["y"] + j) for i in range(pos["w"]) for j in range(pos["h"])}
        assert not cells & area, panel["title"]
        cells |= area
    assert data["uid"] == stack.DASHBOARD_UID
