"""Builds the records the engine hands its observers from the live scheduler objects, so the
records themselves hold plain data only (no Request, no batch)."""

from __future__ import annotations

from runtime.engine.records import (
    CounterDeltas,
    EngineSnapshot,
    FinishedRecord,
    RetractedRequest,
    StepRecord,
)
from runtime.scheduler.batch import ScheduleResult
from runtime.scheduler.request import Request


def step_record(
    result: ScheduleResult,
    duration_s: float,
    snapshot: EngineSnapshot,
    counts: CounterDeltas,
    timings: tuple[list[float], list[float]],
) -> StepRecord:
    """The record of a step that ran `result.batch`; `timings` are its TTFT and ITL samples."""
    batch = result.batch
    assert batch is not None
    ttfts, itls = timings
    return StepRecord(
        phase=batch.phase, num_reqs=len(batch), num_tokens=batch.num_tokens,
        duration_s=duration_s, snapshot=snapshot, counts=counts,
        num_new_seqs=len(result.admitted), num_cached_tokens=result.cached_tokens,
        num_generated=len(ttfts) + len(itls), ttfts=tuple(ttfts), itls=tuple(itls),
        retracted=tuple(_retracted(r) for r in result.retracted),
    )


def finished_record(req: Request, now: float) -> FinishedRecord:
    """The record of a request that ended at `now` (perf_counter seconds)."""
    assert req.finish_reason is not None
    ttft = None if req.first_token_at is None else req.first_token_at - req.arrival
    return FinishedRecord(
        rid=req.rid, finish_reason=req.finish_reason, prompt_tokens=req.prompt_len,
        completion_tokens=len(req.output_ids), cached_tokens=req.cached_tokens,
        e2e_s=now - req.arrival, ttft_s=ttft, session_id=req.session_id, error=req.error,
    )


def _retracted(req: Request) -> RetractedRequest:
    return RetractedRequest(req.rid, req.prompt_len, len(req.output_ids))
