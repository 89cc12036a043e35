"""The continuous-batching policy: which requests run in the next step, and with which slots.

A step is a prefill batch when any prompt work can be scheduled (chunks of requests already
prefilling first, then new admissions in arrival order within `chunked_prefill_size` tokens),
and otherwise a decode batch of every request that has finished its prefill. Slots are taken
while scheduling, so each admission sees what the previous ones took. When decode runs out of
memory, idle sessions give theirs up first (least recently used, once idle
`session_min_idle_s`), then requests are retracted (least output first, ties longest prompt) and
requeued. A request that does not fit now waits in the queue; only one that cannot fit even with
nothing else holding memory is handed back as out of memory (admission refuses those up front).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from runtime.memory.manager import MemoryManager
from runtime.memory.slot_allocator import OutOfSlotsError
from runtime.scheduler.batch import Phase, ScheduledBatch, ScheduleResult
from runtime.scheduler.request import Request
from runtime.scheduler.retraction import keep_order, pick_victim


@dataclass(frozen=True)
class SchedulerConfig:
    """Token budget of one prefill step, the cap on requests running at once, and how long a
    session must be idle before memory pressure may evict it."""

    chunked_prefill_size: int = 512
    max_running_requests: int = 32
    session_min_idle_s: float = 2.0

    def __post_init__(self) -> None:
        if self.chunked_prefill_size < 1:
            raise ValueError(f"chunked_prefill_size must be >= 1, got {self.chunked_prefill_size}")
        if self.max_running_requests < 1:
            raise ValueError(f"max_running_requests must be >= 1, got {self.max_running_requests}")
        if not self.session_min_idle_s >= 0:
            raise ValueError(f"session_min_idle_s must be >= 0, got {self.session_min_idle_s}")


class Scheduler:
    """Owns the waiting queue and the running set; mutates memory only through `mm`."""

    def __init__(self, mm: MemoryManager, config: SchedulerConfig) -> None:
        self.mm, self.config = mm, config
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []

    def add(self, req: Request) -> None:
        self.waiting.append(req)

    def requeue(self, reqs: list[Request], now: float) -> None:
        """Retracted requests go back to the front, oldest first; their queue wait restarts."""
        for req in sorted(reqs, key=lambda r: r.arrival, reverse=True):
            req.queued_at = now
            self.waiting.appendleft(req)

    def remove(self, req: Request) -> None:
        """Drops a request from the queue or the running set (its memory is the caller's)."""
        if req in self.running:
            self.running.remove(req)
        elif req in self.waiting:
            self.waiting.remove(req)

    def schedule(self) -> ScheduleResult:
        """The next batch. Each pass either yields a batch or moves a request out of the
        running set, so this ends."""
        result = ScheduleResult(batch=None)
        while self.running or self.waiting:
            prefill = self._schedule_prefill(result)
            if len(prefill):
                result.batch = prefill
                break
            if any(not r.is_prefilling for r in self.running):
                decode = self._schedule_decode(result)
                if len(decode):
                    result.batch = decode
                    break
            elif self.running:  # every prefill is stuck for memory: shed one
                self._make_room(ScheduledBatch(Phase.PREFILL), result)
            else:
                break
        return result

    def _chunk_len(self, req: Request, budget: int) -> int:
        """The next chunk: within budget, ending on a mamba track boundary when one comes first
        (a snapshot is only taken when a step ends exactly there)."""
        n = min(budget, req.tokens_to_run)
        boundary = self.mm.next_track_boundary(req.mem)
        return min(n, boundary) if boundary else n

    def _schedule_prefill(self, result: ScheduleResult) -> ScheduledBatch:
        batch = ScheduledBatch(Phase.PREFILL)
        budget = self.config.chunked_prefill_size
        for req in [r for r in self.running if r.is_prefilling]:
            n = self._chunk_len(req, budget)
            if n and self._extend(batch, req, n):
                budget -= n
        while self.waiting and budget > 0 and len(self.running) < self.config.max_running_requests:
            n = self._admit(self.waiting[0], budget, batch, result)
            if n is None:
                break
            budget -= n
        return batch

    def _admit(
        self, req: Request, budget: int, batch: ScheduledBatch, result: ScheduleResult
    ) -> int | None:
        """Admits the head of the queue with its first chunk; returns the chunk's length, 0 when
        it was dropped as out of memory, None when it must wait."""
        while True:
            cached = self.mm.match(req.mem)
            n = self._chunk_len(req, budget)
            if self.mm.can_admit(req.mem, n):
                break
            self.mm.revert(req.mem)
            if self._evict_session(result):
                continue  # an idle session's memory became evictable: try again
            if self.running or len(batch) or self.mm.has_idle_session_memory():
                return None  # waits for memory that will come back
            self.waiting.popleft()  # nothing else holds memory it could wait for
            result.out_of_memory.append(req)
            return 0
        self.mm.admit(req.mem)
        n = self._chunk_len(req, budget)  # track slots exist now: cut on their boundary
        self.waiting.popleft()
        self.running.append(req)
        req.is_prefilling = True
        if req.num_retractions == 0:
            req.cached_tokens = cached
        if not self._extend(batch, req, n):  # can_admit said yes, so only a host-tier corner
            self._retract(req, result)
            return None
        result.admitted.append(req)
        result.cached_tokens += cached
        return n

    def _extend(self, batch: ScheduledBatch, req: Request, n: int) -> bool:
        prefix = req.mem.held.allocated
        try:
            slots = self.mm.alloc_extend(req.mem, n)
        except OutOfSlotsError:
            return False
        batch.add(req, prefix, n, slots)
        return True

    def _schedule_decode(self, result: ScheduleResult) -> ScheduledBatch:
        batch = ScheduledBatch(Phase.DECODE)
        reqs = keep_order(r for r in self.running if not r.is_prefilling)
        prefixes = [req.mem.held.allocated for req in reqs]
        slots = self.mm.alloc_decode([req.mem for req in reqs])
        if slots is not None:  # the whole batch fit: no retraction to decide
            for req, prefix, new in zip(reqs, prefixes, slots, strict=True):
                batch.add(req, prefix, 1, new)
            return batch
        for req in reqs:  # per request, retracting in order until each one fits
            while req in self.running and not self._extend(batch, req, 1):
                self._make_room(batch, result)
        return batch

    def _make_room(self, batch: ScheduledBatch, result: ScheduleResult) -> None:
        """Evicts an idle session if one may go, else retracts the next victim not already in
        this step's batch. A request left alone that still cannot grow waits (retracted) while
        young sessions hold memory, and is out of memory only when nothing else holds any."""
        if self._evict_session(result):
            return
        victim = pick_victim(r for r in self.running if r not in batch.reqs)
        assert victim is not None  # the request that needs room is always a candidate
        if len(self.running) == 1 and not self.mm.has_idle_session_memory():
            self.mm.abort(victim.mem)
            self.running.remove(victim)
            result.out_of_memory.append(victim)
            return
        self._retract(victim, result)

    def _evict_session(self, result: ScheduleResult) -> bool:
        """Makes the least recently used idle session's memory evictable (handed to the prefix
        cache); False when no idle session may go yet."""
        eviction = self.mm.evict_idle_session(self.config.session_min_idle_s)
        if eviction is not None:
            result.session_evictions.append(eviction)
        return eviction is not None

    def _retract(self, req: Request, result: ScheduleResult) -> None:
        self.mm.retract(req.mem)
        self.running.remove(req)
        req.is_prefilling = False
        req.num_retractions += 1
        result.retracted.append(req)
