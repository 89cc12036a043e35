"""Prometheus alert rules over SGLang's own metrics (group `sglang-memory`), for one metric prefix.
Names come from `telemetry.sglang_catalog`; thresholds are poolscope's own rules' (`alerts.py`).
`tests/dashboards/test_sglang_alert_rules.py` unit-tests every rule with `promtool test rules`.
"""

from __future__ import annotations

from dashboards import stack
from dashboards.alert_rule import AlertRule, rule_file, target_down_rule
from dashboards.alerts import NEAR_FULL, RETRACTIONS_PER_S
from telemetry import sglang_catalog as sg

RULES_FILE = "sglang/sglang-alerts.rules.yml"
GROUP = "sglang-memory"
SERVER = ("instance", sg.MODEL_LABEL)  # one SGLang server and its model


def _per_pool_above(prefix: str, threshold: float) -> str:
    """Each pool's usage gauge above `threshold`, labelled with `pool` like poolscope's alerts
    (SGLang has one gauge per pool, not a pool label)."""
    return "\nor\n".join(
        f'label_replace({usage.series(prefix)} > {threshold}, "pool", "{pool}", "", "")'
        for pool, usage in sg.POOL_USAGE.items()
    )


def _sum(metric: sg.SGLangMetric, prefix: str) -> str:
    return f"sum by ({', '.join(SERVER)}) ({metric.series(prefix)})"


def near_full(prefix: str) -> AlertRule:
    return AlertRule(
        name="SGLangPoolNearFull", expr=_per_pool_above(prefix, NEAR_FULL), for_="5m",
        severity="warning",
        summary="The {{ $labels.pool }} pool of SGLang {{ $labels.instance }} is nearly full",
        description=(
            f"Tokens neither free nor evictable have stayed above {NEAR_FULL:.0%} of the "
            "{{ $labels.pool }} pool for 5 minutes. New requests wait and running ones get "
            "retracted. Give that pool more memory (--mem-fraction-static; for swa "
            "--swa-full-tokens-ratio, for mamba --max-mamba-cache-size), lower "
            "--max-running-requests, or add replicas."
        ),
    )  # fmt: skip


def usage_stuck_at_idle(prefix: str) -> AlertRule:
    on = f"on ({', '.join(SERVER)})"
    return AlertRule(
        name="SGLangUsageStuckAtIdle",
        expr=(
            f"{sg.TOKEN_USAGE.series(prefix)} > 0\n"
            f"and {on} ({_sum(sg.RUNNING_REQS, prefix)} == 0)\n"
            # `unless ... > 0`: a server too old to export sessions counts as having none.
            f"unless {on} ({_sum(sg.STREAMING_SESSIONS, prefix)} > 0)"
        ),
        for_="10m", severity="warning",
        summary="SGLang {{ $labels.instance }} keeps memory in use while nothing runs",
        description=(
            "With no running request and no open streaming session every token should be "
            "free or evictable, yet token_usage (the max over the full, swa and mamba pools) "
            "stayed above zero for 10 minutes: memory is held by nobody. See which pool on the "
            "usage per pool panel, look for SGLang's memory leak messages in its log, and "
            "restart the server to recover."
        ),
    )  # fmt: skip


def retraction_storm(prefix: str) -> AlertRule:
    retracted = sg.RETRACTED_REQUESTS.series(prefix)
    return AlertRule(
        name="SGLangRetractionStorm",
        expr=f"sum by ({', '.join(SERVER)}) (rate({retracted}[5m])) > {RETRACTIONS_PER_S}",
        for_="5m", severity="warning",
        summary="SGLang {{ $labels.instance }} keeps retracting requests for lack of memory",
        description=(
            "Decode keeps running out of memory, so requests are retracted and recomputed: "
            "throughput drops and latency rises. Find the full pool on the usage per pool "
            "panel and give it more memory, or lower --max-running-requests."
        ),
    )  # fmt: skip


def alert_rules(prefix: str = sg.DEFAULT_PREFIX) -> list[AlertRule]:
    return [
        near_full(prefix),
        usage_stuck_at_idle(prefix),
        retraction_storm(prefix),
        target_down_rule("SGLangTargetDown", stack.SGLANG_SCRAPE_JOB, "SGLang server", "SGLang"),
    ]


def rules_document(prefix: str = sg.DEFAULT_PREFIX) -> dict[str, object]:
    """The rule file's content (one group), ready for YAML."""
    return rule_file(GROUP, alert_rules(prefix))
