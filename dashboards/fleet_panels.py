"""The panels of the "Serving memory — fleet" dashboard: every selected poolscope instance at
once. Tables rank instances now (instant queries, highest first), time series show the top few
over time, and totals by model sum over instances (their titles say so). Every value links to
the per-instance dashboard with its instance (or model) selected (`fleet_links`)."""

from __future__ import annotations

from dataclasses import replace

from dashboards import panel_units as units
from dashboards import stack
from dashboards.fleet_links import to_all, to_instance, to_model
from dashboards.panel_spec import BLUE, GREEN, PanelSpec, Query, Step, Viz
from dashboards.panels_memory import ANY_IS_BAD, HOST_POOL, NO_HOST_TIER, USAGE_STEPS
from dashboards.promql import rate, selector, series
from telemetry import catalog
from telemetry.catalog import MetricSpec

UID = stack.DASHBOARD_UID  # where every row links to
TOP = 5  # instances drawn on a "top instances" time series
BY_MODEL = ("model",)


def up_count(job: str) -> str:
    """Instances of `job` Prometheus scraped last time (0, not nothing, when none)."""
    up = selector("up", {"job": job, "instance": "~$instance"})
    return f"count({up} == 1) or vector(0)"


def serving_count(generated_per_instance: str) -> str:
    """Instances that generated tokens in the rate window (0, not nothing, when none)."""
    return f"count({generated_per_instance} > 0) or vector(0)"


def instances(job: str, generated: str, uid: str) -> PanelSpec:
    """Shared by the poolscope and SGLang fleet views: `generated` is tok/s per instance."""
    return PanelSpec(
        title="Instances up and serving, all selected instances (instances)",
        description=(
            "Fleet view. Up: instances Prometheus scraped at its last attempt. Serving: those "
            "that generated tokens in the rate window. Up but not serving means idle or stuck "
            "(look at its queue on the per-instance dashboard); fewer up than deployed means "
            "a target is down (the TargetDown alert names it)."
        ),
        queries=(Query(up_count(job), "up", is_instant=True),
                 Query(serving_count(generated), "serving", is_instant=True)),
        unit=units.INSTANCES, steps=(Step(BLUE),), viz=Viz.STAT, width=6,
        links=to_all(uid),
    )


def _usage(pool: str) -> str:
    return f"max by (instance) ({series(catalog.POOL_USAGE, pool=pool)})"


def usage_table(pool: str, usage: str, uid: str, note: str = "", no_value: str = "") -> PanelSpec:
    return PanelSpec(
        title=f"Usage of the {pool} pool on every instance now, highest first (usage)",
        description=(
            f"Fleet view: the {pool} pool's usage on each selected instance at the dashboard's "
            "end time, one row per instance, sorted. Instances near 1 stop admitting; one far "
            "above its peers with the same model and load points at a leak or a skewed "
            "router. Click a row to open that instance." + note
        ),
        queries=(Query(f"sort_desc({usage})", "{{instance}}", is_instant=True),),
        unit=units.PERCENT, steps=USAGE_STEPS, viz=Viz.TABLE, min=0, max=1, width=8,
        links=to_instance(uid, Viz.TABLE), no_value=no_value,
    )


def usage_top(pool: str, usage: str, uid: str) -> PanelSpec:
    return PanelSpec(
        title=f"Usage of the {pool} pool: top {TOP} of all selected instances (usage)",
        description=(
            f"Fleet view: at each moment, the {TOP} instances whose {pool} pool is fullest "
            "(an instance drops off when others pass it). A line pinned at the top while the "
            "rest fall is the instance to look at; click it to open it."
        ),
        queries=(Query(f"topk({TOP}, {usage})", "{{instance}}"),),
        unit=units.PERCENT, steps=USAGE_STEPS, min=0, max=1, width=16, show_thresholds=True,
        links=to_instance(uid, Viz.TIMESERIES),
    )


def bottleneck(usage_by_pool: str, uid: str) -> PanelSpec:
    """`usage_by_pool`: usage per instance and pool."""
    return PanelSpec(
        title="Bottleneck pool per instance now, fullest first (usage)",
        description=(
            "Fleet view: the pool with the highest usage on each instance at the dashboard's "
            "end time, instances sorted by it. The same pool on every instance means the "
            "memory split is wrong for this workload (grow that pool); different ones mean the "
            "instances see different traffic. Click a row to open that instance."
        ),
        queries=(Query(f"sort_desc(topk by (instance) (1, {usage_by_pool}))",
                       "{{instance}} {{pool}}", is_instant=True),),
        unit=units.PERCENT, steps=USAGE_STEPS, viz=Viz.TABLE, min=0, max=1, width=12,
        links=to_instance(uid, Viz.TABLE),
    )


def leaks() -> PanelSpec:
    counted = f"sum by (instance, kind) ({series(catalog.MEMORY_LEAKS)})"
    return PanelSpec(
        title="Leaks and double frees per instance since start, most first (checks)",
        description=(
            "Fleet view: leak checks that failed since start on each instance, over all its "
            "pools, by kind (leak: slots lost; double_free: more free than exist), the most "
            "first. Any row above 0 is a bug on that instance (PoolscopeMemoryLeak or "
            "PoolscopeDoubleFree fire for it); click it for the pool and the leaked slots."
        ),
        queries=(Query(f"sort_desc({counted})", "{{instance}} {{kind}}", is_instant=True),),
        unit=units.CHECKS, steps=ANY_IS_BAD, viz=Viz.TABLE, min=0, width=12,
        links=to_instance(UID, Viz.TABLE),
    )


def throughput_by_model(expr: str, uid: str, model_label: str = "model") -> PanelSpec:
    """`expr`: generated tok/s summed by the model label."""
    return PanelSpec(
        title="Generation throughput by model, all selected instances (tok/s)",
        description=(
            "Fleet view: tokens generated per second by every selected instance serving each "
            "model, summed (the rate of the generated-token counter). A drop with a steady "
            "queue means instances retract or stall; click a series to open its instances."
        ),
        queries=(Query(expr, f"{{{{{model_label}}}}}"),),
        unit=units.TOKENS_PER_S, steps=(Step(BLUE),), min=0, width=12,
        links=to_model(uid, Viz.TIMESERIES, model_label),
    )


def requests_by_model(running: str, queued: str, uid: str, model: str = "model") -> PanelSpec:
    """`running`, `queued`: request counts summed by the model label."""
    return PanelSpec(
        title="Running and queued requests by model, all selected instances (requests)",
        description=(
            "Fleet view: requests running and waiting now on every selected instance serving "
            "each model, summed. A queue growing while running stays flat means the fleet is "
            "out of memory or capacity for that model: look at the usage tables, or add "
            "instances."
        ),
        queries=(Query(running, f"{{{{{model}}}}} running"),
                 Query(queued, f"{{{{{model}}}}} queued")),
        unit=units.REQUESTS, steps=(Step(GREEN),), min=0, width=12,
        links=to_model(uid, Viz.TIMESERIES, model),
    )


def overview() -> tuple[PanelSpec, ...]:
    generated = rate(catalog.TOKENS_GENERATED, by=("instance",))
    usage = f"max by (instance, pool) ({series(catalog.POOL_USAGE)})"
    fleet = instances(stack.POOLSCOPE_SCRAPE_JOB, generated, UID)
    return (fleet, _sized(bottleneck(usage, UID), 18))


def pool_usage() -> tuple[PanelSpec, ...]:
    """A ranked table and the top instances, for every pool."""
    def table(pool: str) -> PanelSpec:
        empty = NO_HOST_TIER if pool == HOST_POOL else ""
        return usage_table(pool, _usage(pool), UID, no_value=empty)

    return tuple(panel for pool in catalog.POOLS
                 for panel in (table(pool), usage_top(pool, _usage(pool), UID)))


def leak_panels() -> tuple[PanelSpec, ...]:
    return (_sized(leaks(), 24),)


def serving() -> tuple[PanelSpec, ...]:
    def total(spec: MetricSpec) -> str:
        return f"sum by (model) ({series(spec)})"

    return (
        throughput_by_model(rate(catalog.TOKENS_GENERATED, by=BY_MODEL), UID),
        requests_by_model(total(catalog.REQUESTS_RUNNING), total(catalog.REQUESTS_QUEUED), UID),
    )


def _sized(spec: PanelSpec, width: int) -> PanelSpec:
    return replace(spec, width=width)

