"""Routes the engine's output deltas to the coroutines that wait for them.

Runs on the client's receiver thread: it turns each `Output` into a `RequestOutput` (its text
from the request's `Detokenizer`), then wakes each event loop once per message, however many of
its requests the step advanced.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from runtime.engine.process.detokenizer import Detokenizer
from runtime.engine.process.messages import Output
from runtime.scheduler.request import AbortCode, FinishReason, RequestOutput


@dataclass
class Stream:
    """One request's consumer: its event loop, its queue, its text."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[RequestOutput]
    detokenizer: Detokenizer


class OutputRouter:
    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}

    def route(self, outputs: list[Output]) -> None:
        batches: dict[asyncio.AbstractEventLoop, list[tuple[Stream, RequestOutput]]] = (
            defaultdict(list))
        for out in outputs:
            stream = self.streams.get(out.rid)
            if stream is None:  # its consumer left and aborted it
                continue
            if out.finish_reason is not None:
                del self.streams[out.rid]
            text = stream.detokenizer.delta(out.token_ids, out.finish_reason)
            batches[stream.loop].append((stream, _request_output(out, text)))
        for loop, items in batches.items():
            _deliver(loop, items)

    def fail_all(self, error: str) -> None:
        """Ends every stream with an abort naming `error` (the engine is gone)."""
        outputs = [Output(rid, (), (), FinishReason.ABORT, error, AbortCode.ENGINE_STOPPED)
                   for rid in list(self.streams)]
        self.route(outputs)


def _request_output(out: Output, text: str) -> RequestOutput:
    return RequestOutput(
        rid=out.rid, text=text, token_ids=out.token_ids, logprobs=out.logprobs,
        finish_reason=out.finish_reason, error=out.error, error_code=out.error_code,
        prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens,
        cached_tokens=out.cached_tokens,
    )


def _deliver(loop: asyncio.AbstractEventLoop, items: list[tuple[Stream, RequestOutput]]) -> None:
    def put_all() -> None:
        for stream, out in items:
            stream.queue.put_nowait(out)

    if not loop.is_closed():
        loop.call_soon_threadsafe(put_all)
