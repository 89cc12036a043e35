"""The scheduling policy: chunk cuts, the running cap, retraction order, out-of-memory aborts,
and aborts, on a real tiny model with the busy checker raising."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.engine.engine import Engine
from runtime.engine.observer import EngineObserver
from runtime.engine.records import StepRecord
from runtime.errors import InvalidRequest
from runtime.memory.holdings import ReqMemory
from runtime.memory.memory_config import MambaStrategy
from runtime.scheduler.batch import Phase
from runtime.scheduler.request import FinishReason, Request
from runtime.scheduler.retraction import keep_order, pick_victim
from runtime.scheduler.sampling_params import SamplingParams
from tests.server.harness import assert_memory_clean
from tests.support.engines import strict_engine

GREEDY = SamplingParams(max_tokens=6, temperature=0, ignore_eos=True)


def _engine(model: Path, **overrides: object) -> Engine:
    return strict_engine(model, **overrides)


def _req(rid: str, prompt_len: int, outputs: int) -> Request:
    req = Request(rid=rid, mem=ReqMemory(rid, [1] * prompt_len), prompt_len=prompt_len,
                  params=GREEDY, text=None, generator=None)  # type: ignore[arg-type]
    req.output_ids = [2] * outputs
    return req


def test_the_victim_has_least_output_then_the_longest_prompt() -> None:
    """Retraction takes the request with the fewest outputs; ties go to the longest prompt."""
    a, b, c, d = _req("a", 10, 3), _req("b", 5, 1), _req("c", 30, 1), _req("d", 50, 7)
    assert pick_victim([a, b, c, d]) is c
    assert keep_order([a, b, c, d]) == [d, a, b, c]
    assert pick_victim([]) is None


def test_prefill_chunks_end_on_track_boundaries(nemotron_h_dir: Path) -> None:
    """With snapshots every 8 tokens, a 30-token prompt runs as chunks of 8, 8, 8 and 6 even
    though the budget allows 32 (a snapshot is only taken when a step ends on a boundary)."""
    engine = _engine(nemotron_h_dir, mamba_strategy=MambaStrategy.EXTRA_BUFFER, page_size=4,
                     track_interval=8, chunked_prefill_size=32)
    records = _record_steps(engine)
    engine.generate([list(range(3, 33))], GREEDY)
    prefill = [r.num_tokens for r in records if r.phase is Phase.PREFILL]
    assert prefill == [8, 8, 8, 6]
    assert_memory_clean(engine)


def test_the_running_cap_and_the_prefill_budget_hold(nemotron_h_dir: Path) -> None:
    """Never more than max_running_requests run, and no prefill step exceeds its budget."""
    engine = _engine(nemotron_h_dir, max_running_requests=2, chunked_prefill_size=10)
    records = _record_steps(engine)
    results = engine.generate([list(range(5, 5 + n)) for n in (4, 12, 7, 20)], GREEDY)
    assert all(len(r.token_ids) == 6 for r in results)
    assert max(r.snapshot.num_running for r in records) == 2
    assert max(r.num_tokens for r in records if r.phase is Phase.PREFILL) <= 10
    assert_memory_clean(engine)


def test_decode_out_of_memory_retracts_and_recomputes(nemotron_h_dir: Path) -> None:
    """A pool too small for all requests retracts some; they recompute and give the same
    tokens as a roomy run."""
    prompts = [list(range(10, 10 + n)) for n in (20, 25, 30)]
    params = SamplingParams(max_tokens=12, temperature=0, ignore_eos=True)
    roomy = [r.token_ids for r in _engine(nemotron_h_dir).generate(prompts, params)]
    tight = _engine(nemotron_h_dir, full_tokens=90)  # all prompts fit, not all outputs
    assert [r.token_ids for r in tight.generate(prompts, params)] == roomy
    assert tight.counters.retracted > 0
    assert_memory_clean(tight)


def test_a_request_that_can_never_fit_is_refused_with_a_clear_error(nemotron_h_dir: Path) -> None:
    """A request whose decode would outgrow the whole pool is refused before it is queued
    (naming max_tokens); the largest that fits runs to its length, and memory stays clean."""
    engine = _engine(nemotron_h_dir, full_tokens=16)
    too_long = SamplingParams(max_tokens=8, temperature=0, ignore_eos=True)
    with pytest.raises(InvalidRequest, match="at most 7") as raised:
        engine.generate([list(range(3, 13))], too_long)
    assert raised.value.param == "max_tokens" and not engine.requests
    fits = SamplingParams(max_tokens=7, temperature=0, ignore_eos=True)
    result = engine.generate([list(range(3, 13))], fits)[0]  # 10 + 6 fed fill 16 slots
    assert result.finish_reason is FinishReason.LENGTH and len(result.token_ids) == 7
    assert engine.counters.out_of_memory == 0
    assert_memory_clean(engine)


@pytest.mark.parametrize("when", ["queued", "prefilling", "decoding"])
def test_abort_frees_memory_at_any_stage(nemotron_h_dir: Path, when: str) -> None:
    """Aborting a request queued, mid-prefill or mid-decode ends it with abort and frees all."""
    engine = _engine(nemotron_h_dir, chunked_prefill_size=8)
    outputs = []
    req = engine.add_request(list(range(3, 40)), SamplingParams(max_tokens=50, ignore_eos=True),
                             sink=outputs.append)
    steps = {"queued": 0, "prefilling": 2, "decoding": 7}[when]
    for _ in range(steps):
        engine.step()
    assert req.is_prefilling == (when == "prefilling")
    assert engine.abort(req.rid)
    assert outputs[-1].finish_reason is FinishReason.ABORT
    assert not engine.abort(req.rid)  # unknown now
    engine.step()
    assert_memory_clean(engine)


def _run_turns(engine: Engine, turns: list[list[int]], params: SamplingParams) -> list[list[int]]:
    """Two rounds: one turn per session plus one plain request per session, all concurrent."""
    sids = [engine.open_session() for _ in turns]
    outputs: list[list[int]] = []
    for round_ in range(2):
        chunk = [prompt[round_ * 4 : round_ * 4 + 4] for prompt in turns]
        pairs = zip(chunk, sids, strict=True)
        reqs = [engine.add_request(c, params, session_id=sid) for c, sid in pairs]
        reqs += [engine.add_request(p, params) for p in turns]
        while any(not r.is_finished for r in reqs):
            engine.step()
        outputs += [r.output_ids for r in reqs]
    for sid in sids:
        engine.close_session(sid)
    engine.step()
    return outputs


def test_retraction_spares_session_turns_and_every_request_completes(
    nemotron_h_dir: Path,
) -> None:
    """Under decode memory pressure plain requests are retracted before session turns (whose
    retraction would free nothing); all requests give the tokens of a roomy run, and closing
    the sessions leaves the memory clean."""
    turns = [list(range(10, 22)), list(range(30, 42))]
    params = SamplingParams(max_tokens=10, temperature=0, ignore_eos=True)
    roomy = _run_turns(_engine(nemotron_h_dir), turns, params)
    tight = _engine(nemotron_h_dir, full_tokens=80)
    assert _run_turns(tight, turns, params) == roomy
    assert tight.counters.retracted > 0
    assert tight.counters.out_of_memory == 0
    assert_memory_clean(tight)


def test_a_session_turn_is_the_last_victim() -> None:
    """Even with the least output, a session turn is retracted only after plain requests."""
    turn, plain = _req("t", 5, 0), _req("p", 5, 9)
    turn.session_id = "sess-1"
    assert pick_victim([turn, plain]) is plain
    assert pick_victim([turn]) is turn


class _StepRecorder(EngineObserver):
    def __init__(self) -> None:
        self.records: list[StepRecord] = []

    def on_step(self, record: StepRecord) -> None:
        self.records.append(record)


def _record_steps(engine: Engine) -> list[StepRecord]:
    recorder = _StepRecorder()
    engine.observers.append(recorder)
    return recorder.records
