"""The generated "SGLang serving memory" dashboard: schema-valid for both prefixes, current on
disk, and every panel an operator can act on (unit, thresholds, description, selectors)."""

from __future__ import annotations

import json

import pytest

from dashboards import stack
from dashboards.grafana_json import fix, to_plain
from dashboards.sglang_serving_memory import dashboard, panel_specs
from telemetry import catalog
from telemetry.sglang import catalog as sg
from tests.dashboards.boards import assert_operator_ready, board, panels
from tests.dashboards.promql_names import metric_names
from tests.schemas import GRAFANA_DASHBOARD, errors


def _generated() -> dict:
    return board(stack.SGLANG_DASHBOARD_FILE)


def test_generated_dashboard_validates_against_grafana_schema() -> None:
    """The committed SGLang dashboard JSON has no schema violation."""
    assert errors(GRAFANA_DASHBOARD, _generated()) == []


def test_sglang_underscore_variant_validates_and_differs_only_in_names() -> None:
    """The `sglang_` build is schema-valid and is the default one with `sglang:` names
    (and the prefix in the description) replaced."""
    variant = fix(to_plain(dashboard("sglang_")))
    assert errors(GRAFANA_DASHBOARD, variant) == []
    default = json.dumps(_generated(), sort_keys=True)
    assert json.dumps(variant, sort_keys=True) == default.replace("sglang:", "sglang_")


def test_committed_dashboard_is_what_the_code_builds() -> None:
    """The JSON on disk equals a fresh build (the --check guard, for this file)."""
    assert _generated() == fix(to_plain(dashboard()))


def test_every_panel_has_unit_thresholds_description_and_selectors() -> None:
    """Operators get a unit, threshold steps, a description and the instance and model_name
    selectors on every query of every panel."""
    for panel in panels(_generated()):
        assert_operator_ready(panel, {"instance": "instance", sg.MODEL_LABEL: sg.MODEL_LABEL})


def test_token_usage_panel_carries_the_fixme_and_says_max() -> None:
    """The token_usage panel's title says it is a max over pools; its description has the
    same FIXME as poolscope's."""
    panel = next(p for p in panels(_generated()) if p["title"].startswith("token_usage"))
    assert "max over" in panel["title"]
    assert catalog.TOKEN_USAGE_FIXME in panel["description"]


@pytest.mark.parametrize(
    "needle",
    ["token_usage", "Usage per pool", "Partition: full", "Partition: swa", "Partition: mamba",
     "Capacity", "HiCache", "Streaming sessions", "Running and queued", "Retractions per second",
     "Generation throughput", "Prefix cache hit rate", "Time to first token",
     "Inter-token latency", "End-to-end latency"],
)
def test_issue_panels_are_present(needle: str) -> None:
    """Every view the issue lists for SGLang has its panel."""
    assert any(needle in p.title for p in panel_specs()), needle


def test_partitions_are_stacked_with_capacity_drawn_apart() -> None:
    """Each pool's available/evictable/used panel is stacked; where SGLang reports a capacity
    (full, swa) it is a separate unstacked line."""
    partitions = {p.title.split()[1]: p for p in panel_specs() if p.title.startswith("Partition")}
    assert list(partitions) == ["full", "swa", "mamba"]
    for pool, spec in partitions.items():
        legends = [q.legend for q in spec.queries]
        assert spec.is_stacked and legends[:3] == ["available", "evictable", "used"]
        assert spec.unstacked_series == (("capacity",) if pool != "mamba" else ())


def test_template_variables_uid_and_layout() -> None:
    """datasource, instance, model_name and the dp/tp/pp rank variables exist (multi with All),
    the uid is SGLang's own, and no two panels overlap on the grid."""
    data = _generated()
    variables = {v["name"]: v for v in data["templating"]["list"]}
    ranks = ["dp_rank", "tp_rank", "pp_rank"]
    assert list(variables) == ["datasource", "instance", "model_name", *ranks]
    assert variables["datasource"]["current"]["value"] == stack.DATASOURCE_UID
    for name in ("instance", "model_name", *ranks):
        assert variables[name]["multi"] and variables[name]["includeAll"]
        assert variables[name]["current"]["text"] == "All"
    assert data["uid"] == stack.SGLANG_DASHBOARD_UID != stack.DASHBOARD_UID
    cells: set[tuple[int, int]] = set()
    for panel in data["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        area = {(pos["x"] + i, pos["y"] + j) for i in range(pos["w"]) for j in range(pos["h"])}
        assert not cells & area, panel["title"]
        cells |= area


def test_each_description_says_which_release_gives_its_figures() -> None:
    """Every panel's description names the release that introduced each metric it reads that
    SGLang's first metrics release (0.3.6) lacked, so an operator knows why a panel is empty."""
    series = sg.exposed_series()
    for spec in panel_specs():
        names = {n for q in spec.queries for n in metric_names(q.expr)}
        for metric in {series[n] for n in names}:
            if metric.introduced != sg.RELEASES[0]:
                release = metric.introduced.removeprefix("main-")
                assert release in spec.description, (spec.title, metric.name)
