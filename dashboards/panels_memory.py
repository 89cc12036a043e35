"""The memory panels of the "Serving memory" dashboard: usage, the bottleneck pool, each pool's
slot partition, the host tier, leaks and the checker. Queries come from catalog entries."""

from __future__ import annotations

from dashboards.panel_spec import BLUE, GREEN, ORANGE, RED, YELLOW, PanelSpec, Query, Step, Viz
from dashboards.promql import increase, rate, series
from telemetry import catalog

USAGE_STEPS = (Step(GREEN), Step(YELLOW, 0.8), Step(ORANGE, 0.9), Step(RED, 0.95))
ANY_IS_BAD = (Step(GREEN), Step(RED, 1))  # a count where one is already too many
USED = "!~available|evictable"  # states that hold a slot: protected, session_held, running


def token_usage() -> PanelSpec:
    return PanelSpec(
        title="token_usage (max over the full, swa and mamba pools)",
        description=(
            f"SGLang's compatibility figure. {catalog.TOKEN_USAGE_FIXME} Above 0.95 new requests "
            "wait and running ones are retracted; look at 'Usage per pool' and 'Bottleneck pool' "
            "to see which pool is full before resizing anything."
        ),
        queries=(Query(series(catalog.TOKEN_USAGE), "{{instance}}"),),
        unit="percentunit", steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=6, height=5,
    )  # fmt: skip


def kv_token_usage() -> PanelSpec:
    return PanelSpec(
        title="kv_token_usage (full and swa KV pools)",
        description=(
            "Maximum usage over the KV pools only, mamba excluded. When token_usage is high but "
            "this is low, the mamba pool (states, not tokens) is the limit: raise --mamba-slots."
        ),
        queries=(Query(series(catalog.KV_TOKEN_USAGE), "{{instance}}"),),
        unit="percentunit", steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=6, height=5,
    )  # fmt: skip


def bottleneck_pool() -> PanelSpec:
    usage = series(catalog.POOL_USAGE)
    return PanelSpec(
        title="Bottleneck pool (highest usage)",
        description=(
            "The pool with the highest usage on each instance: it is the one that stops "
            "admission first. Give that pool more slots (its size flag or --mem-budget-mb) "
            "rather than growing every pool."
        ),
        queries=(Query(f"topk by (instance) (1, {usage})", "{{instance}} {{pool}}"),),
        unit="percentunit", steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=6, height=5,
    )  # fmt: skip


def leaks_total() -> PanelSpec:
    return PanelSpec(
        title="Leaks and double frees (all pools)",
        description=(
            "Leaks found since start, over every pool (an unchanged leak counts once). Above 0 "
            "is a bug: slots were lost or freed twice. See 'Leaks and double frees per pool' for "
            "the pool, the memory_leak log event for the terms, and restart to recover the slots."
        ),
        queries=(Query(f"sum({series(catalog.MEMORY_LEAKS)})", "leaks found"),),
        unit="none", steps=ANY_IS_BAD, viz=Viz.STAT, width=6, height=5,
    )  # fmt: skip


def usage_per_pool() -> PanelSpec:
    return PanelSpec(
        title="Usage per pool",
        description=(
            "(capacity - available - evictable) / capacity for each pool: full and swa KV, "
            "mamba states, request rows (req) and host KV. A pool pinned near 1 while others are "
            "low is mis-sized: move budget to it (--swa-full-ratio, --mamba-slots, ...)."
        ),
        queries=(Query(series(catalog.POOL_USAGE), "{{instance}} {{pool}}"),),
        unit="percentunit", steps=USAGE_STEPS, min=0, max=1, width=16, show_thresholds=True,
    )  # fmt: skip


def slot_partition(pool: str) -> PanelSpec:
    slots = series(catalog.POOL_SLOTS, pool=pool)
    return PanelSpec(
        title=f"Slot partition: {pool} pool",
        description=(
            f"The {pool} pool's slots by state, stacked; the stack should meet the capacity "
            "line. A gap below it is a leak, a stack above it a double free. Evictable slots "
            "are cached prefixes that can be reclaimed; protected ones are cached and locked by "
            "running requests; session_held ones belong to open streaming sessions."
        ),
        queries=(
            Query(f"sum by (state) ({slots})", "{{state}}"),
            Query(f"sum({series(catalog.POOL_CAPACITY, pool=pool)})", "capacity"),
        ),
        unit="none", steps=(Step(GREEN),), is_stacked=True, min=0, width=8,
        unstacked_series=("capacity",),
    )  # fmt: skip


def host_tier_tokens() -> PanelSpec:
    def used(pool: str) -> str:
        return f"sum by (instance) ({series(catalog.POOL_SLOTS, pool=pool, state=USED)})"

    return PanelSpec(
        title="Host tier: device (gpu) and host (cpu) tokens",
        description=(
            "With --host-tier, full-attention KV lives in the host pool (cpu) and a bounded "
            "device buffer (the full pool, gpu) holds sinks, recent tokens and selected pages. "
            "Host tokens growing to the host pool's capacity stop admission: raise --host-tokens. "
            "Without the host tier only the gpu series shows."
        ),
        queries=(Query(used("full"), "{{instance}} gpu"), Query(used("host"), "{{instance}} cpu")),
        unit="none", steps=(Step(GREEN),), min=0, width=8,
    )  # fmt: skip


def leaks_per_pool() -> PanelSpec:
    return PanelSpec(
        title="Leaks and double frees per pool",
        description=(
            "Leaks found since start, per pool and kind (leak: slots lost; "
            "double_free: more slots free than exist). Any step up is a bug and also fires "
            "PoolscopeMemoryLeak or PoolscopeDoubleFree; the memory_leak log event has every term."
        ),
        queries=(Query(f"sum by (pool, kind) ({series(catalog.MEMORY_LEAKS)})",
                       "{{pool}} {{kind}}"),),
        unit="none", steps=ANY_IS_BAD, min=0, width=8, show_thresholds=True,
    )  # fmt: skip


def leaked_slots() -> PanelSpec:
    return PanelSpec(
        title="Leaked slots (last check)",
        description=(
            "Capacity minus the sum of the states at the last check, per pool: 0 when healthy, "
            "above 0 slots lost to a leak, below 0 slots counted free twice. A non-zero value "
            "stays until restart: those slots are unusable (or double-booked)."
        ),
        queries=(Query(series(catalog.POOL_LEAKED_SLOTS), "{{instance}} {{pool}}"),),
        unit="none", steps=(Step(RED), Step(GREEN, -0.5), Step(RED, 0.5)), width=8,
        show_thresholds=True,
    )  # fmt: skip


def checker_activity() -> PanelSpec:
    return PanelSpec(
        title="Invariant checks per second",
        description=(
            "How often the memory checker runs, per pool and mode (idle: going idle, idle-time "
            "session closes and aborts, every --idle-check-interval s; busy: after every step "
            "with --mem-check busy). A flat zero means "
            "the checker is off (--mem-check off), so leaks would go uncounted."
        ),
        queries=(Query(rate(catalog.MEMORY_CHECKS, by=("pool", "mode")), "{{pool}} {{mode}}"),),
        unit="ops", steps=(Step(BLUE),), min=0, width=8,
    )  # fmt: skip


def track_alloc_failures() -> PanelSpec:
    return PanelSpec(
        title="Mamba track allocation failures",
        description=(
            "Track-boundary snapshot slots that could not be had (extra_buffer_lazy): those "
            "requests' states are not cached, so later requests with the same prefix recompute. "
            "Give the mamba pool more slots or use --mamba-strategy extra_buffer."
        ),
        queries=(Query(increase(catalog.MAMBA_TRACK_ALLOC_FAILURES), "failures"),),
        unit="none", steps=ANY_IS_BAD, min=0, width=8, show_thresholds=True,
    )  # fmt: skip


def overview() -> tuple[PanelSpec, ...]:
    return token_usage(), kv_token_usage(), bottleneck_pool(), leaks_total()


def pools() -> tuple[PanelSpec, ...]:
    parts = tuple(slot_partition(pool) for pool in catalog.POOLS)
    return (usage_per_pool(), host_tier_tokens(), *parts)


def leaks() -> tuple[PanelSpec, ...]:
    return leaks_per_pool(), leaked_slots(), checker_activity()
