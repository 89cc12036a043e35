"""`promtool test rules` cases for the fleet rules (`dashboards/fleet_alerts.py`), built for one
source: poolscope's `poolscope_pool_usage{pool=...}` or SGLang's per-pool usage gauges. Each rule
gets firing cases and quiet ones (too few instances near full, too few peers, peers alike)."""

from __future__ import annotations

from collections.abc import Callable

from dashboards.fleet_alerts import FleetRules
from tests.dashboards.promtool_cases import case, fired

# (instance, pool, usage) → an input series of that instance's pool usage, constant for 20 m.
UsageSeries = Callable[[str, str, float], dict[str, str]]
A, B, C = "a:8000", "b:8000", "c:8000"


def _usages(make: UsageSeries, values: dict[str, float], pool: str = "full") -> list[dict]:
    return [make(instance, pool, usage) for instance, usage in values.items()]


def fleet_cases(rules: FleetRules, make: UsageSeries, model: str) -> dict[str, dict]:
    near, outlier = rules.near_full(), rules.outlier()
    labels = {rules.model: model}
    return {
        "fleet near full fires when two of three instances are": case(
            _usages(make, {A: 0.97, B: 0.99, C: 0.5}), near.name, "7m",
            [fired(near, **labels)]),
        "fleet near full waits its 5 minutes": case(
            _usages(make, {A: 0.97, B: 0.99, C: 0.5}), near.name, "3m", []),
        "one instance of three near full is no fleet matter": case(
            _usages(make, {A: 0.97, B: 0.5, C: 0.5}), near.name, "7m", []),
        "a fleet of one is the per-instance alert's": case(
            _usages(make, {A: 0.99}), near.name, "7m", []),
        "an instance far above its peers fires": case(
            _usages(make, {A: 0.9, B: 0.3, C: 0.4}, "swa"), outlier.name, "12m",
            [fired(outlier, instance=A, pool="swa", **labels)]),
        "peers alike, no outlier": case(
            _usages(make, {A: 0.9, B: 0.8, C: 0.85}), outlier.name, "12m", []),
        "one peer is too few to call an outlier": case(
            _usages(make, {A: 0.9, B: 0.1}), outlier.name, "12m", []),
        "an outlier waits its 10 minutes": case(
            _usages(make, {A: 0.9, B: 0.3, C: 0.4}), outlier.name, "8m", []),
    }
