"""Tests for dashboards.grafana_render: repeated and collapsed rows, instant targets, no-data
text, on a small hand-made spec."""

from __future__ import annotations

import json

from grafanalib._gen import DashboardEncoder

from dashboards.grafana_render import panels
from dashboards.panel_spec import GREEN, PanelSpec, Query, RowSpec, Step, Viz


def _spec(title: str, viz: Viz = Viz.TIMESERIES, instant: bool = False) -> PanelSpec:
    query = Query("up", "x", is_instant=instant)
    return PanelSpec(title=title, description="d", queries=(query,), unit="none",
                     steps=(Step(GREEN),), viz=viz, width=12, no_value="off")


def _json(rows: tuple[RowSpec, ...]) -> list[dict]:
    return json.loads(json.dumps([p.to_json_data() for p in panels(rows)], cls=DashboardEncoder))


def test_collapsed_row_holds_its_panels_and_takes_one_line() -> None:
    """A collapsed row keeps its panels inside it (placed below its title) and the next row
    starts right under the collapsed row's title."""
    rows = (RowSpec("a", (_spec("a1"), _spec("a2")), repeat="instance", is_collapsed=True),
            RowSpec("b", (_spec("b1"),)))
    row_a, row_b, b1 = _json(rows)
    assert row_a["collapsed"] is True and row_a["repeat"] == "instance"
    assert [p["title"] for p in row_a["panels"]] == ["a1", "a2"]
    assert [p["gridPos"]["y"] for p in row_a["panels"]] == [1, 1]
    assert row_b["gridPos"]["y"] == 1 and row_b["collapsed"] is False
    assert b1["gridPos"]["y"] == 2


def test_instant_stat_has_no_sparkline_and_says_its_no_data_text() -> None:
    """An instant query renders `instant: true`; a stat of instant queries draws no sparkline;
    the no-data text reaches the panel's field defaults."""
    _, stat, series = _json((RowSpec("r", (_spec("s", Viz.STAT, True), _spec("t"))),))
    assert stat["targets"][0]["instant"] is True and stat["options"]["graphMode"] == "none"
    assert series["targets"][0]["instant"] is False
    assert stat["fieldConfig"]["defaults"]["noValue"] == "off"
    assert series["fieldConfig"]["defaults"]["noValue"] == "off"
