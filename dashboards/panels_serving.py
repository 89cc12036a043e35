"""The serving panels of the "Serving memory" dashboard: requests, throughput, the prefix cache,
sessions and latency. Queries come from catalog entries."""

from __future__ import annotations

from dashboards.panel_spec import BLUE, GREEN, ORANGE, RED, YELLOW, PanelSpec, Query, Step
from dashboards.panels_memory import track_alloc_failures
from dashboards.promql import increase, quantile, rate, series
from telemetry import catalog
from telemetry.catalog import MetricSpec

TOKENS_PER_S = "suffix:tok/s"
QUANTILES = (0.5, 0.9, 0.99)


def requests() -> PanelSpec:
    return PanelSpec(
        title="Running, queued and retracted requests",
        description=(
            "Requests running and waiting now; per interval, those retracted from decode for "
            "lack of memory and those finished, by reason. A queue that keeps growing means "
            "admission is blocked (a full pool or --max-running-requests); retractions mean "
            "decode ran out of memory and work is being recomputed: find the bottleneck pool. "
            "Finishes with reason abort include out-of-memory errors."
        ),
        queries=(
            Query(f"sum({series(catalog.REQUESTS_RUNNING)})", "running"),
            Query(f"sum({series(catalog.REQUESTS_QUEUED)})", "queued"),
            Query(increase(catalog.REQUESTS_RETRACTED), "retracted"),
            Query(increase(catalog.REQUESTS_FINISHED, by=("reason",)), "finished {{reason}}"),
        ),
        unit="none", steps=(Step(GREEN),), min=0, width=8,
    )  # fmt: skip


def throughput() -> PanelSpec:
    return PanelSpec(
        title="Generation throughput",
        description=(
            "Tokens generated per second: each runtime's own figure over its last measurement "
            "window, and the rate of the generated-token counter. A drop while requests are "
            "running points at retractions (recompute) or a growing queue; compare with the "
            "step duration panel."
        ),
        queries=(
            Query(series(catalog.GENERATION_THROUGHPUT), "{{instance}} last window"),
            Query(rate(catalog.TOKENS_GENERATED), "all selected, rate of the token counter"),
        ),
        unit=TOKENS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )  # fmt: skip


def prefix_hits() -> PanelSpec:
    return PanelSpec(
        title="Prefix-cache hits by component",
        description=(
            "Prompt tokens served from the prefix cache per second, per cache component, next "
            "to the prompt tokens computed. The mamba line below the KV lines is hits lost to "
            "missing state snapshots: consider --mamba-strategy extra_buffer or a shorter "
            "--track-interval. No hits at all with shared prompts means the cache is evicted too "
            "early: the KV pools are too small (the evicted lines count slots per second)."
        ),
        queries=(
            Query(rate(catalog.TOKENS_CACHED, by=("pool",)), "hit {{pool}}"),
            Query(rate(catalog.TOKENS_PROMPT), "computed"),
            Query(rate(catalog.POOL_EVICTED, by=("pool",)), "evicted {{pool}}"),
        ),
        unit=TOKENS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )  # fmt: skip


def sessions() -> PanelSpec:
    held = series(catalog.POOL_SLOTS, state="session_held")
    return PanelSpec(
        title="Open sessions and the slots they hold",
        description=(
            "Streaming sessions open now and the slots they keep between turns, per pool. "
            "Slots held with no open session are a leak; many idle sessions holding memory "
            "call for a shorter --session-timeout or a lower --max-sessions. Evicted: idle "
            "sessions per interval whose memory went to the prefix cache under pressure."
        ),
        queries=(
            Query(f"sum({series(catalog.SESSIONS_OPEN)})", "open sessions"),
            Query(f"sum by (pool) ({held})", "{{pool}} slots held"),
            Query(increase(catalog.SESSIONS_EVICTED), "evicted"),
        ),
        unit="none", steps=(Step(GREEN),), min=0, width=8,
    )  # fmt: skip


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
    )  # fmt: skip


def _latency(title: str, spec: MetricSpec, warn: float, bad: float, what: str) -> PanelSpec:
    queries = tuple(Query(quantile(q, spec), f"p{round(q * 100)}") for q in QUANTILES)
    return latency_panel(title, what, warn, bad, queries)


def step_duration() -> PanelSpec:
    spec = catalog.STEP_DURATION
    return PanelSpec(
        title="Step duration by phase",
        description=(
            "p50 and p90 of one engine step, prefill and decode. Decode steps growing with the "
            "running batch is expected; a jump at constant batch points at host-tier transfers "
            "or a busy-mode checker (--mem-check busy costs a pass over every pool per step)."
        ),
        queries=tuple(
            Query(quantile(q, spec, by=("phase",)), f"p{round(q * 100)} {{{{phase}}}}")
            for q in QUANTILES[:2]
        ),
        unit="s", steps=(Step(GREEN), Step(YELLOW, 0.5), Step(RED, 2)), min=0, width=12,
    )  # fmt: skip


def latency() -> tuple[PanelSpec, ...]:
    return (
        _latency("Time to first token", catalog.REQUEST_TTFT, 2, 10,
                 "From arrival to the first output token (queueing and prefill)."),
        _latency("Inter-token latency", catalog.REQUEST_ITL, 0.1, 0.5,
                 "Between consecutive output tokens (decode step time as a user sees it)."),
        _latency("End-to-end latency", catalog.REQUEST_E2E, 30, 120,
                 "From arrival to the finish of a request."),
        step_duration(),
    )  # fmt: skip


def serving() -> tuple[PanelSpec, ...]:
    return requests(), throughput(), prefix_hits(), sessions(), track_alloc_failures()
