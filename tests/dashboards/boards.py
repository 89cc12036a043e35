"""Reading the committed dashboards (dashboards/generated/) in tests: the JSON, its panels, and
the checks every panel of a per-instance dashboard passes."""

from __future__ import annotations

import json

from dashboards.build import GENERATED


def board(name: str) -> dict:
    """The committed dashboard JSON at `name` under dashboards/generated/."""
    return json.loads((GENERATED / name).read_text())


def panels(data: dict) -> list[dict]:
    """Every panel but rows, those inside collapsed rows included."""
    nested = [c for p in data["panels"] for c in p.get("panels", [])]
    return [p for p in [*data["panels"], *nested] if p["type"] != "row"]


def assert_operator_ready(panel: dict, selectors: dict[str, str]) -> None:
    """A unit, threshold steps, a description, the templated datasource, at least one query,
    and on every query each `label=~"$variable"` of `selectors` (label → variable)."""
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["unit"], panel["title"]
    steps = defaults["thresholds"]["steps"]
    assert steps[0]["value"] is None and all(s["color"] for s in steps), panel["title"]
    assert len(panel["description"]) > 80, panel["title"]
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["targets"], panel["title"]
    for target in panel["targets"]:
        for label, variable in selectors.items():
            assert f'{label}=~"${variable}"' in target["expr"], target["expr"]
