"""The serving panels of the "SGLang serving memory" dashboard, over SGLang's own metrics:
streaming sessions, running/queued requests, retractions, throughput, the prefix cache and
latency quantiles. Metric names come from `telemetry.sglang.catalog`."""

from __future__ import annotations

from dashboards.alerts import RETRACTIONS_PER_S
from dashboards.panel_spec import BLUE, GREEN, ORANGE, PanelSpec, Query, Step
from dashboards.panels_serving import QUANTILES, TOKENS_PER_S, latency_panel
from dashboards.sglang_fallbacks import SGLangFallbacks
from dashboards.sglang_promql import RANK_MATCHERS, TOTAL_OVER_PRIORITIES, SGLangQueries
from telemetry.sglang import catalog as sg
from telemetry.sglang.catalog import SGLangMetric

BY_INSTANCE = ("instance",)


def sessions(qs: SGLangQueries) -> PanelSpec:
    return PanelSpec(
        title="Streaming sessions and the tokens they hold",
        description=(
            "Streaming sessions open now and the KV tokens they keep between turns. Held "
            "tokens with no open session are a leak; many idle sessions holding memory call "
            "for closing them sooner on the client or a shorter session timeout. Needs "
            f"{sg.STREAMING_SESSIONS.since}; empty on older releases."
        ),
        queries=(
            Query(qs.agg("sum", sg.STREAMING_SESSIONS, BY_INSTANCE), "{{instance}} sessions"),
            Query(qs.agg("sum", sg.SESSION_HELD_TOKENS, BY_INSTANCE),
                  "{{instance}} tokens held"),
        ),
        unit="none", steps=(Step(GREEN),), min=0, width=8,
    )


def requests(qs: SGLangQueries) -> PanelSpec:
    def total(metric: SGLangMetric) -> str:
        # Per DP rank once (every TP/PP rank may report it), summed over DP ranks.
        matchers = {**TOTAL_OVER_PRIORITIES, **RANK_MATCHERS}
        return SGLangFallbacks(qs).tokens(qs.series(metric, **matchers), BY_INSTANCE)

    return PanelSpec(
        title="Running and queued requests",
        description=(
            "Requests running and waiting now, per server (all priorities, summed over DP "
            "ranks; the rank variables narrow it). A queue that keeps "
            "growing while running stays flat means admission is blocked: a full pool (see "
            "usage per pool) or --max-running-requests."
        ),
        queries=(
            Query(total(sg.RUNNING_REQS), "{{instance}} running"),
            Query(total(sg.QUEUE_REQS), "{{instance}} queued"),
        ),
        unit="none", steps=(Step(GREEN),), min=0, width=8,
    )


def retractions(qs: SGLangQueries) -> PanelSpec:
    fb = SGLangFallbacks(qs)
    return PanelSpec(
        title="Retractions per second",
        description=(
            "Requests retracted from decode for lack of memory, per second: their work is "
            "recomputed, so throughput drops and latency rises. Above the line (the "
            "SGLangRetractionStorm threshold) for minutes, give the full pool more room "
            "(--mem-fraction-static) or lower --max-running-requests. From "
            f"num_retracted_requests_total ({sg.RETRACTED_REQUESTS.since} on), else the "
            f"num_retractions histogram ({sg.RETRACTIONS_PER_REQUEST.since} on, counted when a "
            "request finishes), else the slope of total_retracted_reqs "
            f"({sg.RETRACTED_SO_FAR.introduced} to {sg.RETRACTED_SO_FAR.removed}, excluded). "
            "Releases with none of these but num_retracted_reqs "
            f"({sg.RETRACTED_LAST_WINDOW.since} on) show it averaged (requests retracted in "
            "SGLang's latest stats window, not per second); before "
            f"{sg.RETRACTED_SO_FAR.introduced} SGLang exports no retraction figure."
        ),
        queries=(
            Query(fb.retraction_rate(BY_INSTANCE), "{{instance}}"),
            Query(fb.retracted_last_window(BY_INSTANCE),
                  "{{instance}} retracted in the latest stats window"),
        ),
        unit="reqps", steps=(Step(GREEN), Step(ORANGE, RETRACTIONS_PER_S)), min=0, width=8,
        show_thresholds=True,
    )


def throughput(qs: SGLangQueries) -> PanelSpec:
    return PanelSpec(
        title="Generation throughput",
        description=(
            "Tokens generated per second: SGLang's gen_throughput (its last decode log "
            "window) and the rate of its generation-token counter. A drop while requests run "
            "points at retractions (recompute) or a growing queue."
        ),
        queries=(
            Query(qs.agg("sum", sg.GEN_THROUGHPUT, BY_INSTANCE), "{{instance}} last window"),
            Query(qs.rate(sg.GENERATION_TOKENS, BY_INSTANCE), "{{instance}} counter rate"),
        ),
        unit=TOKENS_PER_S, steps=(Step(BLUE),), min=0, width=8,
    )


def prefix_hit_rate(qs: SGLangQueries) -> PanelSpec:
    cached = qs.rate(sg.CACHED_TOKENS, BY_INSTANCE)
    prompt = qs.rate(sg.PROMPT_TOKENS, BY_INSTANCE)
    return PanelSpec(
        title="Prefix cache hit rate",
        description=(
            "Share of prompt tokens served from the prefix cache: cached over prompt tokens "
            "per second, and SGLang's cache_hit_rate of its last prefill batch. Low with "
            "shared prompts means cached prefixes are evicted before reuse: the full pool (or "
            "for hybrid models the mamba pool, whose states bound a hit) is too small. The "
            f"token ratio needs {sg.CACHED_TOKENS.since}."
        ),
        queries=(
            Query(f"{cached} / {prompt}", "{{instance}} cached / prompt tokens"),
            Query(qs.agg("avg", sg.CACHE_HIT_RATE, BY_INSTANCE), "{{instance}} last batch"),
        ),
        unit="percentunit", steps=(Step(BLUE),), min=0, max=1, width=8,
    )


def _quantiles(qs: SGLangQueries, *metrics: SGLangMetric) -> tuple[Query, ...]:
    """Each quantile from the first of `metrics` the target exports (newest first)."""
    return tuple(
        Query(" or ".join(qs.quantile(q, m) for m in metrics), f"p{round(q * 100)}")
        for q in QUANTILES
    )


def latency(qs: SGLangQueries) -> tuple[PanelSpec, ...]:
    return (
        latency_panel("Time to first token", "From arrival to the first output token "
                      "(queueing and prefill).", 2, 10, _quantiles(qs, sg.TTFT)),
        latency_panel("Inter-token latency", "Between consecutive output tokens (decode step "
                      f"time as a user sees it); before {sg.ITL.introduced} SGLang called it "
                      "time_per_output_token_seconds.", 0.1, 0.5,
                      _quantiles(qs, sg.ITL, sg.TIME_PER_OUTPUT_TOKEN)),
        latency_panel("End-to-end latency", "From arrival to the finish of a request.", 30,
                      120, _quantiles(qs, sg.E2E_LATENCY)),
    )


def serving(qs: SGLangQueries) -> tuple[PanelSpec, ...]:
    return (sessions(qs), requests(qs), retractions(qs), throughput(qs), prefix_hit_rate(qs))
