"""grafanalib objects → the dashboard JSON Grafana writes itself.

grafanalib 0.7.1 emits legacy or wrong fields that Grafana's dashboard schema rejects; they are
fixed here rather than loosening the schema check:
- `null` for every unset optional field (Grafana omits them): stripped, except a threshold step's
  `"value": null`, which is how the base step (from -infinity) is written;
- `Threshold` writes the base step's value as the string `"null"`;
- `GaugePanel` (and other panels) may lack `fieldConfig.overrides`;
- template variables whose datasource is a plain string instead of a datasource reference;
- a template variable's `current` without `text`;
- an instant target without `"range": false` (Grafana writes both flags; one with only `instant`
  may be run as a range query too);
- a table's legacy `custom.displayMode` beside `custom.cellOptions` (Grafana migrates the legacy
  field over the current one, so the cell colours would be lost).
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard

from dashboards.grafana_render import DATASOURCE_TYPE

JSON = dict[str, Any]
ALL = "$__all"


def to_plain(dashboard: Dashboard) -> JSON:
    """grafanalib's encoding, as plain dicts and lists."""
    return json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))


def strip_nulls(value: object, in_steps: bool = False) -> object:
    """Drops `None`-valued keys everywhere, keeping a threshold step's `value`."""
    if isinstance(value, dict):
        return {
            k: strip_nulls(v, in_steps=k == "steps")
            for k, v in value.items()
            if v is not None or (in_steps and k == "value")
        }
    if isinstance(value, list):
        return [strip_nulls(item, in_steps=in_steps) for item in value]
    return value


def _fix_steps(steps: list[JSON]) -> None:
    for step in steps:
        if step.get("value") == "null":
            step["value"] = None
        for legacy in ("op", "yaxis", "line", "index"):  # graph-panel fields, not step fields
            step.pop(legacy, None)


def _fix_panel(panel: JSON) -> None:
    config = panel.setdefault("fieldConfig", {"defaults": {}})
    config.setdefault("overrides", [])
    thresholds = config.get("defaults", {}).get("thresholds")
    if isinstance(thresholds, dict) and isinstance(thresholds.get("steps"), list):
        _fix_steps(thresholds["steps"])
    custom = config.get("defaults", {}).get("custom", {})
    if "cellOptions" in custom:
        custom.pop("displayMode", None)
    for target in panel.get("targets", []) or []:
        if target.get("instant") is True:
            target["range"] = False
    for child in panel.get("panels", []) or []:
        _fix_panel(child)


def _fix_variable(variable: JSON) -> None:
    source = variable.get("datasource")
    if isinstance(source, str):
        variable["datasource"] = {"type": DATASOURCE_TYPE, "uid": source}
    current = variable.get("current")
    if not isinstance(current, dict):
        return
    if current.get("value") is None:
        variable.pop("current")  # no default: Grafana picks the first option itself
    elif current["value"] == ALL:
        current["text"] = "All"  # grafanalib copies the value; Grafana shows the word
    elif current.get("text") is None:
        current["text"] = current["value"]


def fix(data: JSON) -> JSON:
    """The dashboard as Grafana would store it: grafanalib's faults fixed, nulls stripped."""
    for panel in data.get("panels", []):
        _fix_panel(panel)
    for variable in data.get("templating", {}).get("list", []):
        _fix_variable(variable)
    cleaned = strip_nulls(data)
    assert isinstance(cleaned, dict)
    return cleaned


def dashboard_json(dashboard: Dashboard) -> str:
    return json.dumps(fix(to_plain(dashboard)), indent=2, sort_keys=True) + "\n"
