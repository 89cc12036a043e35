"""Prometheus alert rules over SGLang's own metrics (group `sglang-memory`), for one metric prefix.
Names come from `telemetry.sglang.catalog`; thresholds are poolscope's own rules' (`alerts.py`).
`tests/dashboards/test_sglang_alert_rules.py` unit-tests every rule with `promtool test rules`.
"""

from __future__ import annotations

from dashboards import stack
from dashboards.alert_rule import AlertRule, rule_file, target_down_rule
from dashboards.alerts import NEAR_FULL, RETRACTIONS_PER_S
from dashboards.fleet_alerts import FleetRules
from dashboards.sglang_fallbacks import SGLangFallbacks, first_of, labelled
from dashboards.sglang_promql import SGLangQueries
from telemetry.sglang import catalog as sg

RULES_FILE = "sglang/sglang-alerts.rules.yml"
GROUP = "sglang-memory"
SERVER = ("instance", sg.MODEL_LABEL)  # one SGLang server and its model
# Where only the num_retracted_reqs gauge exists: retractions in most stats windows scraped.
RETRACTED_PER_WINDOW = 0.5


def _per_pool_above(prefix: str, threshold: float) -> str:
    """Each pool's usage gauge above `threshold`, labelled with `pool` like poolscope's alerts
    (SGLang has one gauge per pool, not a pool label); on a series without full_token_usage
    (releases before 0.5.10rc0) token_usage stands in, labelled `pool="token_usage"`."""
    full = sg.FULL_TOKEN_USAGE.series(prefix)
    older = f"{sg.TOKEN_USAGE.series(prefix)} > {threshold} unless {full}"
    terms = [(pool, f"{usage.series(prefix)} > {threshold}")
             for pool, usage in sg.POOL_USAGE.items()]
    return "\nor\n".join(
        f'label_replace({expr}, "pool", "{pool}", "", "")'
        for pool, expr in [*terms, (sg.TOKEN_USAGE.name, older)]
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
            "--max-running-requests, or add replicas. pool=token_usage: a release before "
            "0.5.10rc0, whose token_usage is the full pool's (the fuller of full and swa on "
            "sliding-window models)."
        ),
    )


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
    )


def retraction_storm(prefix: str) -> AlertRule:
    # The fallback comes before the threshold: a newer figure at 0 must hide the older ones.
    fb = SGLangFallbacks(SGLangQueries(prefix, is_rule=True))
    per_second = f"({fb.retraction_rate(SERVER)}) > {RETRACTIONS_PER_S}"
    last_window = f"({fb.retracted_last_window(SERVER)}) > {RETRACTED_PER_WINDOW}"
    return AlertRule(
        name="SGLangRetractionStorm",
        expr=f"{per_second}\nor\n{last_window}",
        for_="5m", severity="warning",
        summary="SGLang {{ $labels.instance }} keeps retracting requests for lack of memory",
        description=(
            "Decode keeps running out of memory, so requests are retracted and recomputed: "
            "throughput drops and latency rises. Find the full pool on the usage per pool "
            "panel and give it more memory, or lower --max-running-requests. (Releases 0.5.3 "
            "and 0.5.4 give no rate: there it fires when num_retracted_reqs, the requests "
            "retracted in the latest stats window, averages above "
            f"{RETRACTED_PER_WINDOW}.)"
        ),
    )


def alert_rules(prefix: str = sg.DEFAULT_PREFIX) -> list[AlertRule]:
    return [
        near_full(prefix),
        usage_stuck_at_idle(prefix),
        retraction_storm(prefix),
        target_down_rule("SGLangTargetDown", stack.SGLANG_SCRAPE_JOB, "SGLang server", "SGLang"),
        *fleet_rules(prefix).rules(),
    ]


def _server_usage(prefix: str) -> str:
    """Each server's usage per pool (highest over its ranks), labelled `pool`; the full pool's
    from token_usage on releases before full_token_usage."""

    def per_server(metric: sg.SGLangMetric) -> str:
        return f"max by ({', '.join(SERVER)}) ({metric.series(prefix)})"

    terms = {pool: per_server(metric) for pool, metric in sg.POOL_USAGE.items()}
    terms["full"] = first_of([terms["full"], per_server(sg.TOKEN_USAGE)], SERVER)
    return " or ".join(labelled(expr, "pool", pool) for pool, expr in terms.items())


def fleet_rules(prefix: str = sg.DEFAULT_PREFIX) -> FleetRules:
    """The rules over all servers of a model (`fleet_alerts`)."""
    return FleetRules("SGLang", _server_usage(prefix), sg.MODEL_LABEL, NEAR_FULL)


def rules_document(prefix: str = sg.DEFAULT_PREFIX) -> dict[str, object]:
    """The rule file's content (one group), ready for YAML."""
    return rule_file(GROUP, alert_rules(prefix))
