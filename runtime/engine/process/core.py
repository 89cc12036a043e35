"""The engine process's loop: commands between steps, one `StepOutputs` message per step.

Like vLLM's EngineCore busy loop: take every waiting command (block up to `IDLE_WAIT_S` when
there is no work, so an idle engine still expires sessions and runs its periodic check), run
one step, send what it produced. Output deltas carry token ids only; the frontend turns them
into text. An exception that stops the engine (a leak under `--on-leak raise`, a bug) leaves
`run`; the caller reports it in the last message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from runtime.engine.engine import Engine
from runtime.engine.process import messages as m
from runtime.engine.process.channel import ChildChannel
from runtime.engine.process.forwarder import RecordForwarder
from runtime.engine.process.summary import summarize
from runtime.errors import EngineStopped
from runtime.memory.checker import LeakDetected
from runtime.scheduler.request import RequestOutput

log = logging.getLogger(__name__)
IDLE_WAIT_S = 0.5  # how often an idle loop wakes to expire sessions and run due idle checks


class EngineCore:
    """Drives `engine` from the commands on `channel` until `Shutdown` or an error."""

    def __init__(self, engine: Engine, channel: ChildChannel) -> None:
        self.engine, self.channel = engine, channel
        self.outputs: list[m.Output] = []
        self.records: list[m.RecordMsg] = []  # observer records, sent beside the outputs
        engine.observers.append(RecordForwarder(self._keep_record))
        self.is_stopping = False
        self._handlers: dict[type, Callable[[Any], object]] = {
            m.AddRequest: self._add, m.Abort: lambda c: engine.abort(c.rid),
            m.AbortAll: lambda c: engine.abort_all(c.error, c.code),
            m.OpenSession: lambda c: engine.open_session(),
            m.CloseSession: lambda c: engine.close_session(c.sid),
            m.RoomLeft: lambda c: engine.room_left(c.num_prompt, c.session_id),
            m.Inspect: self._inspect, m.Shutdown: self._shutdown,
        }

    def run(self) -> None:
        is_busy = False
        while not self.is_stopping:  # the parent's death ends the process (lifeline.py)
            self._take_commands(0 if is_busy else int(IDLE_WAIT_S * 1000))
            if self.is_stopping:
                break
            is_busy = self.engine.step()
            if not is_busy:
                self.engine.idle_tick()
            self.flush()

    def flush(self) -> None:
        """Sends what the commands and the step produced, as one message."""
        if self.outputs or self.records:
            self.channel.send(m.StepOutputs(self.outputs, self.records))
            self.outputs, self.records = [], []

    def sink(self, out: RequestOutput) -> None:
        self.outputs.append(m.Output(
            out.rid, out.token_ids, out.logprobs, out.finish_reason, out.error, out.error_code,
            out.prompt_tokens, out.completion_tokens, out.cached_tokens,
        ))

    def _keep_record(self, record: m.RecordMsg) -> None:
        self.records.append(record)

    def _take_commands(self, timeout_ms: int) -> None:
        if not self.channel.poll(timeout_ms):
            return
        while self.channel.poll(0):
            self._handle(self.channel.recv())
        self.flush()

    def _handle(self, command: Any) -> None:
        call_id = getattr(command, "call_id", 0)
        try:
            value = self._handlers[type(command)](command)
        except LeakDetected as exc:  # `--on-leak raise` on an idle-time check: the engine stops
            self._reply(call_id, error=EngineStopped(f"the engine stopped after an error: {exc}"))
            raise
        except Exception as exc:  # noqa: BLE001 - the caller gets it, as its own type
            self._reply(call_id, error=exc)
            return
        self._reply(call_id, value)

    def _reply(self, call_id: int, value: object = None, error: Exception | None = None) -> None:
        if call_id == 0:
            return
        remote = None if error is None else m.RemoteError(
            type(error).__name__, str(error), getattr(error, "param", None))
        self.channel.send(m.Reply(call_id, None if error else value, remote))

    def _add(self, c: m.AddRequest) -> None:
        self.engine.add_request(c.prompt_ids, c.params, rid=c.rid, session_id=c.session_id,
                                sink=self.sink, arrival=_arrival(c.arrival))

    def _inspect(self, c: m.Inspect) -> m.EngineSummary:
        failures = len(self.engine.mm.check(idle=True)) if c.run_check else 0
        return summarize(self.engine, failures)

    def _shutdown(self, _: m.Shutdown) -> None:
        self.is_stopping = True


def _arrival(monotonic_stamp: float | None) -> float | None:
    """The frontend's arrival stamp (time.monotonic(), one clock machine-wide on Linux) on the
    engine's timeline (time.perf_counter()), by the age it has now."""
    if monotonic_stamp is None:
        return None
    return time.perf_counter() - max(0.0, time.monotonic() - monotonic_stamp)
