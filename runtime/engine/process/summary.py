"""An `EngineSummary` read from a live engine: what the frontend's stopped event and tests need."""

from __future__ import annotations

from runtime.engine.engine import Engine
from runtime.engine.process.messages import EngineSummary


def summarize(engine: Engine, num_check_failures: int = 0) -> EngineSummary:
    counters, mm = engine.counters, engine.mm
    return EngineSummary(
        stats=engine.last_stats, num_finished=counters.finished,
        num_cached_tokens=counters.cached_tokens, num_retracted=counters.retracted,
        num_out_of_memory=counters.out_of_memory, num_queue_timeouts=counters.queue_timeouts,
        num_session_evictions=mm.counters.session_evictions,
        num_requests=len(engine.requests), num_running=len(engine.scheduler.running),
        num_sessions=len(engine.sessions), is_idle=engine.is_idle,
        leak_counts={f"{pool.value}/{kind.value}": n
                     for (pool, kind), n in mm.leak_counts.items()},
        check_counts={f"{pool.value}/{mode.value}": n
                      for (pool, mode), n in mm.check_counts.items()},
        leaked_slots=dict(mm.leaked_slots), num_check_failures=num_check_failures,
    )
