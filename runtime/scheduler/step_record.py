"""What one engine step did, handed to engine observers (telemetry) as plain data."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.scheduler.batch import Phase, ScheduleResult
from runtime.scheduler.request import Request
from runtime.scheduler.scheduler import Scheduler
from telemetry.pool_stats import PoolStats


@dataclass(frozen=True)
class RetractedRequest:
    rid: str
    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class StepRecord:
    """One step: its phase and size, how long it took, the queues after it, latency samples,
    and the pools' partition after it (the `PoolStats` snapshot that telemetry reads)."""

    phase: Phase
    num_reqs: int
    num_tokens: int  # tokens run through the model
    duration_s: float
    num_running: int
    num_queued: int
    num_retracted: int
    num_out_of_memory: int
    stats: PoolStats
    num_new_seqs: int = 0  # requests admitted by this step (prefill)
    num_cached_tokens: int = 0  # their prefix-cache hits
    num_generated: int = 0  # tokens sampled
    ttfts: tuple[float, ...] = ()  # seconds, for requests that got their first token
    itls: tuple[float, ...] = ()  # seconds between a request's previous token and this one
    retracted: tuple[RetractedRequest, ...] = ()

    @classmethod
    def of(
        cls,
        result: ScheduleResult,
        duration_s: float,
        scheduler: Scheduler,
        stats: PoolStats,
        timings: tuple[list[float], list[float]],
    ) -> StepRecord:
        batch = result.batch
        assert batch is not None
        ttfts, itls = timings
        return cls(
            phase=batch.phase, num_reqs=len(batch), num_tokens=batch.num_tokens,
            duration_s=duration_s, num_running=len(scheduler.running),
            num_queued=len(scheduler.waiting), num_retracted=len(result.retracted),
            num_out_of_memory=len(result.out_of_memory), stats=stats,
            num_new_seqs=len(result.admitted), num_cached_tokens=result.cached_tokens,
            num_generated=len(ttfts) + len(itls), ttfts=tuple(ttfts), itls=tuple(itls),
            retracted=tuple(_retracted(r) for r in result.retracted),
        )


def _retracted(req: Request) -> RetractedRequest:
    return RetractedRequest(req.rid, req.prompt_len, len(req.output_ids))
