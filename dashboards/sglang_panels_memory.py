"""The memory panels of the "SGLang serving memory" dashboard, over SGLang's own metrics:
token_usage, usage per pool, each pool's available/evictable/used partition, capacities and the
HiCache host tier. Metric names come from `telemetry.sglang_catalog`."""

from __future__ import annotations

from dashboards.panel_spec import GREEN, PanelSpec, Query, Step, Viz
from dashboards.panels_memory import USAGE_STEPS
from dashboards.sglang_promql import SGLangQueries
from telemetry import catalog
from telemetry import sglang_catalog as sg

BY_INSTANCE = ("instance",)


def token_usage(qs: SGLangQueries) -> PanelSpec:
    return PanelSpec(
        title="token_usage (max over the full, swa and mamba pools)",
        description=(
            f"SGLang's token_usage, the highest over its DP ranks. {catalog.TOKEN_USAGE_FIXME} "
            "Above 0.95 new requests wait and running ones are retracted; look at 'Usage per "
            "pool' to see which pool is full before resizing anything."
        ),
        queries=(Query(qs.agg("max", sg.TOKEN_USAGE, BY_INSTANCE), "{{instance}}"),),
        unit="percentunit", steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=8, height=5,
    )  # fmt: skip


def usage_per_pool(qs: SGLangQueries) -> PanelSpec:
    queries = tuple(
        Query(qs.agg("max", usage, BY_INSTANCE), f"{{{{instance}}}} {pool}")
        for pool, usage in sg.POOL_USAGE.items()
    )
    return PanelSpec(
        title="Usage per pool (full, swa, mamba)",
        description=(
            "SGLang's full_token_usage, swa_token_usage and mamba_usage: the share of each pool "
            "neither free nor evictable, highest over DP ranks. swa exists only for "
            "sliding-window models, mamba only for hybrid SSM models. A pool pinned near 1 "
            "while the others are low is mis-sized: move memory to it (--swa-full-tokens-ratio, "
            "--max-mamba-cache-size, --mem-fraction-static)."
        ),
        queries=queries, unit="percentunit", steps=USAGE_STEPS, min=0, max=1, width=16,
        height=5, show_thresholds=True,
    )  # fmt: skip


def _partition_sum(qs: SGLangQueries, pool: str, by: tuple[str, ...] = ()) -> str:
    """available + evictable + used of a pool: its size, as SGLang counts it."""
    parts = (qs.agg("sum", m, by) for m in sg.POOL_PARTITION[pool])
    return " + ".join(parts)


def capacity_expr(qs: SGLangQueries, pool: str, by: tuple[str, ...] = ()) -> str:
    """SGLang's reported capacity where it has one (full, swa), else the partition's sum."""
    if pool in sg.POOL_CAPACITY:
        return qs.agg("sum", sg.POOL_CAPACITY[pool], by)
    return _partition_sum(qs, pool, by)


def partition(qs: SGLangQueries, pool: str) -> PanelSpec:
    states = zip(sg.PARTITION_STATES, sg.POOL_PARTITION[pool], strict=True)
    stack = tuple(Query(qs.agg("sum", m), state) for state, m in states)
    capacity = ()
    if pool in sg.POOL_CAPACITY:
        capacity = (Query(capacity_expr(qs, pool), "capacity"),)
    what = "states" if pool == "mamba" else "tokens"
    return PanelSpec(
        title=f"Partition: {pool} pool (available / evictable / used)",
        description=(
            f"The {pool} pool's {what} by state, stacked, summed over the selected servers. "
            "Evictable ones are cached prefixes the radix cache gives back on demand; used "
            "ones belong to running requests or locked cache entries. Used growing while "
            "available and evictable shrink to zero means requests queue and retract. "
            + ("The dashed line is SGLang's reported capacity; a lasting gap between it and "
               "the stack at idle deserves a look (slots no state accounts for)."
               if capacity else "SGLang reports no capacity for this pool: the stack is it.")
        ),
        queries=stack + capacity, unit="none", steps=(Step(GREEN),), is_stacked=True, min=0,
        width=8, unstacked_series=("capacity",) if capacity else (),
    )  # fmt: skip


def capacities(qs: SGLangQueries) -> PanelSpec:
    pools = tuple(Query(capacity_expr(qs, pool, BY_INSTANCE), f"{{{{instance}}}} {pool}")
                  for pool in sg.POOL_PARTITION)  # fmt: skip
    host = Query(qs.agg("sum", sg.HICACHE_HOST_TOTAL, BY_INSTANCE), "{{instance}} host")
    return PanelSpec(
        title="Capacity per pool",
        description=(
            "How many slots each pool has: full and swa from max_total_num_tokens(_swa), mamba "
            "as available + evictable + used (SGLang reports no mamba capacity), host from "
            "HiCache. Capacities are fixed at start; a change means a restart with other "
            "memory settings, and a pool far smaller than its usage needs is the one to grow."
        ),
        queries=(*pools, host), unit="none", steps=(Step(GREEN),), min=0, width=8,
    )  # fmt: skip


def host_tokens(qs: SGLangQueries) -> PanelSpec:
    return PanelSpec(
        title="HiCache host tier: host tokens used and capacity",
        description=(
            "With --enable-hierarchical-cache, KV evicted from the device is kept in host "
            "memory and loaded back on a prefix hit. Host tokens at the host capacity mean the "
            "host tier now evicts too, so long shared prefixes stop hitting: raise "
            "--hicache-ratio or --hicache-size. Without HiCache this panel is empty."
        ),
        queries=(
            Query(qs.agg("sum", sg.HICACHE_HOST_USED, BY_INSTANCE), "{{instance}} host used"),
            Query(qs.agg("sum", sg.HICACHE_HOST_TOTAL, BY_INSTANCE), "{{instance}} capacity"),
        ),
        unit="none", steps=(Step(GREEN),), min=0, width=8,
    )  # fmt: skip


def overview(qs: SGLangQueries) -> tuple[PanelSpec, ...]:
    return token_usage(qs), usage_per_pool(qs)


def pools(qs: SGLangQueries) -> tuple[PanelSpec, ...]:
    parts = tuple(partition(qs, pool) for pool in sg.POOL_PARTITION)
    return (*parts, capacities(qs), host_tokens(qs))
