"""The catalog: every metric and log event poolscope emits, in one place.

Instruments, dashboards, alert rules and docs are generated from these entries; no metric or event
name is spelled anywhere else. OTel names live under `poolscope.`; the Prometheus name is derived
the way the OTel Prometheus exporter does it (dots → underscores, unit suffix, `_total`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

NAMESPACE = "poolscope"
COMMON_LABELS = ("model",)

# Label domains: the values a label may take. Counters are pre-created for every combination.
POOLS = ("full", "swa", "mamba", "req", "host")
STATES = ("available", "evictable", "protected", "session_held", "running")
# SGLang's `token_usage` is the max over these pools (not only KV); kept for compatibility.
TOKEN_USAGE_POOLS = ("full", "swa", "mamba")
KV_USAGE_POOLS = ("full", "swa")  # kv_token_usage: the figure the name suggests
CHECK_MODES = ("idle", "busy")
LEAK_KINDS = ("leak", "double_free")
PHASES = ("prefill", "decode")
FINISH_REASONS = ("stop", "length", "abort")
# What became of a log line `poolscope logs export` read: it fed a batch or leak record, it was a
# known event without figures, it was blank, or it was unknown, garbled or truncated.
LINE_RESULTS = ("parsed", "other", "blank", "skipped")
LABEL_VALUES: dict[str, tuple[str, ...]] = {
    "pool": POOLS, "state": STATES, "mode": CHECK_MODES, "kind": LEAK_KINDS, "phase": PHASES,
    "reason": FINISH_REASONS, "result": LINE_RESULTS,
}
# Every series `poolscope logs export` serves carries these labels (its value names the log),
# in place of the runtime's `model`, which a log line does not say.
EXPORT_LABELS = ("source",)

TOKEN_USAGE_FIXME = (
    "FIXME: token_usage is the maximum usage across all pools (full KV, SWA, mamba), not only KV "
    "token usage; the name is kept until a deprecation."
)

# Second-scale buckets (Prometheus base unit), chosen to resolve both CPU and GPU serving.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
E2E_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Instrument(Enum):
    """How a metric is instrumented: gauges are observed at scrape time from the latest
    snapshot; counters and histograms are recorded as things happen."""

    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its OTel name (without the namespace), instrument, UCUM unit, the labels
    beyond the common ones, the help text, and histogram buckets."""

    name: str
    instrument: Instrument
    unit: str
    labels: tuple[str, ...]
    description: str
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        unknown = [label for label in self.labels if label not in LABEL_VALUES]
        if unknown:
            raise ValueError(f"{self.name}: labels {unknown} have no domain in LABEL_VALUES")
        if (self.instrument is Instrument.HISTOGRAM) != bool(self.buckets):
            raise ValueError(f"{self.name}: buckets are required for histograms, and only them")

    @property
    def otel_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    @property
    def all_labels(self) -> tuple[str, ...]:
        return COMMON_LABELS + self.labels

    @property
    def prometheus_name(self) -> str:
        """The exposed family name: `poolscope_<name>[_<unit>]`, plus `_total` on counters
        (histograms expose `_bucket`, `_sum`, `_count` under it)."""
        base = re.sub(r"[^a-zA-Z0-9_]", "_", self.otel_name)
        suffix = _unit_suffix(self.unit)
        if suffix and not base.endswith(f"_{suffix}"):
            base = f"{base}_{suffix}"
        return f"{base}_total" if self.instrument is Instrument.COUNTER else base


def _unit_suffix(unit: str) -> str:
    """UCUM unit → Prometheus suffix, as the OTel exporter maps it: annotations such as
    `{slot}` and the dimensionless `1` vanish, `s` becomes `seconds`, `x/s` becomes
    `x_per_second`."""
    unit = re.sub(r"\{[^}]*\}", "", unit)
    if unit in ("", "1"):
        return ""
    top, _, per = unit.partition("/")
    names = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}
    per_names = {"s": "second", "m": "minute", "h": "hour"}
    if per:
        head = names.get(top, top)
        return f"{head}_per_{per_names.get(per, per)}" if head else f"per_{per_names.get(per, per)}"
    return names.get(unit, unit)


@dataclass(frozen=True)
class EventSpec:
    """One structured log event: its name, the fields it may carry, and what it means."""

    name: str
    fields: tuple[str, ...]
    description: str


def _gauge(name: str, unit: str, labels: tuple[str, ...], description: str) -> MetricSpec:
    return MetricSpec(name, Instrument.GAUGE, unit, labels, description)


def _counter(name: str, unit: str, labels: tuple[str, ...], description: str) -> MetricSpec:
    return MetricSpec(name, Instrument.COUNTER, unit, labels, description)


def _histogram(
    name: str, labels: tuple[str, ...], description: str, buckets: tuple[float, ...]
) -> MetricSpec:
    return MetricSpec(name, Instrument.HISTOGRAM, "s", labels, description, buckets)


# --- pools: the slot partition, read from the latest PoolStats at scrape time ---------------
POOL_SLOTS = _gauge(
    "pool.slots", "{slot}", ("pool", "state"),
    "Slots of each pool by state (available, evictable, protected, session_held, running); "
    "the states of a pool add up to its capacity.",
)
POOL_CAPACITY = _gauge(
    "pool.capacity", "{slot}", ("pool",), "Slots of each pool, reserved slot 0 excluded."
)
POOL_USAGE = _gauge(
    "pool.usage", "1", ("pool",),
    "Usage of each pool: (capacity - available - evictable) / capacity.",
)
POOL_LEAKED_SLOTS = _gauge(
    "pool.leaked_slots", "{slot}", ("pool",),
    "Signed result of the last invariant check: capacity minus the sum of the states "
    "(> 0 slots lost to a leak, < 0 slots freed twice).",
)
TOKEN_USAGE = _gauge(
    "token_usage", "1", (),
    "Maximum usage over the full, swa and mamba pools (SGLang's token_usage). " + TOKEN_USAGE_FIXME,
)
KV_TOKEN_USAGE = _gauge(
    "kv_token_usage", "1", (), "Maximum usage over the KV pools (full, swa), mamba excluded."
)
POOL_EVICTED = _counter(
    "pool.evicted", "{slot}", ("pool",), "Slots the prefix cache evicted, per pool."
)

# --- the memory checker ----------------------------------------------------------------------
MEMORY_CHECKS = _counter(
    "memory.checks", "{check}", ("pool", "mode"),
    "Invariant checks run per pool: mode=idle (going idle, idle-time memory changes, "
    "periodically while idle) or mode=busy (after a step).",
)
MEMORY_LEAKS = _counter(
    "memory.leaks", "{check}", ("pool", "kind"),
    "Leaks found per pool: kind=leak (slots lost) or kind=double_free (more slots free than "
    "exist). One unchanged leak counts once; it counts again when it grows or changes kind.",
)
MAMBA_TRACK_ALLOC_FAILURES = _counter(
    "mamba.track_alloc_failures", "{request}", (),
    "Track-boundary snapshot slots that could not be had (extra_buffer_lazy): the request's "
    "state is then not cached at its finish.",
)

# --- requests, sessions, tokens --------------------------------------------------------------
REQUESTS_RUNNING = _gauge("requests.running", "{request}", (), "Requests running now.")
REQUESTS_QUEUED = _gauge("requests.queued", "{request}", (), "Requests waiting to be admitted.")
REQUESTS_RETRACTED = _counter(
    "requests.retracted", "{request}", (),
    "Requests retracted from decode for lack of memory (requeued and recomputed).",
)
REQUESTS_FINISHED = _counter(
    "requests.finished", "{request}", ("reason",),
    "Requests finished, by finish reason (abort covers client aborts and out-of-memory).",
)
SESSIONS_OPEN = _gauge("sessions.open", "{session}", (), "Streaming sessions open now.")
SESSIONS_EVICTED = _counter(
    "sessions.evicted", "{session}", (),
    "Idle sessions whose memory was handed to the prefix cache under memory pressure (least "
    "recently used first); the session stays open and its next turn recomputes what the cache "
    "no longer holds.",
)
TOKENS_PROMPT = _counter(
    "tokens.prompt", "{token}", (),
    "Prompt tokens computed by prefill (prefix-cache hits excluded; see tokens.cached).",
)
TOKENS_GENERATED = _counter("tokens.generated", "{token}", (), "Tokens sampled.")
TOKENS_CACHED = _counter(
    "tokens.cached", "{token}", ("pool",),
    "Prefix-cache hits per component, counted at admission: KV components (full or host, swa) "
    "count the prefix matched by key, mamba only the part a cached state covers; a request "
    "resumes from the shortest, so a gap shows hits lost to missing state snapshots.",
)
PREFIX_CACHE_QUERIES = _counter(
    "prefix_cache.queries",
    "{query}",
    (),
    "Prefix-cache lookups, one per admission (session turns resume from their slot instead).",
)
GENERATION_THROUGHPUT = _gauge(
    "generation.throughput", "{token}/s", (),
    "Tokens generated per second over the last measurement window (0 when idle).",
)

# --- latency ---------------------------------------------------------------------------------
REQUEST_TTFT = _histogram(
    "request.ttft", (), "Time from arrival to the first output token.", LATENCY_BUCKETS
)
REQUEST_ITL = _histogram(
    "request.inter_token_latency", (), "Time between consecutive output tokens.", ITL_BUCKETS
)
REQUEST_E2E = _histogram(
    "request.e2e_latency", (), "Time from arrival to the finish of a request.", E2E_BUCKETS
)
STEP_DURATION = _histogram(
    "scheduler.step_duration", ("phase",), "Duration of one engine step, by phase.", STEP_BUCKETS
)

METRICS: tuple[MetricSpec, ...] = (
    POOL_SLOTS, POOL_CAPACITY, POOL_USAGE, POOL_LEAKED_SLOTS, TOKEN_USAGE, KV_TOKEN_USAGE,
    POOL_EVICTED, MEMORY_CHECKS, MEMORY_LEAKS, MAMBA_TRACK_ALLOC_FAILURES, REQUESTS_RUNNING,
    REQUESTS_QUEUED, REQUESTS_RETRACTED, REQUESTS_FINISHED, SESSIONS_OPEN, SESSIONS_EVICTED,
    TOKENS_PROMPT,
    TOKENS_GENERATED, TOKENS_CACHED, PREFIX_CACHE_QUERIES, GENERATION_THROUGHPUT, REQUEST_TTFT,
    REQUEST_ITL, REQUEST_E2E, STEP_DURATION,
)

# --- served only by `poolscope logs export`, from what a log line says ------------------------
POOL_USED = _gauge(
    "pool.used", "{slot}", ("pool",),
    "Slots in use (neither available nor evictable) per pool, as the last batch line of a log "
    "reports them (#token or #full token, #swa token, mamba num; HiSparse #gpu token as full and "
    "#cpu token as host). Only `poolscope logs export` serves it; the runtime exposes pool.slots.",
)
LOG_LINES = _counter(
    "logs.lines", "{line}", ("result",),
    "Log lines `poolscope logs export` has read, by result: parsed (a batch or leak record), "
    "other (a known event without figures), blank, skipped (unknown, garbled or truncated).",
)

# Kept apart from METRICS: the runtime creates an instrument for every entry of METRICS.
EXPORTER_METRICS: tuple[MetricSpec, ...] = (POOL_USED, LOG_LINES)


# --- log events ------------------------------------------------------------------------------
# Usage fields of batch events, as in SGLang's decode line. Pool parts appear only for live pools.
USAGE_FIELDS = (
    "token", "token_usage", "kv_token_usage", "full_token", "full_token_usage", "swa_token",
    "swa_token_usage", "mamba_num", "mamba_usage", "gpu_token", "gpu_token_usage", "cpu_token",
    "cpu_token_usage",
)
PARTITION_FIELDS = ("capacity", "available", "evictable", "protected", "session_held", "running")

PREFILL_BATCH = EventSpec(
    "prefill_batch",
    ("new_seq", "new_token", "cached_token", "cache_hit_rate", *USAGE_FIELDS, "running_req",
     "queue_req", "input_throughput"),
    "One prefill step: sequences and tokens computed, prefix hits, pool usage after it.",
)
DECODE_BATCH = EventSpec(
    "decode_batch",
    ("running_req", *USAGE_FIELDS, "graph", "gen_throughput", "queue_req"),
    "Every --decode-log-interval decode steps: running requests, pool usage, throughput.",
)
IDLE_CHECK = EventSpec(
    "idle_check", ("mode", "trigger", "ok", "num_leaks", "pools"),
    "The invariant check at idle; `trigger` says why it ran: `idle` (the engine went idle), "
    "`session_close`, `session_expiry` or `abort` (memory changed while idle), `periodic` "
    "(logged only when its outcome differs from the check before); `num_leaks` counts the pools "
    "failing now; `pools` holds every pool's partition.",
)
MEMORY_LEAK = EventSpec(
    "memory_leak", ("pool", "mode", "kind", *PARTITION_FIELDS, "difference"),
    "A leak the checker counts (new, of the other kind, or grown; an unchanged leak is logged "
    "once): every term of the pool's partition and the signed difference "
    "(capacity - sum of states).",
)
REQUEST_RETRACTED = EventSpec(
    "request_retracted", ("rid", "prompt_tokens", "output_tokens", "running_req", "queue_req"),
    "A request retracted from decode for lack of memory; it is requeued and recomputed.",
)
REQUEST_FINISHED = EventSpec(
    "request_finished",
    ("rid", "finish_reason", "prompt_tokens", "completion_tokens", "cached_tokens", "ttft_s",
     "e2e_s", "session_id", "error"),
    "A request ended (stop, length or abort), with its sizes and latencies.",
)
SESSION_OPENED = EventSpec(
    "session_opened", ("session_id", "open_sessions"), "A streaming session was opened."
)
SESSION_CLOSED = EventSpec(
    "session_closed", ("session_id", "reason", "history_tokens", "open_sessions"),
    "A streaming session was closed by its client or expired.",
)
SESSION_EVICTED = EventSpec(
    "session_evicted", ("session_id", "idle_s", "tokens", "open_sessions"),
    "Memory pressure handed an idle session's memory (`tokens` of KV and its state) to the "
    "prefix cache; the session stays open.",
)
SERVER_STARTED = EventSpec(
    "server_started",
    ("url", "model", "version", "pools", "decode_log_interval", "torch_threads", "engine_pid"),
    "The HTTP server accepts requests; `pools` holds each pool's capacity, `torch_threads` the "
    "engine's torch intra-op threads, `engine_pid` the engine process's PID.",
)
ENGINE_EXITED = EventSpec(
    "engine_exited", ("pid", "exit", "error"),
    "The engine process ended without being asked: its PID, how it ended (`exit status N` or "
    "`killed by SIGNAL`) and the error it reported before, if any; the server then answers 503 "
    "and stops.",
)
SERVER_STOPPED = EventSpec(
    "server_stopped",
    ("reason", "uptime_s", "num_requests_served", "last_check_ok", "leaked_slots", "num_leaks",
     "error"),
    "The server stopped: `reason` SIGTERM, SIGINT, engine_error (the engine loop failed; "
    "`error` says how) or stopped (closed by its owner); requests finished since start; the "
    "last memory check's result (null when none ran) with each pool's signed leaked slots, and "
    "the leaks counted since start.",
)
LOG_EXPORT_STARTED = EventSpec(
    "log_export_started", ("file", "url", "port", "source", "follow", "from_start"),
    "`poolscope logs export` serves the metrics of a log file at `url` (on `port`); a file "
    "followed but missing is waited for.",
)
LOG_FILE_SWITCHED = EventSpec(
    "log_file_switched", ("file", "reason", "num_bytes_read"),
    "The followed log file was rotated (a new file at the path: the old one is read to its end "
    "first), truncated (read again from the start) or appeared (it was missing until now); "
    "with a glob, a file was found (a new match, read from its start), is gone (missing for "
    "a minute: let go, its series removed) or is unreadable (skipped, tried again); "
    "`num_bytes_read` is how far the file before was read.",
)
LOG_EXPORT_STOPPED = EventSpec(
    "log_export_stopped", ("file", "signal", "num_lines", "num_records", "num_skipped"),
    "`poolscope logs export` stopped on a signal, with its line counts.",
)
ALERT_RECEIVED = EventSpec(
    "alert_received",
    ("receiver", "status", "alertname", "severity", "pool", "instance", "summary", "starts_at"),
    "One alert of an Alertmanager webhook post to `poolscope alert-sink`: the receiver (route) "
    "it came by, firing or resolved, and its labels; absent labels are left out.",
)

EVENTS: tuple[EventSpec, ...] = (
    PREFILL_BATCH, DECODE_BATCH, IDLE_CHECK, MEMORY_LEAK, REQUEST_RETRACTED, REQUEST_FINISHED,
    SESSION_OPENED, SESSION_CLOSED, SESSION_EVICTED, SERVER_STARTED, SERVER_STOPPED, ALERT_RECEIVED,
    LOG_EXPORT_STARTED, LOG_FILE_SWITCHED, LOG_EXPORT_STOPPED, ENGINE_EXITED,
)


def metric(name: str) -> MetricSpec:
    """The catalog entry for an OTel name (with or without the namespace)."""
    short = name.removeprefix(f"{NAMESPACE}.")
    for spec in METRICS + EXPORTER_METRICS:
        if spec.name == short:
            return spec
    raise KeyError(f"no metric {name!r} in the catalog")


def event(name: str) -> EventSpec:
    for spec in EVENTS:
        if spec.name == name:
            return spec
    raise KeyError(f"no event {name!r} in the catalog")
