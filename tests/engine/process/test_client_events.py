"""The frontend's receiver handles what the engine sent in order; a run of step messages that
queued up while it was busy is handled at once, losing nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime.engine.config import EngineConfig
from runtime.engine.process import messages as m
from runtime.engine.process.client import EngineClient
from runtime.engine.process.detokenizer import Detokenizer
from runtime.engine.process.router import Stream
from runtime.model.tokenizer import ByteTokenizer
from runtime.scheduler.request import FinishReason, RequestOutput
from runtime.scheduler.sampling_params import SamplingParams
from tests.engine.record_samples import ONE_OF_EACH


def test_queued_step_messages_are_handled_as_one_in_the_engines_order() -> None:
    """Two queued StepOutputs give one `on_records` call with both steps' records and one
    wake-up of the request's loop with both outputs; a Reply between step messages is
    resolved after the records before it and before those after it; every output arrives."""
    handled: list[tuple[list[Any], bool]] = []
    client = EngineClient(EngineConfig(model="default"),
                          on_records=lambda records: handled.append((records, future.done())))
    loop = asyncio.new_event_loop()
    wakes: list[object] = []
    real_call = loop.call_soon_threadsafe

    def counting_call(callback: Any, *args: Any) -> Any:
        wakes.append(callback)
        return real_call(callback, *args)

    loop.call_soon_threadsafe = counting_call  # type: ignore[method-assign]
    try:
        params = SamplingParams(max_tokens=3, ignore_eos=True)
        queue: asyncio.Queue[RequestOutput] = asyncio.Queue()
        client._router.streams["a"] = Stream(loop, queue, Detokenizer(ByteTokenizer(), params))
        opened = client._calls.open()
        assert opened is not None
        call_id, future = opened
        records = [m.StepRecordMsg(ONE_OF_EACH[0]), m.IdleRecordMsg(ONE_OF_EACH[1]),
                   m.FinishedRecordMsg(ONE_OF_EACH[2])]
        client.on_events([
            m.StepOutputs([m.Output("a", (72,))], [records[0]]),
            m.StepOutputs([m.Output("a", (105,))], [records[1]]),
            m.Reply(call_id, 5),
            m.StepOutputs([m.Output("a", (33,), finish_reason=FinishReason.LENGTH)],
                          [records[2]]),
        ])
        loop.run_until_complete(asyncio.sleep(0))
        assert handled == [(records[:2], False), (records[2:], True)]
        assert future.result() == 5
        assert len(wakes) == 2
        texts = [queue.get_nowait().text for _ in range(queue.qsize())]
        assert texts == ["H", "i", "!"]
    finally:
        loop.close()
        client.stop()
