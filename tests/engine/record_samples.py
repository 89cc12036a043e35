"""One record of every kind (and the snapshot, counts and leak report they share), for the
tests that encode, decode or replay records."""

from __future__ import annotations

from runtime.engine.observer import Record
from runtime.engine.records import (
    CheckCount,
    CheckTrigger,
    CloseReason,
    CounterDeltas,
    EngineSnapshot,
    FinishedRecord,
    IdleRecord,
    LeakCount,
    LeakRecord,
    PoolCount,
    RetractedRequest,
    SessionEvent,
    SessionRecord,
    StepRecord,
)
from runtime.memory.checker import CheckMode, LeakKind, LeakReport
from runtime.memory.pool_name import PoolName
from runtime.scheduler.outcomes import FinishReason, Phase
from telemetry.pool_stats import PoolPartition, PoolStats

PART = PoolPartition(capacity=64, available=40, evictable=8, protected=4, session_held=2,
                     running=9)
STATS = PoolStats(pools={"full": PART, "mamba": PoolPartition(capacity=8, available=8)},
                  extra={"mamba_cache_skipped": 1.0})
SNAPSHOT = EngineSnapshot(STATS, leaked_slots={"full": 1, "mamba": 0}, num_running=2,
                          num_queued=1, num_sessions=3)
COUNTS = CounterDeltas(
    checks=(CheckCount(PoolName.FULL, CheckMode.BUSY, 1),),
    leaks=(LeakCount(PoolName.FULL, LeakKind.LEAK, 1),),
    prefix_hit_tokens=(PoolCount(PoolName.SWA, 16),), evicted=(PoolCount(PoolName.MAMBA, 2),),
    prefix_queries=3, track_alloc_failures=1, session_evictions=1, retracted=2, out_of_memory=1,
    queue_timeouts=1,
)
REPORT = LeakReport(pool="full", mode=CheckMode.BUSY, difference=1, terms=PART)
ONE_OF_EACH: list[Record] = [
    StepRecord(Phase.DECODE, num_reqs=2, num_tokens=2, duration_s=0.01, snapshot=SNAPSHOT,
               counts=COUNTS, num_new_seqs=1, num_cached_tokens=5, num_generated=2,
               ttfts=(0.2,), itls=(0.05,), retracted=(RetractedRequest("r1", 10, 3),)),
    IdleRecord(SNAPSHOT, COUNTS, checked=True, reports=(REPORT,),
               trigger=CheckTrigger.SESSION_EXPIRY, is_changed=True),
    FinishedRecord("r2", FinishReason.ABORT, prompt_tokens=7, completion_tokens=0,
                   cached_tokens=4, e2e_s=1.5, ttft_s=None, session_id="s1", error="oom"),
    SessionRecord(SessionEvent.CLOSED, "s1", open_sessions=0, snapshot=SNAPSHOT, counts=COUNTS,
                  reason=CloseReason.EXPIRED, history_tokens=30),
    SessionRecord(SessionEvent.EVICTED, "s2", open_sessions=1, snapshot=SNAPSHOT,
                  evicted_tokens=12, idle_s=4.5),
    LeakRecord((REPORT,)),
]
