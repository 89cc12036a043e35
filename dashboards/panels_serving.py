"""The serving panels of the "Serving memory" dashboard: requests, throughput, the prefix cache,
sessions and latency. Queries come from catalog entries; one unit per panel (`panel_units`),
instances kept apart except in latency quantiles, whose titles say they are over all selected
instances."""

from __future__ import annotations

from dataclasses import replace

from dashboards import panel_units as units
from dashboards.panel_spec import BLUE, GREEN, ORANGE, RED, YELLOW, PanelSpec, Query, Step
from dashboards.panel_units import TOKENS_PER_S
from dashboards.panels_memory import BY_INSTANCE, track_alloc_failures
from dashboards.promql import quantile, rate, series
from telemetry import catalog
from telemetry.catalog import MetricSpec

QUANTILES = (0.5, 0.9, 0.99)


def _per_instance(spec: MetricSpec, **matchers: str) -> str:
    return f"sum by (instance) ({series(spec, **matchers)})"


def requests() -> PanelSpec:
    return PanelSpec(
        title="Running and queued requests (requests)",
        description=(
            "Requests running and waiting now, per instance. A queue that keeps growing means "
            "admission is blocked (a full pool or --max-running-requests): find the bottleneck "
            "pool. Retractions and finishes per second are on the next panel."
        ),
        queries=(
            Query(_per_instance(catalog.REQUESTS_RUNNING), "{{instance}} running"),
            Query(_per_instance(catalog.REQUESTS_QUEUED), "{{instance}} queued"),
        ),
        unit=units.REQUESTS, steps=(Step(GREEN),), min=0, width=8,
    )


def request_rates() -> PanelSpec:
    finished = rate(catalog.REQUESTS_FINISHED, by=("instance", "reason"))
    return PanelSpec(
        title="Retracted and finished requests per second (requests/s)",
        description=(
            "Requests retracted from decode for lack of memory, and requests finished by "
            "reason, per second and instance. Retractions mean decode ran out of memory and "
            "work is being recomputed: find the bottleneck pool. Finishes with reason abort "
            "include out-of-memory errors."
        ),
        queries=(
            Query(rate(catalog.REQUESTS_RETRACTED, by=BY_INSTANCE), "{{instance}} retracted"),
            Query(finished, "{{instance}} finished {{reason}}"),
        ),
        unit=units.REQUESTS_PER_S, steps=(Step(GREEN),), min=0, width=8,
    )


def throughput() -> PanelSpec:
    return PanelSpec(
        title="Generation throughput (tok/s)",
        description=(
            "Tokens generated per second, per instance: the runtime's own figure over its last "
            "measurement window, and the rate of the generated-token counter. A drop while "
            "requests are running points at retractions (recompute) or a growing queue; compare "
            "with the step duration panel."
        ),
        queries=(
            Query(series(catalog.GENERATION_THROUGHPUT), "{{instance}} last window"),
            Query(rate(catalog.TOKENS_GENERATED, by=BY_INSTANCE),
                  "{{instance}} rate of the token counter"),
        ),
        unit=TOKENS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )


def prefix_hits() -> PanelSpec:
    return PanelSpec(
        title="Prefix-cache hits by component and computed prompt tokens (tok/s)",
        description=(
            "Prompt tokens served from the prefix cache per second, per instance and cache "
            "component, next to the prompt tokens computed. The mamba line below the KV lines is "
            "hits lost to missing state snapshots: consider --mamba-strategy extra_buffer or a "
            "shorter --track-interval. No hits at all with shared prompts means the cache is "
            "evicted too early (see 'Evicted slots')."
        ),
        queries=(
            Query(rate(catalog.TOKENS_CACHED, by=("instance", "pool")),
                  "{{instance}} hit {{pool}}"),
            Query(rate(catalog.TOKENS_PROMPT, by=BY_INSTANCE), "{{instance}} computed"),
        ),
        unit=TOKENS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )


def evictions() -> PanelSpec:
    return PanelSpec(
        title="Evicted slots per second by pool (slots/s)",
        description=(
            "Slots the prefix cache evicted per second, per instance and pool (a KV slot is one "
            "token, a mamba slot one request's state). Evictions with few prefix hits mean the "
            "KV pools are too small for the shared prompts: give them more slots."
        ),
        queries=(Query(rate(catalog.POOL_EVICTED, by=("instance", "pool")),
                       "{{instance}} evicted {{pool}}"),),
        unit=units.SLOTS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )


def sessions() -> PanelSpec:
    return PanelSpec(
        title="Open sessions (sessions)",
        description=(
            "Streaming sessions open now, per instance. Many idle sessions holding memory call "
            "for a shorter --session-timeout or a lower --max-sessions; the slots they hold and "
            "the sessions evicted under pressure are on the next panels."
        ),
        queries=(Query(_per_instance(catalog.SESSIONS_OPEN), "{{instance}} open sessions"),),
        unit=units.SESSIONS, steps=(Step(GREEN),), min=0, width=8,
    )


def session_slots() -> PanelSpec:
    held = series(catalog.POOL_SLOTS, state="session_held")
    return PanelSpec(
        title="Slots held by sessions between turns (slots)",
        description=(
            "The slots open streaming sessions keep between turns, per instance and pool. Slots "
            "held while the instance has no open session are a leak."
        ),
        queries=(Query(f"sum by (instance, pool) ({held})", "{{instance}} {{pool}}"),),
        unit=units.SLOTS, steps=(Step(GREEN),), min=0, width=8,
    )


def session_evictions() -> PanelSpec:
    return PanelSpec(
        title="Sessions evicted under memory pressure per second (sessions/s)",
        description=(
            "Idle sessions per second, per instance, whose memory went to the prefix cache so "
            "that waiting requests could run (least recently used first, after "
            "--session-min-idle). The sessions stay open; their next turn recomputes what the "
            "cache no longer holds. Steady evictions mean the pools are too small for the "
            "sessions kept open: raise the pool sizes or lower --max-sessions."
        ),
        queries=(Query(rate(catalog.SESSIONS_EVICTED, by=("instance",)),
                       "{{instance}} evicted"),),
        unit=units.SESSIONS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )


def latency_panel(
    title: str, what: str, warn: float, bad: float, queries: tuple[Query, ...]
) -> PanelSpec:
    """A latency quantiles panel (seconds) with warn/bad thresholds; shared with the SGLang
    dashboard, which passes quantiles of SGLang's histograms."""
    return PanelSpec(
        title=title,
        description=(
            f"{what} Quantiles over every selected instance. Above {warn:g} s users notice; "
            f"above {bad:g} s look for a queue, retractions or a saturated pool."
        ),
        queries=queries,
        unit="s", steps=(Step(GREEN), Step(ORANGE, warn), Step(RED, bad)), min=0, width=8,
        show_thresholds=True,
    )


def _latency(title: str, spec: MetricSpec, warn: float, bad: float, what: str) -> PanelSpec:
    queries = tuple(Query(quantile(q, spec), f"p{round(q * 100)}") for q in QUANTILES)
    panel = latency_panel(f"{title} (seconds, {units.FLEET})", what, warn, bad, queries)
    return replace(panel, width=6)


def step_duration() -> PanelSpec:
    spec = catalog.STEP_DURATION
    return PanelSpec(
        title=f"Step duration by phase (seconds, {units.FLEET})",
        description=(
            "p50 and p90 of one engine step, prefill and decode, over every selected instance. "
            "Decode steps growing with the running batch is expected; a jump at constant batch "
            "points at host-tier transfers or a busy-mode checker (--mem-check busy costs a "
            "pass over every pool per step)."
        ),
        queries=tuple(
            Query(quantile(q, spec, by=("phase",)), f"p{round(q * 100)} {{{{phase}}}}")
            for q in QUANTILES[:2]
        ),
        unit="s", steps=(Step(GREEN), Step(YELLOW, 0.5), Step(RED, 2)), min=0, width=6,
    )


def latency() -> tuple[PanelSpec, ...]:
    return (
        _latency("Time to first token", catalog.REQUEST_TTFT, 2, 10,
                 "From arrival to the first output token (queueing and prefill)."),
        _latency("Inter-token latency", catalog.REQUEST_ITL, 0.1, 0.5,
                 "Between consecutive output tokens (decode step time as a user sees it)."),
        _latency("End-to-end latency", catalog.REQUEST_E2E, 30, 120,
                 "From arrival to the finish of a request."),
        step_duration(),
    )


def serving() -> tuple[PanelSpec, ...]:
    return (requests(), request_rates(), throughput(), prefix_hits(), evictions(),
            track_alloc_failures(), sessions(), session_slots(), session_evictions())
