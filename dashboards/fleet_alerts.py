"""Fleet-level alert rules, over every instance serving a model at once; the per-instance rules
(`alerts.py`, `sglang_alerts.py`) stay as they are. Built from a per-instance usage expression
labelled (instance, <model label>, pool), so poolscope's and SGLang's rule files share them.
`tests/dashboards/test_fleet_alerts.py` unit-tests each with `promtool test rules`."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.alert_rule import AlertRule

FLEET_SHARE = 0.5  # share of a model's instances near full that makes the fleet near full
MIN_FLEET = 2  # a single instance is the per-instance alert's business
OUTLIER_GAP = 0.3  # usage this far above the mean of its peers (same model and pool)
MIN_PEERS = 2  # an "outlier" among fewer peers is a coin toss


@dataclass(frozen=True)
class FleetRules:
    """`usage`: one series per (instance, model label, pool), nothing else in its labels."""

    prefix: str  # alert name prefix: "Poolscope" or "SGLang"
    usage: str
    model: str  # the model label
    threshold: float  # "near full", the per-instance rules' (`alerts.NEAR_FULL`)

    @property
    def _u(self) -> str:
        """The usage as one operand (SGLang's is an `or` of one gauge per pool)."""
        return f"({self.usage})"

    def _per_instance(self) -> str:
        return f"max by (instance, {self.model}) {self._u}"

    def near_full(self) -> AlertRule:
        busiest, m = self._per_instance(), self.model
        full = f"count by ({m}) ({busiest} > {self.threshold})"
        every = f"count by ({m}) ({busiest})"
        return AlertRule(
            name=f"{self.prefix}FleetNearFull",
            expr=(f"{full}\n/ on ({m}) {every} >= {FLEET_SHARE}\n"
                  f"and on ({m}) {every} >= {MIN_FLEET}"),
            for_="5m", severity="warning",
            summary=f"Half or more of the instances serving {{{{ $labels.{m} }}}} are nearly full",
            description=(
                f"At least {FLEET_SHARE:.0%} of the instances serving this model have a pool "
                f"above {self.threshold:.0%} usage for 5 minutes: the fleet, not one instance, is "
                "short of memory, so moving traffic will not help. Add instances or give the "
                "bottleneck pool (fleet dashboard) more memory on every instance."
            ),
        )

    def outlier(self) -> AlertRule:
        u, m = self._u, self.model
        group = f"{m}, pool"
        others = f"sum by ({group}) {u} - on ({group}) group_right () {u}"
        peers = f"count by ({group}) {u} - 1 >= {MIN_PEERS}"
        mean = f"({others})\n/ on ({group}) group_left () ({peers})"
        return AlertRule(
            name=f"{self.prefix}InstanceUsageOutlier",
            expr=f"{u}\n- on (instance, {group}) ({mean})\n> {OUTLIER_GAP}",
            for_="10m", severity="warning",
            summary="The {{ $labels.pool }} pool of {{ $labels.instance }} is far fuller than "
            "its peers'",
            description=(
                f"For 10 minutes this instance's pool usage has been more than {OUTLIER_GAP:.0%} "
                f"above the mean of the other instances serving the same model (at least "
                f"{MIN_PEERS} of them). Same model, same pool, so either it gets more traffic "
                "(check the router) or it holds memory nobody uses (a leak: compare its slot "
                "partition and leak panels on the per-instance dashboard)."
            ),
        )

    def rules(self) -> list[AlertRule]:
        return [self.near_full(), self.outlier()]
