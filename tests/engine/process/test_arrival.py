"""A request's TTFT and e2e latency start when the frontend got it (its arrival stamp rides in
`AddRequest`), not when the engine process did; the offline Engine starts them at add_request;
and the frontend hands tokens to their streams before it records telemetry."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.process import messages as m
from runtime.engine.process.client import EngineClient
from runtime.engine.records import FinishedRecord
from runtime.scheduler.sampling_params import SamplingParams
from tests.support import wait_until
from tests.support.core_loop import InProcessCore

GREEDY = SamplingParams(max_tokens=3, temperature=0, ignore_eos=True)
AGE_S = 5.0  # how long before the engine saw it the request "arrived"


def _finished(records: list[m.RecordMsg], rid: str) -> FinishedRecord | None:
    done = [r.record for r in records if isinstance(r, m.FinishedRecordMsg)]
    return next((r for r in done if r.rid == rid), None)


def _collect(core: InProcessCore, rid: str) -> tuple[FinishedRecord, list[float]]:
    records: list[m.RecordMsg] = []
    while (finished := _finished(records, rid)) is None:
        assert core.parent.poll(30_000), "no record of the request's end"
        event = core.parent.recv()
        if isinstance(event, m.StepOutputs):
            records += event.records
    ttfts = [t for r in records if isinstance(r, m.StepRecordMsg) for t in r.record.ttfts]
    return finished, ttfts


def test_ttft_starts_at_the_frontends_arrival_stamp(nemotron_h_dir: Path) -> None:
    """An AddRequest stamped AGE_S ago reports a TTFT, a step TTFT sample and an e2e latency of
    at least AGE_S: the time before the engine got it counts."""
    engine = Engine.from_config(EngineConfig(model=str(nemotron_h_dir)))
    with InProcessCore(engine) as core:
        stamp = time.monotonic() - AGE_S
        reply = core.call(m.AddRequest(1, "r1", list(range(10, 30)), GREEDY, arrival=stamp))
        assert reply.error is None
        finished, ttfts = _collect(core, "r1")
    assert finished.ttft_s is not None and finished.ttft_s >= AGE_S
    assert finished.e2e_s >= AGE_S and ttfts and min(ttfts) >= AGE_S


def test_without_a_stamp_the_engines_receipt_is_the_arrival(nemotron_h_dir: Path) -> None:
    """An AddRequest with no arrival, like the offline Engine's add_request, starts the clock
    when the engine takes the request."""
    engine = Engine.from_config(EngineConfig(model=str(nemotron_h_dir)))
    before = time.perf_counter()
    offline = engine.add_request(list(range(10, 30)), GREEDY)
    assert before <= offline.arrival <= time.perf_counter()
    engine.generate([list(range(40, 60))], GREEDY)  # the offline path still runs to the end
    with InProcessCore(engine) as core:
        before = time.perf_counter()
        assert core.call(m.AddRequest(1, "r2", list(range(10, 30)), GREEDY)).error is None
        finished, _ = _collect(core, "r2")
    assert finished.ttft_s is not None and finished.ttft_s < time.perf_counter() - before


def test_the_client_sends_the_arrival_it_is_given(nemotron_h_dir: Path) -> None:
    """EngineClient.generate carries its `arrival` stamp to the engine process, whose record
    of the request's end reports a TTFT that includes the time before the hop."""
    records: list[m.RecordMsg] = []
    client = EngineClient(EngineConfig(model=str(nemotron_h_dir)), on_records=records.extend)
    client.start()

    async def run() -> None:
        stream = await client.generate(list(range(10, 30)), GREEDY, rid="c1",
                                       arrival=time.monotonic() - AGE_S)
        async for _ in stream:
            pass

    try:
        asyncio.run(run())
        wait_until(lambda: _finished(list(records), "c1") is not None)
    finally:
        client.stop()
    finished = _finished(records, "c1")
    assert finished is not None and finished.ttft_s is not None and finished.ttft_s >= AGE_S


def test_tokens_reach_the_stream_before_the_steps_telemetry(nemotron_h_dir: Path) -> None:
    """The frontend hands a step's new tokens to their streams before it records the step's
    records, so telemetry work never delays a token: the first token reaches its consumer
    while the records of the step that sampled it are still being recorded."""
    got_token, seen_in_time = threading.Event(), []

    def on_records(records: list[m.RecordMsg]) -> None:
        steps = [r.record for r in records if isinstance(r, m.StepRecordMsg)]
        if not seen_in_time and any(s.ttfts for s in steps):  # the step of the first token
            seen_in_time.append(got_token.wait(timeout=10))

    client = EngineClient(EngineConfig(model=str(nemotron_h_dir)), on_records=on_records)
    client.start()

    async def run() -> None:
        async for out in await client.generate(list(range(10, 30)), GREEDY):
            if out.token_ids:
                got_token.set()

    try:
        asyncio.run(run())
    finally:
        client.stop()
    assert seen_in_time == [True]
