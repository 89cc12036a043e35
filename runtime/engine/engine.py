"""The engine: requests in, tokens out. One `step` = schedule → forward → postprocess.

Not thread-safe: one thread drives it (the offline `generate` loop, or the engine process's
`EngineCore` loop, which hands requests and aborts over between steps).

    engine = Engine.from_config(EngineConfig(model="default"))
    print(engine.generate(["Hello"], SamplingParams(max_tokens=16))[0].text)
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from runtime.engine.config import EngineConfig, memory_config
from runtime.engine.records import CheckTrigger, CloseReason, EngineSnapshot, SessionEvent
from runtime.engine.reporter import Reporter
from runtime.engine.threads import apply_torch_threads
from runtime.memory.checker import CheckMode
from runtime.memory.holdings import ReqMemory
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_tensors import PoolTensors
from runtime.model.loader import LoadedModel
from runtime.model.tokenizer import Tokenizer
from runtime.scheduler.batch import ScheduledBatch
from runtime.scheduler.model_runner import ModelRunner
from runtime.scheduler.outcome_counts import OutcomeCounts
from runtime.scheduler.output_processor import append_token, output_of, token_output
from runtime.scheduler.request import AbortCode, FinishReason, OutputSink, Request
from runtime.scheduler.request_checks import check_prompt, check_text, max_new_tokens
from runtime.scheduler.sampler import SampledToken, Sampler, SampleRow, make_generator
from runtime.scheduler.sampling_params import SamplingParams
from runtime.scheduler.scheduler import Scheduler
from runtime.scheduler.session_table import SessionTable
from runtime.scheduler.text_stream import TextStream
from telemetry.pool_stats import PoolStats


@dataclass(frozen=True)
class Completion:
    """A finished request, as the offline API returns it."""

    rid: str
    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    error: str | None
    prompt_tokens: int
    cached_tokens: int


class Engine:
    """Owns the model runner, the memory manager, the scheduler, the sampler and the sessions."""

    def __init__(self, lm: LoadedModel, config: EngineConfig, device: torch.device,
                 dtype: torch.dtype) -> None:
        self.lm, self.config, self.device = lm, config, device
        self.torch_threads = apply_torch_threads(config.torch_threads)
        self.memory_config = memory_config(config, lm.config, dtype)
        tensors = _allocate(lm, self.memory_config, dtype, device)
        self.mm = MemoryManager(self.memory_config, tensors)
        self.scheduler = Scheduler(self.mm, config.scheduler)
        self.runner = ModelRunner(lm.model, tensors, device)
        self.sampler = Sampler()
        self.sessions = SessionTable(config.max_sessions, config.session_timeout_s)
        self.requests: dict[str, Request] = {}
        self.last_stats: PoolStats = self.mm.stats()
        self._seeds = random.Random(config.seed)
        self.counters = OutcomeCounts()
        self.reporter = Reporter(self.mm, self.scheduler, self.sessions, self.counters)
        self.observers = self.reporter.observers  # telemetry; called on this thread
        self._is_idle = True
        self._last_idle_check = time.monotonic()

    @classmethod
    def from_config(cls, config: EngineConfig) -> Engine:
        """Loads the model named by the config (creating the built-in default if needed)."""
        from runtime.config import bound_onednn_cache, resolve_device, resolve_dtype
        from runtime.model.default_model import resolve_model_path
        from runtime.model.loader import load_model

        bound_onednn_cache()  # before the first matmul of this process

        device, dtype = resolve_device(config.device), resolve_dtype(config.dtype)
        lm = load_model(resolve_model_path(config.model), device=device, dtype=dtype)
        return cls(lm, config, device, dtype)

    @property
    def max_context(self) -> int:
        return self.memory_config.max_context

    @property
    def is_idle(self) -> bool:
        """True once the engine went idle (and ran its going-idle check) until the next batch."""
        return self._is_idle

    def room_left(self, num_prompt: int, session_id: str | None = None) -> int:
        """Tokens a prompt of `num_prompt` leaves in the context (after a session's history),
        or in the KV pool when that holds less than the context."""
        total = num_prompt + (len(self.sessions.get(session_id).history) if session_id else 0)
        room = max_new_tokens(self.memory_config, total)
        return min(self.max_context - total, self.max_context if room is None else room)

    def add_request(
        self,
        prompt: str | Sequence[int],
        params: SamplingParams,
        *,
        rid: str | None = None,
        session_id: str | None = None,
        sink: OutputSink | None = None,
        arrival: float | None = None,
    ) -> Request:
        """Queues a completion; raises InvalidRequest (or a session error) when it cannot be
        served. `sink` receives each output delta, the last one with a finish reason. `arrival`
        (time.perf_counter() seconds, default now) is where TTFT and e2e latency start: the
        engine process passes the frontend's stamp."""
        if isinstance(prompt, str):
            ids = self.lm.tokenizer.encode(check_text(prompt, "prompt"))
        else:
            ids = list(prompt)
        rid = rid or f"cmpl-{uuid.uuid4().hex[:24]}"
        history = self.sessions.get(session_id).history if session_id else []
        check_prompt(ids, len(history), params, self.lm.config.vocab_size,
                     self.max_context, self.memory_config)
        if rid in self.requests:
            raise ValueError(f"request id {rid!r} is already in use")
        seed = params.seed if params.seed is not None else self._seeds.getrandbits(63)
        req = Request(
            rid=rid, mem=ReqMemory(rid, history + ids), prompt_len=len(history) + len(ids),
            params=params, text=_text_stream(self.lm.tokenizer, params, self.config.produce_text),
            emits_text=self.config.produce_text,
            generator=None if params.is_greedy else make_generator(seed, self.device),
            sink=sink, session_id=session_id, max_context=self.max_context,
        )
        if arrival is not None:
            req.arrival = arrival
        if session_id is not None:
            self.sessions.start_turn(session_id, req)
            req.mem.session = self.mm.sessions[session_id]
        self.requests[rid] = req
        self.scheduler.add(req)
        return req

    def abort(self, rid: str, error: str = "aborted by the client",
              code: AbortCode = AbortCode.CLIENT) -> bool:
        """Stops a queued or running request and frees what it holds; False if unknown. Runs
        the idle check when the engine is idle."""
        if not self._abort(rid, error, code):
            return False
        self._check_at_rest(CheckTrigger.ABORT)
        return True

    def _abort(self, rid: str, error: str, code: AbortCode) -> bool:
        req = self.requests.get(rid)
        if req is None:
            return False
        if req in self.scheduler.running:
            self.mm.abort(req.mem)
        self.scheduler.remove(req)
        req.error, req.error_code = error, code
        self._end(req, FinishReason.ABORT, "")
        return True

    def abort_all(self, error: str, code: AbortCode) -> int:
        """Aborts every queued and running request with `error`; returns how many."""
        rids = list(self.requests)
        for rid in rids:
            self.abort(rid, error, code)
        return len(rids)

    def open_session(self) -> str:
        state = self.sessions.open(time.monotonic())
        self.mm.open_session(state.sid)
        self.reporter.session(SessionEvent.OPENED, state.sid)
        return state.sid

    def close_session(self, sid: str) -> None:
        """Aborts the session's turn in flight, if any, and frees all the session holds; runs
        the idle check when the engine is idle."""
        self._close_session(sid, CloseReason.CLIENT)
        self._check_at_rest(CheckTrigger.SESSION_CLOSE)

    def _close_session(self, sid: str, reason: CloseReason) -> None:
        state = self.sessions.get(sid)
        if state.active is not None:
            self._abort(state.active.rid, error=f"session {sid} was closed during this turn",
                        code=AbortCode.SESSION_CLOSED)
        self.mm.close_session(sid)
        self.sessions.remove(sid)
        self.reporter.session(SessionEvent.CLOSED, sid, reason=reason,
                           history_tokens=len(state.history))

    def expire_sessions(self) -> list[str]:
        """Closes the sessions idle past their timeout; runs the idle check if any closed."""
        expired = self.sessions.expired(time.monotonic())
        for sid in expired:
            self._close_session(sid, CloseReason.EXPIRED)
        if expired:
            self._check_at_rest(CheckTrigger.SESSION_EXPIRY)
        return expired

    def idle_tick(self) -> None:
        """What an idle loop does each time it wakes: expires sessions, and runs the periodic
        idle check once `idle_check_interval_s` passed since the last idle check (never
        when the interval is 0)."""
        self.expire_sessions()
        interval = self.config.idle_check_interval_s
        if interval > 0 and time.monotonic() - self._last_idle_check >= interval:
            self._check_at_rest(CheckTrigger.PERIODIC)

    def step(self) -> bool:
        """Runs one batch; returns False (after the idle check) when there was none."""
        start = time.perf_counter()
        num_expired = self._expire_queued(start)
        result = self.scheduler.schedule()
        self.scheduler.requeue(result.retracted, time.perf_counter())
        self.counters.retracted += len(result.retracted)
        self.counters.out_of_memory += len(result.out_of_memory)
        for req in result.out_of_memory:
            req.error, req.error_code = _out_of_memory(req, self.last_stats), AbortCode.OOM
            self._end(req, FinishReason.ABORT, "")
        for eviction in result.session_evictions:
            self.reporter.session(SessionEvent.EVICTED, eviction.sid,
                               evicted_tokens=eviction.num_tokens, idle_s=eviction.idle_s)
        if result.batch is None:
            if not self._is_idle:
                self._is_idle = True
                self._check_at_rest(CheckTrigger.IDLE)
            elif result.out_of_memory or num_expired:  # dropped while idle: a revert may have
                # freed slots on an admission attempt
                self._check_at_rest(CheckTrigger.ABORT)
            return False
        self._is_idle = False
        timings = self._run(result.batch)
        self.reporter.check(idle=False)
        self.last_stats = self.mm.stats()
        self.reporter.step(result, time.perf_counter() - start, self.last_stats, timings)
        return True

    def _expire_queued(self, now: float) -> int:
        """Ends requests that waited longer than the queue timeout for memory (or a free
        running slot) with a pools-busy error; returns how many."""
        limit = self.config.queue_timeout_s
        expired = [r for r in self.scheduler.waiting if now - r.queued_at > limit]
        for req in expired:
            self.scheduler.remove(req)
            self.counters.queue_timeouts += 1
            req.error, req.error_code = _pools_busy(req, limit), AbortCode.POOLS_BUSY
            self._end(req, FinishReason.ABORT, "")
        return len(expired)

    def _run(self, batch: ScheduledBatch) -> tuple[list[float], list[float]]:
        """Runs the batch, samples, and hands out the tokens; returns the step's time to
        first token and inter-token latency samples (seconds)."""
        logits = self.runner.forward(batch)  # [B, V]
        reqs = batch.reqs
        self.mm.after_forward_batch([req.mem for req in reqs])
        ready = [req.tokens_to_run == 0 for req in reqs]
        if all(ready):  # every decode step: no gather, no index tensor
            sampled_reqs = reqs
        else:
            for req, is_ready in zip(reqs, ready, strict=True):
                if not is_ready:
                    self.mm.cache_unfinished(req.mem)  # mid-prefill: share the chunk done so far
            index = [i for i, is_ready in enumerate(ready) if is_ready]
            sampled_reqs = [reqs[i] for i in index]
            logits = logits[torch.tensor(index, dtype=torch.long, device=logits.device)]
        if not sampled_reqs:
            return [], []
        sampled = self.sampler.sample(logits, [_sample_row(req) for req in sampled_reqs])
        return self._hand_out(sampled_reqs, sampled)

    def _hand_out(
        self, reqs: list[Request], sampled: list[SampledToken]
    ) -> tuple[list[float], list[float]]:
        """Appends each request's token, finishes the ones that stopped, and tells the sinks."""
        eos = self.lm.tokenizer.eos_token_ids
        now, ttfts, itls = time.perf_counter(), [], []
        for req, token in zip(reqs, sampled, strict=True):
            req.is_prefilling = False
            if req.first_token_at is None:
                req.first_token_at = now
                ttfts.append(now - req.arrival)
            else:
                itls.append(now - req.last_token_at)
            req.last_token_at = now
            text = append_token(req, token, eos)
            out = token_output(req, token, text) if req.sink is not None else None
            if req.finish_reason is not None:
                self._retire(req)
            if out is not None:
                req.sink(out)
        return ttfts, itls

    def _retire(self, req: Request) -> None:
        """Frees a request that finished this step and drops it from the running set."""
        self.counters.finished += 1
        self.counters.cached_tokens += req.cached_tokens
        self.mm.finish(req.mem)
        self.scheduler.remove(req)
        self._forget(req)

    def _end(self, req: Request, reason: FinishReason, text: str) -> None:
        """Finishes a request the scheduler no longer holds, and tells its sink."""
        req.finish_reason = reason
        self._forget(req)
        if req.sink is not None:
            req.sink(output_of(req, text))

    def _forget(self, req: Request) -> None:
        self.requests.pop(req.rid, None)
        if req.session_id is not None:
            self.sessions.end_turn(req.session_id, req.tokens, time.monotonic())
        self.reporter.finished(req)

    def _check_at_rest(self, trigger: CheckTrigger) -> None:
        """The idle check, if the engine is idle (a busy engine checks after its steps and
        when it goes idle); observers get the outcome, counted by the no-duplicate rule."""
        if not self._is_idle:
            return
        before = dict(self.mm.leaked_slots)
        reports = self.reporter.check(idle=True)
        self._last_idle_check = time.monotonic()
        self.last_stats = self.mm.stats()
        checked = self.memory_config.check_mode is not CheckMode.OFF
        self.reporter.idle(self.last_stats, checked, reports, trigger,
                           is_changed=self.mm.leaked_slots != before)

    def snapshot(self) -> EngineSnapshot:
        """What the gauges show now (the pools as of the last step or check)."""
        return self.reporter.snapshot(self.last_stats)

    def generate(
        self, prompts: Sequence[str | Sequence[int]], params: SamplingParams
    ) -> list[Completion]:
        """Runs prompts to completion (the offline API); outputs in prompt order."""
        reqs = [self.add_request(p, params) for p in prompts]
        while any(not r.is_finished for r in reqs):
            if not self.step() and any(not r.is_finished for r in reqs):
                raise RuntimeError("the scheduler stopped with requests unfinished")
        self.step()  # reaches idle: runs the idle check
        return [_completion(r) for r in reqs]


def _sample_row(req: Request) -> SampleRow:
    # The prompt is only read for the repetition penalty: no copy on the decode path otherwise.
    prompt = req.prompt_ids if req.params.needs_penalties else ()
    return SampleRow(req.params, prompt, req.output_ids, req.generator)


def _text_stream(tokenizer: Tokenizer, params: SamplingParams, text: bool) -> TextStream | None:
    """The request's detokenizer: always with text on; with it off only to watch for stop
    strings (the same incremental stream, so the finish decision is the same)."""
    return TextStream(tokenizer, params.stop) if text or params.stop else None


def _completion(req: Request) -> Completion:
    assert req.finish_reason is not None
    text = req.text.text if req.emits_text and req.text is not None else ""
    return Completion(
        rid=req.rid, text=text, token_ids=list(req.output_ids),
        finish_reason=req.finish_reason, error=req.error, prompt_tokens=req.prompt_len,
        cached_tokens=req.cached_tokens,
    )


def _out_of_memory(req: Request, stats: PoolStats) -> str:
    sizes = ", ".join(f"{name} {part.capacity}" for name, part in stats.pools.items())
    return (f"out of memory: request {req.rid} ({len(req.tokens)} tokens) cannot fit the pools "
            f"even alone ({sizes} slots); raise the pool sizes or shorten the request")


def _pools_busy(req: Request, limit: float) -> str:
    return (f"the pools were busy: request {req.rid} waited over {limit:g} s in the queue "
            "without the memory or running slot to start; retry later")


def _allocate(
    lm: LoadedModel, config: MemoryConfig, dtype: torch.dtype, device: torch.device
) -> PoolTensors:
    page = config.page_size
    return PoolTensors.allocate(
        lm.config, kv_slots={"full": config.full_slots + page, "swa": config.swa_slots + page},
        mamba_slots=config.mamba_slots + 1, num_rows=config.req_rows + 1,
        max_context=config.max_context, dtype=dtype, device=device,
        host_slots=config.host_slots + page if config.host_slots else 0,
    )
