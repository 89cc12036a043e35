"""The "Serving memory" dashboard does not mislead (issue 16 part 4), checked on the generated
JSON: partitions per instance, fleet views named, "now" stats as instant queries, one unit per
panel named in its title, host-tier panels out of the way when the tier is off, no grid gaps."""

from __future__ import annotations

import json
import re

from dashboards import panel_units as units
from dashboards import stack
from dashboards.build import GENERATED
from telemetry import catalog

METRIC_NAME = re.compile(r"(poolscope_[a-z0-9_]+)\{")
AGGREGATION = re.compile(r"\b(sum|min|max|avg|count|topk|bottomk)\s*(?:by\s*\(([^)]*)\))?\s*\(")
UNIT_OF = {  # what a query draws → the panel unit that says it
    "1": units.PERCENT, "s": units.SECONDS, "slot": units.SLOTS, "slot/s": units.SLOTS_PER_S,
    "request": units.REQUESTS, "request/s": units.REQUESTS_PER_S, "session": units.SESSIONS,
    "session/s": units.SESSIONS_PER_S,
    "check": units.CHECKS, "check/s": units.CHECKS_PER_S, "token/s": units.TOKENS_PER_S,
}
SPECS = {spec.prometheus_name: spec for spec in catalog.METRICS}


def _dashboard() -> dict:
    return json.loads((GENERATED / stack.DASHBOARD_FILE).read_text())


def _rows() -> list[tuple[dict, list[dict]]]:
    """Each row with its panels (the panels after it, or inside it when collapsed)."""
    rows: list[tuple[dict, list[dict]]] = []
    for panel in _dashboard()["panels"]:
        if panel["type"] == "row":
            rows.append((panel, list(panel.get("panels", []))))
        else:
            rows[-1][1].append(panel)
    return rows


def _panels() -> list[dict]:
    return [panel for _, panels in _rows() for panel in panels]


def _drawn(expr: str) -> str:
    """What a query draws, from the catalog units of the metrics it reads and whether it is a
    per-second rate; raises on a per-interval increase or metrics of different units."""
    assert "increase(" not in expr, f"per-interval increase (its unit depends on zoom): {expr}"
    if expr.startswith("histogram_quantile("):
        return "s"
    names = {n.removesuffix("_bucket") for n in METRIC_NAME.findall(expr)}
    drawn = {re.sub(r"[{}]", "", SPECS[name].unit) for name in names}
    assert len(drawn) == 1, f"metrics of different units in one query: {expr}"
    (unit,) = drawn
    return f"{unit}/s" if "rate(" in expr else unit


def test_one_unit_per_panel_and_the_title_names_it() -> None:
    """Every query of a panel draws the same unit (no evictions in slots/s on a tok/s panel, no
    gauge beside a per-interval increase, no sessions beside slots), the panel's unit is that
    one, and its title names it."""
    for panel in _panels():
        drawn = {_drawn(target["expr"]) for target in panel["targets"]}
        assert len(drawn) == 1, (panel["title"], drawn)
        unit = UNIT_OF[drawn.pop()]
        assert panel["fieldConfig"]["defaults"]["unit"] == unit, panel["title"]
        assert units.TITLE_WORDS[unit] in panel["title"].lower(), (panel["title"], unit)


def test_slot_partitions_are_per_instance() -> None:
    """Every slot partition sits in a row repeated per instance, groups each query by instance
    and names the instance in every legend, so one runtime's leak is not summed with others."""
    found = 0
    for row, panels in _rows():
        for panel in panels:
            if not panel["title"].startswith("Slot partition"):
                continue
            found += 1
            assert row.get("repeat") == "instance", (row["title"], panel["title"])
            assert "$instance" in panel["title"]
            for target in panel["targets"]:
                assert "{{instance}}" in target["legendFormat"], target
                groupings = AGGREGATION.findall(target["expr"])
                assert groupings and all("instance" in by for _, by in groupings), target
    assert found == len(catalog.POOLS)


def test_views_over_all_instances_say_so() -> None:
    """A query either keeps instances apart (every aggregation keeps `instance`, the legend
    names it) or its panel's title says it covers all selected instances."""
    for panel in _panels():
        for target in panel["targets"]:
            kept = all("instance" in by for _, by in AGGREGATION.findall(target["expr"]))
            if kept and "{{instance}}" in target["legendFormat"]:
                continue
            assert units.FLEET in panel["title"], (panel["title"], target["expr"])


def test_stats_are_instant_queries() -> None:
    """Every stat (the bottleneck pool above all) is an instant query without a sparkline, so a
    pool that stopped being the bottleneck earlier in the time range does not show."""
    stats = [p for p in _panels() if p["type"] == "stat"]
    assert any(p["title"].startswith("Bottleneck") for p in stats)
    for panel in stats:
        assert all(t.get("instant") is True and t.get("range") is False
                   for t in panel["targets"]), panel["title"]
        assert panel["options"]["graphMode"] == "none", panel["title"]


def test_host_tier_panels_sit_in_a_collapsed_row_and_say_when_it_is_off() -> None:
    """Panels reading the host pool are all in one collapsed row (no empty boxes when the tier
    is off), and each says --host-tier when its queries return nothing."""
    rows = [(row, panels) for row, panels in _rows()
            if any('pool="host"' in t["expr"] for p in panels for t in p["targets"])]
    assert len(rows) == 1
    row, panels = rows[0]
    assert row["collapsed"] is True and row["panels"] == panels
    for panel in panels:
        assert "--host-tier" in panel["fieldConfig"]["defaults"]["noValue"], panel["title"]


def test_rows_leave_no_gaps_on_the_grid() -> None:
    """In every row (collapsed ones included) each line of panels fills the 24 columns."""
    for row, panels in _rows():
        lines: dict[int, int] = {}
        for panel in panels:
            lines[panel["gridPos"]["y"]] = lines.get(panel["gridPos"]["y"], 0) + \
                panel["gridPos"]["w"]
        assert set(lines.values()) <= {24}, (row["title"], lines)
