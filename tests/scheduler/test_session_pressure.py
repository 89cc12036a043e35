"""Memory held by idle sessions under pressure: a request that fits the empty pools waits and
runs (never "cannot fit even alone"), idle sessions give their memory to the prefix cache
least recently used first, a bounded wait ends as pools-busy, and too-large requests are 400s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.engine.engine import Engine
from runtime.engine.observer import EngineObserver
from runtime.engine.records import SessionEvent, SessionRecord
from runtime.errors import InvalidRequest
from runtime.scheduler.request import AbortCode, FinishReason, Request
from runtime.scheduler.sampling_params import SamplingParams
from tests.server.harness import assert_memory_clean
from tests.support.engines import strict_engine

TURN = SamplingParams(max_tokens=4, temperature=0, ignore_eos=True)
FULL_TOKENS = 256


class _Evictions(EngineObserver):
    def __init__(self) -> None:
        self.seen: list[SessionRecord] = []

    def on_session(self, record: SessionRecord) -> None:
        if record.event is SessionEvent.EVICTED:
            self.seen.append(record)


def _engine(model: Path, **overrides: object) -> Engine:
    settings = {"full_tokens": FULL_TOKENS, "mamba_slots": 24, "session_min_idle_s": 0.0,
                **overrides}
    return strict_engine(model, **settings)


def _run(engine: Engine, reqs: list[Request], limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while any(not r.is_finished for r in reqs):
        assert time.monotonic() < deadline, "requests did not finish"
        if not engine.step():
            time.sleep(0.01)


def _fill_with_sessions(engine: Engine, num: int, prompt_len: int) -> list[str]:
    """Opens `num` sessions and runs one turn in each, so their slots hold memory."""
    sids = [engine.open_session() for _ in range(num)]
    turns = [engine.add_request([5 + i] * prompt_len, TURN, session_id=sid)
             for i, sid in enumerate(sids)]
    _run(engine, turns)
    return sids


def test_a_request_that_fits_the_empty_pools_runs_when_sessions_hold_the_memory(
    nemotron_h_dir: Path,
) -> None:
    """With idle sessions holding most of the full pool, a 100-token request is not aborted
    for memory: the least recently used sessions hand their memory to the prefix cache, each
    is counted and reported, and the sessions' next turns still give the same tokens."""
    engine = _engine(nemotron_h_dir)
    evictions = _Evictions()
    engine.observers.append(evictions)
    sids = _fill_with_sessions(engine, 4, 55)
    assert engine.last_stats.pools["full"].session_held >= 4 * 55
    req = engine.add_request(list(range(3, 103)), TURN)
    _run(engine, [req])
    assert req.finish_reason is FinishReason.LENGTH and req.error is None
    assert engine.counters.out_of_memory == 0
    assert [e.sid for e in evictions.seen] == sids[: len(evictions.seen)]  # oldest first
    assert engine.mm.counters.session_evictions == len(evictions.seen) >= 1
    history = engine.sessions.get(sids[0]).history
    again = engine.add_request([77, 78], TURN, session_id=sids[0])
    _run(engine, [again])
    alone = _engine(nemotron_h_dir).generate([history + [77, 78]], TURN)[0]
    assert again.output_ids == alone.token_ids
    for sid in sids:
        engine.close_session(sid)
    engine.step()
    assert_memory_clean(engine)


def test_a_request_waits_for_young_sessions_then_ends_as_pools_busy(
    nemotron_h_dir: Path,
) -> None:
    """Sessions idle for less than the minimum are kept: the request waits in the queue, and
    after the queue timeout it ends with a pools-busy error, never an out-of-memory one."""
    engine = _engine(nemotron_h_dir, session_min_idle_s=3600.0, queue_timeout_s=0.3)
    sids = _fill_with_sessions(engine, 4, 55)
    req = engine.add_request(list(range(3, 103)), TURN)
    _run(engine, [req])
    assert req.error_code is AbortCode.POOLS_BUSY
    assert "pools were busy" in (req.error or "") and "cannot fit" not in (req.error or "")
    assert engine.counters.out_of_memory == 0 and engine.counters.queue_timeouts == 1
    for sid in sids:
        engine.close_session(sid)
    engine.step()
    assert_memory_clean(engine)


@pytest.mark.parametrize(("prompt_len", "max_tokens", "param"),
                         [(FULL_TOKENS, 1, "prompt"), (200, 58, "max_tokens")])
def test_a_request_larger_than_the_empty_pools_is_refused_up_front(
    nemotron_h_dir: Path, prompt_len: int, max_tokens: int, param: str
) -> None:
    """A prompt plus max_tokens that the full pool could never hold is an InvalidRequest (400)
    naming the field, before it is queued; one token less is accepted (the last sampled token
    takes no slot)."""
    engine = _engine(nemotron_h_dir)
    params = SamplingParams(max_tokens=max_tokens, temperature=0, ignore_eos=True)
    with pytest.raises(InvalidRequest) as raised:
        engine.add_request([7] * prompt_len, params)
    assert raised.value.param == param
    assert not engine.scheduler.waiting
    fits = SamplingParams(max_tokens=FULL_TOKENS - 200 + 1, temperature=0, ignore_eos=True)
    req = engine.add_request([7] * 200, fits)
    _run(engine, [req])
    assert req.finish_reason is FinishReason.LENGTH
    assert engine.room_left(200) == FULL_TOKENS - 200 + 1  # a chat without max_tokens fits
