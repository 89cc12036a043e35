"""The panels of the "SGLang serving memory — fleet" dashboard: every selected SGLang server at
once, from its own /metrics. Ranks are aggregated per instance as on the per-instance SGLang
dashboard (`sglang_fallbacks`: the highest usage over ranks; counts the max within a DP rank,
summed over DP ranks), with the same fallbacks to older releases' names. Leaks come from
`poolscope logs export` of SGLang's log (SGLang exports no leak counter). Every row links to the
per-instance SGLang dashboard with its instance (or model) selected."""

from __future__ import annotations

from dataclasses import replace

from dashboards import fleet_panels as fp
from dashboards import stack
from dashboards.fleet_links import to_instance
from dashboards.panel_spec import PanelSpec, Query, Viz
from dashboards.promql import selector
from dashboards.sglang_fallbacks import SGLangFallbacks, labelled
from dashboards.sglang_promql import RANK_MATCHERS, TOTAL_OVER_PRIORITIES, SGLangQueries
from telemetry import catalog
from telemetry.sglang import catalog as sg
from telemetry.sglang.catalog import SGLangMetric

UID = stack.SGLANG_DASHBOARD_UID
BY_INSTANCE = ("instance",)
RANKS_NOTE = (
    " Per instance: the highest usage over its ranks (dp_rank, tp_rank, pp_rank); the full "
    "pool falls back to token_usage on releases before full_token_usage."
)


def _usage(fb: SGLangFallbacks, pool: str) -> str:
    """One series per instance (the fallback's `source` label dropped)."""
    if pool == "full":
        return f"max by (instance) ({fb.full_usage(BY_INSTANCE)})"
    return fb.usage(sg.POOL_USAGE[pool], BY_INSTANCE)


def _usage_by_pool(fb: SGLangFallbacks) -> str:
    """Each pool's usage per instance, labelled `pool` (SGLang has one gauge per pool)."""
    return " or ".join(labelled(_usage(fb, pool), "pool", pool) for pool in sg.POOL_USAGE)


def overview(qs: SGLangQueries) -> tuple[PanelSpec, ...]:
    fb = SGLangFallbacks(qs)
    generated = qs.rate(sg.GENERATION_TOKENS, BY_INSTANCE)
    bottleneck = fp.bottleneck(_usage_by_pool(fb), UID)
    fleet = fp.instances(stack.SGLANG_SCRAPE_JOB, generated, UID)
    return fleet, replace(bottleneck, description=bottleneck.description + RANKS_NOTE, width=18)


def pool_usage(qs: SGLangQueries) -> tuple[PanelSpec, ...]:
    fb = SGLangFallbacks(qs)
    return tuple(panel for pool in sg.POOL_USAGE
                 for panel in (fp.usage_table(pool, _usage(fb, pool), UID, RANKS_NOTE),
                               fp.usage_top(pool, _usage(fb, pool), UID)))


def leaks() -> PanelSpec:
    """The poolscope leak table, over the log exporters of SGLang's logs (job poolscope)."""
    exported = selector(catalog.MEMORY_LEAKS.prometheus_name,
                        {"job": stack.POOLSCOPE_SCRAPE_JOB})
    counted = f"sum by (instance, kind) ({exported})"
    panel = fp.leaks()
    return replace(
        panel, queries=(Query(f"sort_desc({counted})", "{{instance}} {{kind}}", is_instant=True),),
        description=(
            "Fleet view: leaks and double frees that SGLang logged since start, as counted by "
            "`poolscope logs export` of each server's log (SGLang's /metrics has no leak "
            "counter), one row per exporter, the most first. The instance is the exporter's; "
            "its row opens poolscope's per-instance dashboard. Empty without an exporter."
        ),
        links=to_instance(stack.DASHBOARD_UID, Viz.TABLE, "this exporter"), width=24,
    )


def serving(qs: SGLangQueries) -> tuple[PanelSpec, ...]:
    model = sg.MODEL_LABEL
    fb = SGLangFallbacks(qs)

    def total(metric: SGLangMetric) -> str:
        # Per DP rank once within each instance, then summed over instances of a model.
        per_instance = fb.tokens(qs.series(metric, **TOTAL_OVER_PRIORITIES, **RANK_MATCHERS),
                                 ("instance", model))
        return f"sum by ({model}) ({per_instance})"

    return (
        fp.throughput_by_model(qs.rate(sg.GENERATION_TOKENS, (model,)), UID, model),
        fp.requests_by_model(total(sg.RUNNING_REQS), total(sg.QUEUE_REQS), UID, model),
    )
