"""Prometheus alert rules, built from catalog entries (no metric name is typed here).

Each rule names what happened and what to do; labels carry a severity and, where the metric has
one, the pool. `tests/dashboards/test_alert_rules.py` unit-tests every rule with
`promtool test rules`.
"""

from __future__ import annotations

from dashboards import stack
from dashboards.alert_rule import AlertRule, rule_file, target_down_rule
from dashboards.fleet_alerts import FleetRules
from telemetry import catalog
from telemetry.catalog import MetricSpec

SCRAPE_JOB = stack.POOLSCOPE_SCRAPE_JOB
RULES_FILE = "poolscope-alerts.rules.yml"
NEAR_FULL = 0.95  # pool usage that leaves too little room for decode growth
RETRACTIONS_PER_S = 0.1  # sustained: more than 30 recomputed requests in 5 minutes


def _first_increase(spec: MetricSpec, selector: str, window: str = "5m") -> str:
    """True on a counter's first increase, also for a series that appears already above 0 (its
    first scrape came after the event: `increase` alone would see no change)."""
    series = f"{spec.prometheus_name}{{{selector}}}"
    return (f"increase({series}[{window}]) > 0\nor\n"
            f"({series} > 0 unless {series} offset {window})")


def _while_leaked(kind: str) -> str:
    """The pool's leak as the last check left it: the checker counts an unchanged leak once,
    so the counter alone would let the alert resolve while the slots are still lost. The kind
    label is added so this series is the same alert as the counter's, not a second one."""
    sign = ">" if kind == catalog.LEAK_KINDS[0] else "<"
    gauge = catalog.POOL_LEAKED_SLOTS.prometheus_name
    return f'label_replace({gauge} {sign} 0, "kind", "{kind}", "", "")'


def _leak_rule(name: str, kind: str, what: str) -> AlertRule:
    first = _first_increase(catalog.MEMORY_LEAKS, f'kind="{kind}"')
    return AlertRule(
        name=name, expr=f"{first}\nor\n{_while_leaked(kind)}", for_="0m",
        severity="critical",
        summary=f"{what} in the {{{{ $labels.pool }}}} pool of {{{{ $labels.instance }}}}",
        description=(
            f"The memory checker found a {what.lower()} in the {{{{ $labels.pool }}}} pool: its "
            "slot states no longer add up to its capacity. Serving continues, but the pool "
            "shrinks (leak) or may hand one slot to two requests (double free). The alert fires "
            "on the first count and stays while the pool's leaked slots show it. Look up the "
            "memory_leak log event for every term, note the workload, and restart the runtime "
            "to recover the slots."
        ),
    )


def alert_rules() -> list[AlertRule]:
    usage, running = catalog.POOL_USAGE.prometheus_name, catalog.REQUESTS_RUNNING.prometheus_name
    sessions = catalog.SESSIONS_OPEN.prometheus_name
    retracted = catalog.REQUESTS_RETRACTED.prometheus_name
    return [
        _leak_rule("PoolscopeMemoryLeak", catalog.LEAK_KINDS[0], "Memory leak"),
        _leak_rule("PoolscopeDoubleFree", catalog.LEAK_KINDS[1], "Double free"),
        AlertRule(
            name="PoolscopePoolNearFull",
            expr=f"{usage} > {NEAR_FULL}",
            for_="5m",
            severity="warning",
            summary="The {{ $labels.pool }} pool of {{ $labels.instance }} is nearly full",
            description=(
                "Used slots (neither free nor evictable) have stayed above "
                f"{NEAR_FULL:.0%} for 5 minutes. New requests wait and running ones get "
                "retracted. Give this pool more slots (e.g. --mem-budget-mb or its own size "
                "flag), lower --max-running-requests, or add replicas."
            ),
        ),
        AlertRule(
            name="PoolscopeUsageStuckAtIdle",
            expr=(
                f"{usage} > 0\nand on (instance, model) ({running} == 0)\n"
                f"and on (instance, model) ({sessions} == 0)"
            ),
            for_="10m",
            severity="warning",
            summary="The {{ $labels.pool }} pool of {{ $labels.instance }} stays in use while "
            "nothing runs",
            description=(
                "With no running request and no open session every slot should be free or "
                "evictable, yet usage stayed above zero for 10 minutes: memory is held by "
                "nobody, a leak the idle check may not have counted. Compare the pool's slot "
                "partition panel and the idle_check log event; restart to recover."
            ),
        ),
        AlertRule(
            name="PoolscopeRetractionStorm",
            expr=f"rate({retracted}[5m]) > {RETRACTIONS_PER_S}",
            for_="5m",
            severity="warning",
            summary="{{ $labels.instance }} keeps retracting requests for lack of memory",
            description=(
                "Decode keeps running out of memory, so requests are retracted and recomputed: "
                "throughput drops and latency rises. Find the bottleneck pool on the dashboard "
                "and give it more slots, or lower --max-running-requests."
            ),
        ),
        AlertRule(
            name="PoolscopeTrackAllocFailures",
            expr=f"increase({catalog.MAMBA_TRACK_ALLOC_FAILURES.prometheus_name}[10m]) > 0",
            for_="0m",
            severity="warning",
            summary="{{ $labels.instance }} could not take mamba track slots",
            description=(
                "With extra_buffer_lazy, a request found no free mamba slot at a track "
                "boundary, so its state will not be cached and later requests with the same "
                "prefix recompute it. Give the mamba pool more slots or use extra_buffer."
            ),
        ),
        target_down_rule("PoolscopeTargetDown", SCRAPE_JOB, "runtime", "poolscope"),
        *fleet_rules().rules(),
    ]


def fleet_rules() -> FleetRules:
    """The rules over all instances of a model (one series per instance and pool)."""
    usage = f"max by (instance, model, pool) ({catalog.POOL_USAGE.prometheus_name})"
    return FleetRules("Poolscope", usage, "model", NEAR_FULL)


def rules_document() -> dict[str, object]:
    """The rule file's content (one group), ready for YAML."""
    return rule_file("poolscope", alert_rules())
