"""What the engine tells its observers, as complete records of plain data.

These records are the wire format between the engine process and the frontend: frozen dataclasses
of str / int / float / bool / None, Enums, tuples, str-keyed dicts and nested such dataclasses, so
`msgspec.msgpack.encode(record)` and `msgspec.msgpack.decode(data, type=type(record))` round-trip
them. An observer never reads the engine: each record carries what it reports, the gauges'
snapshot and the counters' deltas since the previous record (computed once, in the engine).
A step record grows with its batch only through its TTFT / ITL samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from runtime.memory.checker import CheckMode, LeakKind, LeakReport
from runtime.memory.pool_name import PoolName
from runtime.scheduler.outcomes import FinishReason, Phase
from telemetry.pool_stats import PoolStats


class CheckTrigger(Enum):
    """Why an idle check ran: the engine went idle, or, while idle, memory changed outside a
    step (a session closed or expired, a request aborted or dropped as out of memory), or the
    periodic check came due (`--idle-check-interval`)."""

    IDLE = "idle"
    SESSION_CLOSE = "session_close"
    SESSION_EXPIRY = "session_expiry"
    ABORT = "abort"
    PERIODIC = "periodic"


class SessionEvent(Enum):
    OPENED = "opened"
    CLOSED = "closed"  # by its client or by its timeout (`CloseReason`)
    EVICTED = "evicted"  # its memory handed to the prefix cache under pressure


class CloseReason(Enum):
    """The `reason` of a `session_closed` event."""

    CLIENT = "client"
    EXPIRED = "expired"


@dataclass(frozen=True)
class EngineSnapshot:
    """What the gauges show: every pool's partition, the checker's signed leaked slots per pool,
    the queues and the open sessions."""

    stats: PoolStats
    leaked_slots: dict[str, int] = field(default_factory=dict)
    num_running: int = 0
    num_queued: int = 0
    num_sessions: int = 0


@dataclass(frozen=True)
class PoolCount:
    pool: PoolName
    n: int


@dataclass(frozen=True)
class CheckCount:
    pool: PoolName
    mode: CheckMode
    n: int


@dataclass(frozen=True)
class LeakCount:
    pool: PoolName
    leak_kind: LeakKind
    n: int


@dataclass(frozen=True)
class CounterDeltas:
    """What each cumulative counter gained since the previous record; pools with no gain are
    left out, so an ordinary step carries empty tuples and zeros."""

    checks: tuple[CheckCount, ...] = ()  # identity checks, per pool and mode
    leaks: tuple[LeakCount, ...] = ()  # newly counted leaks, per pool and leak kind
    prefix_hit_tokens: tuple[PoolCount, ...] = ()  # per cache component
    evicted: tuple[PoolCount, ...] = ()  # slots evicted from the prefix cache, per component
    prefix_queries: int = 0
    track_alloc_failures: int = 0
    session_evictions: int = 0
    retracted: int = 0
    out_of_memory: int = 0
    queue_timeouts: int = 0


@dataclass(frozen=True)
class RetractedRequest:
    rid: str
    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class StepRecord:
    """One step that ran a batch: its phase and size, how long it took, latency samples, the
    requests it retracted, and the snapshot and counter deltas after it."""

    phase: Phase
    num_reqs: int
    num_tokens: int  # tokens run through the model
    duration_s: float
    snapshot: EngineSnapshot
    counts: CounterDeltas = CounterDeltas()
    num_new_seqs: int = 0  # requests admitted by this step (prefill)
    num_cached_tokens: int = 0  # their prefix-cache hits
    num_generated: int = 0  # tokens sampled
    ttfts: tuple[float, ...] = ()  # seconds, for requests that got their first token
    itls: tuple[float, ...] = ()  # seconds between a request's previous token and this one
    retracted: tuple[RetractedRequest, ...] = ()


@dataclass(frozen=True)
class IdleRecord:
    """One idle check: whether it ran (`checked` is False when checks are off), the pools that
    fail the identity now, why it ran, whether its outcome (each pool's signed difference)
    differs from the check before it, and the snapshot and counter deltas after it."""

    snapshot: EngineSnapshot
    counts: CounterDeltas
    checked: bool
    reports: tuple[LeakReport, ...]
    trigger: CheckTrigger
    is_changed: bool


@dataclass(frozen=True)
class FinishedRecord:
    """A request ended (stop, length, or abort: client, out of memory, queue timeout...)."""

    rid: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    e2e_s: float  # arrival to end
    ttft_s: float | None = None  # None: no token was sampled
    session_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SessionRecord:
    """A session opened, closed (`reason`, with its history) or evicted (idle for `idle_s`,
    `evicted_tokens` handed to the prefix cache); the snapshot and deltas after it."""

    event: SessionEvent
    sid: str
    open_sessions: int
    snapshot: EngineSnapshot
    counts: CounterDeltas = CounterDeltas()
    reason: CloseReason | None = None  # closed only
    history_tokens: int = 0  # closed only
    evicted_tokens: int = 0  # evicted only
    idle_s: float = 0.0  # evicted only


@dataclass(frozen=True)
class LeakRecord:
    """Leaks a check newly counted (see `runtime.memory.checker.is_new_leak`), every term."""

    reports: tuple[LeakReport, ...]


RECORD_TYPES = (StepRecord, IdleRecord, FinishedRecord, SessionRecord, LeakRecord)
