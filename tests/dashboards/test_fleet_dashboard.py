"""The generated fleet dashboards (poolscope's and SGLang's): schema-valid and current, named as
fleet views, one unit per panel named in its title, tables ranking instances now, and data links
on every panel that open the per-instance dashboard with the clicked instance (or model)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from dashboards import fleet_serving_memory, sglang_fleet_serving_memory, stack
from dashboards import panel_units as units
from dashboards.grafana_json import fix, to_plain
from telemetry import catalog
from telemetry.sglang import catalog as sg
from tests.dashboards.boards import board, panels
from tests.dashboards.test_dashboard_honesty import AGGREGATION, UNIT_OF, _drawn
from tests.schemas import GRAFANA_DASHBOARD, errors

BOARDS = {  # file → (builder, the per-instance dashboard its rows open, its model label)
    stack.FLEET_DASHBOARD_FILE: (fleet_serving_memory.dashboard, stack.DASHBOARD_UID, "model"),
    stack.SGLANG_FLEET_DASHBOARD_FILE: (
        sglang_fleet_serving_memory.dashboard, stack.SGLANG_DASHBOARD_UID, sg.MODEL_LABEL),
}
LINK = re.compile(r"^/d/([\w-]+)\?var-(instance|[\w]+)=([^&]+)&")


def _panels(name: str) -> list[dict]:
    return panels(board(name))


@pytest.mark.parametrize("name", BOARDS)
def test_fleet_dashboard_validates_and_is_current(name: str) -> None:
    """The committed JSON has no schema violation and equals a fresh build."""
    build: Callable = BOARDS[name][0]
    assert errors(GRAFANA_DASHBOARD, board(name)) == []
    assert board(name) == fix(to_plain(build()))


@pytest.mark.parametrize("name", BOARDS)
def test_every_panel_says_it_is_a_fleet_view(name: str) -> None:
    """Each panel's description opens with "Fleet view", and a panel whose query does not keep
    instances apart says in its title that it covers all selected instances."""
    for panel in _panels(name):
        assert panel["description"].startswith("Fleet view"), panel["title"]
        for target in panel["targets"]:
            kept = all("instance" in by for _, by in AGGREGATION.findall(target["expr"]))
            if kept and "{{instance}}" in target["legendFormat"]:
                continue
            assert units.FLEET in panel["title"], (panel["title"], target["expr"])


def _fleet_drawn(expr: str) -> str:
    """What a poolscope fleet query draws: a count of instances, or as `_drawn` says."""
    return "instance" if expr.startswith("count(") else _drawn(expr)


def test_poolscope_fleet_panels_draw_one_unit_named_in_the_title() -> None:
    """Every query of a panel draws the same unit (from the catalog units it reads), the panel's
    unit is that one, and its title names it, as on the per-instance dashboard."""
    unit_of = {**UNIT_OF, "instance": units.INSTANCES}
    for panel in _panels(stack.FLEET_DASHBOARD_FILE):
        drawn = {_fleet_drawn(t["expr"]) for t in panel["targets"]}
        assert len(drawn) == 1, (panel["title"], drawn)
        unit = unit_of[drawn.pop()]
        assert panel["fieldConfig"]["defaults"]["unit"] == unit, panel["title"]
        assert units.TITLE_WORDS[unit] in panel["title"].lower(), (panel["title"], unit)


@pytest.mark.parametrize("name", BOARDS)
def test_tables_rank_instances_now(name: str) -> None:
    """Every table is an instant table query sorted highest first (in PromQL and in the
    table), grouped by instance, hides the time column and colours cells by the thresholds."""
    tables = [p for p in _panels(name) if p["type"] == "table"]
    assert len(tables) >= 5
    for panel in tables:
        (target,) = panel["targets"]
        assert target["instant"] is True and target["range"] is False, panel["title"]
        assert target["format"] == "table" and target["expr"].startswith("sort_desc(")
        assert panel["options"]["sortBy"] == [{"desc": True, "displayName": "Value"}]
        assert "by (instance" in target["expr"], panel["title"]
        (hidden,) = panel["fieldConfig"]["overrides"]
        assert hidden["matcher"]["options"] == "Time"
        custom = panel["fieldConfig"]["defaults"]["custom"]  # coloured by the usage thresholds
        assert custom["cellOptions"] == {"type": "color-background"} and "displayMode" not in custom


@pytest.mark.parametrize("name", BOARDS)
def test_every_panel_links_to_the_per_instance_dashboard(name: str) -> None:
    """Every panel has a data link into the per-instance dashboard (the SGLang leak table into
    poolscope's, whose exporters it lists) selecting the clicked row's instance (a table cell
    reads its row's field, a series its label), or the model on panels summed by model, or
    every instance on the fleet count; time range and data source carried over."""
    _, uid, model = BOARDS[name]
    for panel in _panels(name):
        (link,) = panel["fieldConfig"]["defaults"]["links"]
        target, variable, value = LINK.match(link["url"]).groups()
        leaks_from_exporter = uid != stack.DASHBOARD_UID and "Leaks" in panel["title"]
        assert target == (stack.DASHBOARD_UID if leaks_from_exporter else uid), panel["title"]
        assert link["url"].endswith("&var-datasource=${datasource}&${__url_time_range}")
        field = "__data.fields" if panel["type"] == "table" else "__field.labels"
        if "by model" in panel["title"]:
            assert f"&var-{model}=${{{field}.{model}}}&" in link["url"], panel["title"]
        elif panel["type"] == "stat":
            assert (variable, value) == ("instance", "$__all"), panel["title"]
        else:
            assert (variable, value) == ("instance", f"${{{field}.instance}}"), panel["title"]


def test_fleet_views_cover_what_the_issue_lists() -> None:
    """Instances up and serving; per pool a ranked table and the top instances; leaks per
    instance; the bottleneck pool per instance; throughput and queue by model: on both."""
    for name in BOARDS:
        titles = [p["title"] for p in _panels(name)]
        for needle in ("Instances up and serving", "Leaks and double frees per instance",
                       "Bottleneck pool per instance", "Generation throughput by model",
                       "queued requests by model"):
            assert any(needle in t for t in titles), (name, needle)
    pools = {stack.FLEET_DASHBOARD_FILE: catalog.POOLS,
             stack.SGLANG_FLEET_DASHBOARD_FILE: tuple(sg.POOL_USAGE)}
    for name, names in pools.items():
        titles = [p["title"] for p in _panels(name)]
        for pool in names:
            table = f"Usage of the {pool} pool on every instance now, highest first (usage)"
            assert table in titles, (name, pool)
            assert any(t.startswith(f"Usage of the {pool} pool: top ") for t in titles)


@pytest.mark.parametrize("name", BOARDS)
def test_fleet_queries_carry_the_template_selectors(name: str) -> None:
    """Every fleet query narrows to the selected instances, and to the selected models where
    its series have a model label (`up` has none), so the view can be cut to part of the fleet;
    the SGLang leak table alone reads every log exporter (their instances are not servers)."""
    model = BOARDS[name][2]
    for panel in _panels(name):
        if name == stack.SGLANG_FLEET_DASHBOARD_FILE and "Leaks" in panel["title"]:
            continue
        for target in panel["targets"]:
            expr = target["expr"]
            assert 'instance=~"$instance"' in expr, expr
            if not expr.startswith("count(up{"):
                assert f'{model}=~"${model}"' in expr, expr
