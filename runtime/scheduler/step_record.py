"""What one engine step did, handed to step listeners (telemetry) as plain data."""

from __future__ import annotations

from dataclasses import dataclass

from telemetry.pool_stats import PoolStats
from runtime.scheduler.batch import Phase, ScheduleResult
from runtime.scheduler.scheduler import Scheduler


@dataclass(frozen=True)
class StepRecord:
    """One step: its phase and size, how long it took, the queues after it, and the pools'
    partition after it (the `PoolStats` snapshot that telemetry reads)."""

    phase: Phase
    num_reqs: int
    num_tokens: int  # tokens run through the model
    duration_s: float
    num_running: int
    num_queued: int
    num_retracted: int
    num_out_of_memory: int
    stats: PoolStats

    @classmethod
    def of(
        cls, result: ScheduleResult, duration_s: float, scheduler: Scheduler, stats: PoolStats
    ) -> StepRecord:
        batch = result.batch
        assert batch is not None
        return cls(
            phase=batch.phase, num_reqs=len(batch), num_tokens=batch.num_tokens,
            duration_s=duration_s, num_running=len(scheduler.running),
            num_queued=len(scheduler.waiting), num_retracted=len(result.retracted),
            num_out_of_memory=len(result.out_of_memory), stats=stats,
        )  # fmt: skip
