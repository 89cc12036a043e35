"""The memory panels of the "SGLang serving memory" dashboard, over SGLang's own metrics:
token_usage, usage per pool, each pool's available/evictable/used partition, capacities and the
HiCache host tier. Each figure falls back to the names older SGLang releases export
(`sglang_fallbacks.py`); each description says which release gives what. Metric names come from
`telemetry.sglang.catalog`."""

from __future__ import annotations

from dashboards.panel_spec import GREEN, PanelSpec, Query, Step, Viz
from dashboards.panels_memory import USAGE_STEPS
from dashboards.sglang_fallbacks import SOURCE, SGLangFallbacks
from telemetry import catalog
from telemetry.sglang import catalog as sg

BY_INSTANCE = ("instance",)
RANKS_NOTE = (
    " Per instance: the highest share over its ranks (dp_rank, tp_rank, pp_rank), token counts "
    "summed over DP ranks; the rank variables narrow it to one rank."
)


def token_usage(fb: SGLangFallbacks) -> PanelSpec:
    return PanelSpec(
        title="token_usage (max over the full, swa and mamba pools)",
        description=(
            f"SGLang's token_usage (every release since {sg.TOKEN_USAGE.introduced}), the "
            f"highest over its ranks. {catalog.TOKEN_USAGE_FIXME} Before "
            f"{sg.FULL_TOKEN_USAGE.introduced} SGLang computed it from the full pool only (the "
            "fuller of full and swa on sliding-window models). Above 0.95 new requests wait and "
            "running ones are retracted; look at 'Usage per pool' to see which pool is full."
        ),
        queries=(Query(fb.usage(sg.TOKEN_USAGE, BY_INSTANCE), "{{instance}}"),),
        unit="percentunit", steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=8, height=5,
    )


def usage_per_pool(fb: SGLangFallbacks) -> PanelSpec:
    full = Query(fb.full_usage(BY_INSTANCE), f"{{{{instance}}}} full {{{{{SOURCE}}}}}")
    others = tuple(
        Query(fb.usage(sg.POOL_USAGE[pool], BY_INSTANCE), f"{{{{instance}}}} {pool}")
        for pool in ("swa", "mamba")
    )
    return PanelSpec(
        title="Usage per pool (full, swa, mamba)",
        description=(
            "The share of each pool neither free nor evictable, highest over ranks: "
            f"full_token_usage ({sg.FULL_TOKEN_USAGE.since} on; older releases: token_usage, "
            "shown as 'full token_usage', which is the fuller of full and swa on sliding-window "
            f"models), swa_token_usage ({sg.SWA_TOKEN_USAGE.since} on), mamba_usage "
            f"({sg.MAMBA_USAGE.since} on); 0 on models without that pool. A pool pinned near 1 "
            "while the others are low is mis-sized: move memory to it (--swa-full-tokens-ratio, "
            "--max-mamba-cache-size, --mem-fraction-static)."
        ),
        queries=(full, *others), unit="percentunit", steps=USAGE_STEPS, min=0, max=1,
        width=16, height=5, show_thresholds=True,
    )


def _partition_sum(fb: SGLangFallbacks, pool: str, by: tuple[str, ...] = ()) -> str:
    """available + evictable + used of a pool: its size, as SGLang counts it."""
    return " + ".join(fb.count(m, by) for m in sg.POOL_PARTITION[pool])


def capacity_expr(fb: SGLangFallbacks, pool: str, by: tuple[str, ...] = ()) -> str:
    """SGLang's reported capacity where it has one (full, swa), else the partition's sum; the
    full pool's falls back to an estimate on releases without max_total_num_tokens."""
    if pool == "full":
        return fb.full_capacity(by)
    if pool in sg.POOL_CAPACITY:
        return fb.count(sg.POOL_CAPACITY[pool], by)
    return _partition_sum(fb, pool, by)


def _full_partition(fb: SGLangFallbacks) -> tuple[Query, ...]:
    available, evictable, _ = sg.POOL_PARTITION["full"]
    return (
        Query(fb.count(available, ()), "available"),
        Query(fb.count(evictable, ()), "evictable"),
        Query(fb.full_used(()), "used"),
        Query(fb.full_free(()), "available + evictable"),
        Query(capacity_expr(fb, "full"), "capacity"),
    )


def _pool_partition(fb: SGLangFallbacks, pool: str) -> tuple[Query, ...]:
    states = zip(sg.PARTITION_STATES, sg.POOL_PARTITION[pool], strict=True)
    stack = tuple(Query(fb.count(m, ()), state) for state, m in states)
    if pool not in sg.POOL_CAPACITY:
        return stack
    return (*stack, Query(capacity_expr(fb, pool), "capacity"))


def _partition_note(pool: str) -> str:
    since = sg.POOL_PARTITION[pool][0].since
    if pool == "full":
        return (
            f"The split into available and evictable needs {since}; older releases give used "
            "(num_used_tokens) and the rest as 'available + evictable', against "
            f"max_total_num_tokens ({sg.MAX_TOTAL_TOKENS.since} on) or, before that, a capacity "
            "estimated as num_used_tokens / token_usage while tokens are in use."
        )
    return f"Needs {since}: older releases export no {pool} token counts (only its usage)."


def partition(fb: SGLangFallbacks, pool: str) -> PanelSpec:
    queries = _full_partition(fb) if pool == "full" else _pool_partition(fb, pool)
    what = "states" if pool == "mamba" else "tokens"
    has_capacity = pool in sg.POOL_CAPACITY
    return PanelSpec(
        title=f"Partition: {pool} pool (available / evictable / used)",
        description=(
            f"The {pool} pool's {what} by state, stacked, summed over the selected servers. "
            "Evictable ones are cached prefixes the radix cache gives back on demand; used "
            "ones belong to running requests or locked cache entries. Used growing while "
            "available and evictable shrink to zero means requests queue and retract. "
            + ("The line is the capacity; a lasting gap between it and the stack at idle "
               "deserves a look (slots no state accounts for). " if has_capacity
               else "SGLang reports no capacity for this pool: the stack is it. ")
            + _partition_note(pool) + RANKS_NOTE
        ),
        queries=queries, unit="none", steps=(Step(GREEN),), is_stacked=True, min=0,
        width=8, unstacked_series=("capacity",) if has_capacity else (),
    )


def capacities(fb: SGLangFallbacks) -> PanelSpec:
    pools = tuple(Query(capacity_expr(fb, pool, BY_INSTANCE), f"{{{{instance}}}} {pool}")
                  for pool in sg.POOL_PARTITION)
    host = Query(fb.count(sg.HICACHE_HOST_TOTAL, BY_INSTANCE), "{{instance}} host")
    return PanelSpec(
        title="Capacity per pool",
        description=(
            "How many slots each pool has: full from max_total_num_tokens "
            f"({sg.MAX_TOTAL_TOKENS.since} on; before, estimated as num_used_tokens / "
            f"token_usage while in use), swa from max_total_num_tokens_swa "
            f"({sg.MAX_TOTAL_TOKENS_SWA.since} on), mamba as available + evictable + used "
            f"({sg.MAMBA_AVAILABLE.since} on), host from HiCache ({sg.HICACHE_HOST_TOTAL.since} "
            "on). Capacities are fixed at start; a change means a restart with other memory "
            "settings, and a pool far smaller than its usage needs is the one to grow."
            + RANKS_NOTE
        ),
        queries=(*pools, host), unit="none", steps=(Step(GREEN),), min=0, width=8,
    )


def host_tokens(fb: SGLangFallbacks) -> PanelSpec:
    return PanelSpec(
        title="HiCache host tier: host tokens used and capacity",
        description=(
            "With --enable-hierarchical-cache, KV evicted from the device is kept in host "
            "memory and loaded back on a prefix hit. Host tokens at the host capacity mean the "
            "host tier now evicts too, so long shared prefixes stop hitting: raise "
            f"--hicache-ratio or --hicache-size. Needs {sg.HICACHE_HOST_USED.since}; empty "
            "without HiCache or on older releases."
        ),
        queries=(
            Query(fb.count(sg.HICACHE_HOST_USED, BY_INSTANCE), "{{instance}} host used"),
            Query(fb.count(sg.HICACHE_HOST_TOTAL, BY_INSTANCE), "{{instance}} capacity"),
        ),
        unit="none", steps=(Step(GREEN),), min=0, width=8,
    )


def overview(fb: SGLangFallbacks) -> tuple[PanelSpec, ...]:
    return token_usage(fb), usage_per_pool(fb)


def pools(fb: SGLangFallbacks) -> tuple[PanelSpec, ...]:
    parts = tuple(partition(fb, pool) for pool in sg.POOL_PARTITION)
    return (*parts, capacities(fb), host_tokens(fb))
