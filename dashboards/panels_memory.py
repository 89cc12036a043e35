"""The memory panels of the "Serving memory" dashboard: usage, the bottleneck pool, each pool's
slot partition (per instance), the host tier, leaks and the checker. Queries come from catalog
entries; every panel draws one unit (`panel_units`) and keeps instances apart (the legend names
the instance) unless its title says it sums over all selected instances."""

from __future__ import annotations

from dashboards.panel_spec import BLUE, GREEN, ORANGE, RED, YELLOW, PanelSpec, Query, Step, Viz
from dashboards.panel_units import CHECKS, CHECKS_PER_S, PERCENT, REQUESTS_PER_S, SLOTS
from dashboards.promql import rate, series
from telemetry import catalog

USAGE_STEPS = (Step(GREEN), Step(YELLOW, 0.8), Step(ORANGE, 0.9), Step(RED, 0.95))
ANY_IS_BAD = (Step(GREEN), Step(RED, 1))  # a count where one is already too many
USED = "!~available|evictable"  # states that hold a slot: protected, session_held, running
HOST_POOL = "host"
DEVICE_POOLS = tuple(pool for pool in catalog.POOLS if pool != HOST_POOL)
BY_INSTANCE = ("instance",)
NO_HOST_TIER = "No host pool: the instance runs without --host-tier (or is not scraped)"
NO_PARTITION = "No slot partition from this instance (a log exporter serves usage only)"


def token_usage() -> PanelSpec:
    return PanelSpec(
        title="token_usage (max over the full, swa and mamba pools)",
        description=(
            f"SGLang's compatibility figure, now. {catalog.TOKEN_USAGE_FIXME} Above 0.95 new "
            "requests wait and running ones are retracted; look at 'Usage per pool' and "
            "'Bottleneck pool' to see which pool is full before resizing anything."
        ),
        queries=(Query(series(catalog.TOKEN_USAGE), "{{instance}}", is_instant=True),),
        unit=PERCENT, steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=6, height=5,
    )


def kv_token_usage() -> PanelSpec:
    return PanelSpec(
        title="kv_token_usage (full and swa KV pools)",
        description=(
            "Maximum usage over the KV pools only, mamba excluded, now. When token_usage is "
            "high but this is low, the mamba pool (states, not tokens) is the limit: raise "
            "--mamba-slots."
        ),
        queries=(Query(series(catalog.KV_TOKEN_USAGE), "{{instance}}", is_instant=True),),
        unit=PERCENT, steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=6, height=5,
    )


def bottleneck_pool() -> PanelSpec:
    usage = series(catalog.POOL_USAGE)
    return PanelSpec(
        title="Bottleneck pool now (highest usage)",
        description=(
            "The pool with the highest usage on each instance at the dashboard's end time (an "
            "instant query, so a pool that was the bottleneck earlier in the range does not "
            "show): it is the one that stops admission first. Give that pool more slots (its "
            "size flag or --mem-budget-mb) rather than growing every pool."
        ),
        queries=(Query(f"topk by (instance) (1, {usage})", "{{instance}} {{pool}}",
                       is_instant=True),),
        unit=PERCENT, steps=USAGE_STEPS, viz=Viz.STAT, min=0, max=1, width=6, height=5,
    )


def leaks_total() -> PanelSpec:
    leaks = f"sum by (instance) ({series(catalog.MEMORY_LEAKS)})"
    return PanelSpec(
        title="Leaks and double frees, all pools (leak checks)",
        description=(
            "Leaks found since start, over every pool, per instance (an unchanged leak counts "
            "once). Anything above 0 is a bug: slots were lost or freed twice. See 'Leaks and "
            "double frees per pool' for the pool, the memory_leak log event for the terms, and "
            "restart to recover them."
        ),
        queries=(Query(leaks, "{{instance}}", is_instant=True),),
        unit=CHECKS, steps=ANY_IS_BAD, viz=Viz.STAT, width=6, height=5,
    )


def usage_per_pool() -> PanelSpec:
    return PanelSpec(
        title="Usage per pool",
        description=(
            "(capacity - available - evictable) / capacity for each pool: full and swa KV, "
            "mamba states, request rows (req) and host KV. A pool pinned near 1 while others are "
            "low is mis-sized: move budget to it (--swa-full-ratio, --mamba-slots, ...)."
        ),
        queries=(Query(series(catalog.POOL_USAGE), "{{instance}} {{pool}}"),),
        unit=PERCENT, steps=USAGE_STEPS, min=0, max=1, width=24, show_thresholds=True,
    )


def slot_partition(pool: str, width: int = 6, no_value: str = NO_PARTITION) -> PanelSpec:
    """One instance's partition of one pool (the row repeats per instance): summing states
    over instances would hide one runtime's leak among the others' slots."""
    slots = series(catalog.POOL_SLOTS, pool=pool)
    capacity = series(catalog.POOL_CAPACITY, pool=pool)
    return PanelSpec(
        title=f"Slot partition: {pool} pool on $instance (slots)",
        description=(
            f"The {pool} pool's slots by state on one instance, stacked; the stack should meet "
            "the capacity line. A gap below it is a leak, a stack above it a double free. "
            "Evictable slots are cached prefixes that can be reclaimed; protected ones are "
            "cached and locked by running requests; session_held ones belong to open sessions."
        ),
        queries=(
            Query(f"sum by (instance, state) ({slots})", "{{instance}} {{state}}"),
            Query(f"sum by (instance) ({capacity})", "{{instance}} capacity"),
        ),
        unit=SLOTS, steps=(Step(GREEN),), is_stacked=True, min=0, width=width,
        unstacked_pattern=".* capacity", no_value=no_value,
    )


def host_tier_tokens() -> PanelSpec:
    def used(pool: str) -> str:
        return f"sum by (instance) ({series(catalog.POOL_SLOTS, pool=pool, state=USED)})"

    return PanelSpec(
        title="Host tier: KV slots in use on device (gpu) and host (cpu) on $instance (slots)",
        description=(
            "With --host-tier, full-attention KV lives in the host pool (cpu) and a bounded "
            "device buffer (the full pool, gpu) holds sinks, recent tokens and selected pages; "
            "a KV slot is one token. Host slots growing to the host pool's capacity stop "
            "admission: raise --host-tokens. Without the host tier this panel says so."
        ),
        queries=(Query(f"{used('full')} and on (instance) {used(HOST_POOL)}", "{{instance}} gpu"),
                 Query(used(HOST_POOL), "{{instance}} cpu")),
        unit=SLOTS, steps=(Step(GREEN),), min=0, width=12, no_value=NO_HOST_TIER,
    )


def leaks_per_pool() -> PanelSpec:
    leaks = f"sum by (instance, pool, kind) ({series(catalog.MEMORY_LEAKS)})"
    return PanelSpec(
        title="Leaks and double frees per pool (leak checks since start)",
        description=(
            "Leaks found since start, per instance, pool and kind (leak: slots lost; "
            "double_free: more slots free than exist; an unchanged leak counts once). Any step up "
            "is a bug and also fires "
            "PoolscopeMemoryLeak or PoolscopeDoubleFree; the memory_leak log event has every term."
        ),
        queries=(Query(leaks, "{{instance}} {{pool}} {{kind}}"),),
        unit=CHECKS, steps=ANY_IS_BAD, min=0, width=8, show_thresholds=True,
    )


def leaked_slots() -> PanelSpec:
    return PanelSpec(
        title="Leaked slots at the last check (slots)",
        description=(
            "Capacity minus the sum of the states at the last check, per pool: 0 when healthy, "
            "above 0 slots lost to a leak, below 0 slots counted free twice. A non-zero value "
            "stays until restart: those slots are unusable (or double-booked)."
        ),
        queries=(Query(series(catalog.POOL_LEAKED_SLOTS), "{{instance}} {{pool}}"),),
        unit=SLOTS, steps=(Step(RED), Step(GREEN, -0.5), Step(RED, 0.5)), width=8,
        show_thresholds=True,
    )


def checker_activity() -> PanelSpec:
    checks = rate(catalog.MEMORY_CHECKS, by=("instance", "mode"))
    return PanelSpec(
        title="Invariant checks per second, all pools (checks/s)",
        description=(
            "How often the memory checker checks a pool, per instance and mode (idle: going "
            "idle, idle-time session closes, expiries and aborts, every --idle-check-interval s; "
            "busy: after every step with --mem-check busy). A flat zero with traffic means the "
            "checker is off (--mem-check off), so leaks would go uncounted."
        ),
        queries=(Query(checks, "{{instance}} {{mode}}"),),
        unit=CHECKS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )


def track_alloc_failures() -> PanelSpec:
    failures = rate(catalog.MAMBA_TRACK_ALLOC_FAILURES, by=BY_INSTANCE)
    return PanelSpec(
        title="Mamba track allocation failures (requests/s)",
        description=(
            "Requests per second whose track-boundary snapshot slot could not be had "
            "(extra_buffer_lazy): their states are not cached, so later requests with the same "
            "prefix recompute. Give the mamba pool more slots or use --mamba-strategy "
            "extra_buffer."
        ),
        queries=(Query(failures, "{{instance}} failures"),),
        unit=REQUESTS_PER_S, steps=(Step(GREEN),), min=0, width=8,
    )


def overview() -> tuple[PanelSpec, ...]:
    return token_usage(), kv_token_usage(), bottleneck_pool(), leaks_total()


def pools() -> tuple[PanelSpec, ...]:
    return (usage_per_pool(),)


def partitions() -> tuple[PanelSpec, ...]:
    """The device pools' partitions, one row of them per instance."""
    return tuple(slot_partition(pool) for pool in DEVICE_POOLS)


def host_tier() -> tuple[PanelSpec, ...]:
    """The host tier's panels, in a row of their own that stays collapsed unless opened."""
    return slot_partition(HOST_POOL, width=12, no_value=NO_HOST_TIER), host_tier_tokens()


def leaks() -> tuple[PanelSpec, ...]:
    return leaks_per_pool(), leaked_slots(), checker_activity()
