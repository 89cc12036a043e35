"""EngineClient: the frontend's handle on the engine process (the server's engine).

    client = EngineClient(EngineConfig(model="default"))
    ready = client.start()          # spawns the process; returns its handshake
    outputs = await client.generate("Hello", SamplingParams(max_tokens=8))
    client.stop()                   # Shutdown, then reap

A receiver thread reads the engine's events: replies resolve calls, output deltas go to their
streams (text made here), records go to `on_records` (telemetry), and the process's end, seen
through its sentinel, ends every stream and call with an error naming the cause.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import msgspec
import zmq

from runtime.engine.config import EngineConfig
from runtime.engine.process import messages as m
from runtime.engine.process.calls import PendingCalls
from runtime.engine.process.channel import ParentChannel
from runtime.engine.process.child import ChildSpec
from runtime.engine.process.detokenizer import Detokenizer
from runtime.engine.process.launcher import EngineProcess, describe_exit
from runtime.engine.process.router import OutputRouter, Stream
from runtime.errors import EngineStopped, InvalidRequest, ShuttingDown
from runtime.model.tokenizer import Tokenizer, load_tokenizer
from runtime.scheduler.request import AbortCode, RequestOutput
from runtime.scheduler.request_checks import check_ids, check_text
from runtime.scheduler.sampling_params import SamplingParams
from telemetry import catalog
from telemetry.logs.logging import LogSettings, get_logger

START_TIMEOUT_S = 300.0  # loading (or first building) the model
STOP_TIMEOUT_S = 10.0
LAST_WORDS_MS = 100
MAX_DRAIN = 64  # events handled per wake-up of the receiver when the engine is ahead


class EngineStartError(RuntimeError):
    """The engine process ended before its handshake; the message says why."""


class EngineClient:
    """Starts, drives and stops one engine process. Async methods run on the server's loop."""

    def __init__(self, config: EngineConfig, log_settings: LogSettings | None = None,
                 on_records: Callable[[list[m.RecordMsg]], None] | None = None) -> None:
        self.config, self.on_records = config, on_records
        self._channel = ParentChannel()
        self._process = EngineProcess(
            ChildSpec(config, self._channel.addresses, os.getpid(), log_settings))
        self._send_lock = threading.Lock()
        self._calls = PendingCalls()
        self._has_exited = False
        self._router = OutputRouter()
        self._receiver = threading.Thread(target=self._receive, name="poolscope-engine-events",
                                          daemon=True)
        self._accepting = True
        self._is_stopping = False
        self.ready: m.Ready | None = None
        self.summary: m.EngineSummary | None = None  # the engine's latest report
        self.error: str | None = None  # why the engine stopped, when it failed
        self.tokenizer: Tokenizer | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def is_running(self) -> bool:
        return self.ready is not None and self.error is None and not self._has_exited

    def stopped_reason(self) -> str:
        if self.error is not None:
            return f"the engine stopped after an error: {self.error}"
        return "the engine is not running"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT_S) -> m.Ready:
        """Spawns the engine process and waits for its handshake; raises EngineStartError
        (with the child's error, e.g. a bad model directory) if it ends first."""
        self._process.start()
        ready = self._handshake(timeout)
        self.tokenizer = load_tokenizer(
            Path(ready.model_dir), bos_token_id=ready.bos_token_id,
            eos_token_ids=ready.eos_token_ids, vocab_size=ready.vocab_size)
        self.ready, self.summary = ready, ready.summary
        self._receiver.start()
        return ready

    def _handshake(self, timeout: float) -> m.Ready:
        poller = zmq.Poller()
        poller.register(self._channel.recv_socket, zmq.POLLIN)
        poller.register(self._process.sentinel, zmq.POLLIN)
        if not poller.poll(timeout * 1000):
            self._abandon()
            raise EngineStartError(f"the engine process did not start within {timeout:g} s")
        if not self._channel.poll(LAST_WORDS_MS):
            self._abandon()
            raise EngineStartError("the engine process ended before it was ready ("
                                   f"{describe_exit(self._process.exitcode)})")
        event = self._channel.recv()
        if isinstance(event, m.Ready):
            return event
        self._abandon()
        raise EngineStartError(getattr(event, "error", None) or f"unexpected {event!r}")

    def _abandon(self) -> None:
        self._process.reap(STOP_TIMEOUT_S)
        self._channel.close()

    def stop_accepting(self) -> None:
        """From now on new requests and sessions are refused with ShuttingDown (the drain)."""
        self._accepting = False

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Asks the engine to stop and waits for the receiver to reap it; SIGKILL after
        `timeout`. Safe to call more than once."""
        self._is_stopping = True
        if self.ready is None:  # never started (a failed start has reaped and closed already)
            self._channel.close()
            return
        if self._channel.is_closed:
            return
        if not self._has_exited and self.error is None:
            self._send(m.Shutdown())
        self._receiver.join(timeout)
        if self._receiver.is_alive():
            self._process.kill()
            self._receiver.join(timeout)
        self._channel.close()

    # -- calls ------------------------------------------------------------------------------

    async def generate(
        self, prompt: str | Sequence[int], params: SamplingParams, *, rid: str | None = None,
        session_id: str | None = None, arrival: float | None = None,
    ) -> AsyncIterator[RequestOutput]:
        """Queues a request (raising its validation error here) and yields its deltas.
        `arrival`: time.monotonic() when the request reached the server (default now)."""
        arrival = time.monotonic() if arrival is None else arrival
        self._check_accepting()
        assert self.tokenizer is not None, "start() first"
        assert self.ready is not None
        if isinstance(prompt, str):
            ids = self.tokenizer.encode(check_text(prompt, "prompt"))
        else:  # checked here too: an id past 64 bits could not even be sent
            ids = list(prompt)
            check_ids(ids, self.ready.vocab_size)
        rid = rid or f"cmpl-{uuid.uuid4().hex[:24]}"
        if rid in self._router.streams:
            raise ValueError(f"request id {rid!r} is already in use")
        stream = Stream(asyncio.get_running_loop(), asyncio.Queue(),
                        Detokenizer(self.tokenizer, params))
        self._router.streams[rid] = stream
        try:
            await self._call(lambda cid: m.AddRequest(cid, rid, ids, params, session_id, arrival))
        except BaseException:
            self._router.streams.pop(rid, None)
            raise
        return self._stream(rid, stream)

    async def _stream(self, rid: str, stream: Stream) -> AsyncIterator[RequestOutput]:
        finished = False
        try:
            while not finished:
                out = await stream.queue.get()
                finished = out.finished
                yield out
        finally:
            if not finished:  # the consumer left early: free the request's memory
                self._router.streams.pop(rid, None)
                if self.is_running:
                    self._send(m.Abort(rid))

    async def open_session(self) -> str:
        self._check_accepting()
        return await self._call(lambda cid: m.OpenSession(cid))

    async def close_session(self, sid: str) -> None:
        await self._call(lambda cid: m.CloseSession(cid, sid))

    async def room_left(self, num_prompt: int, session_id: str | None = None) -> int:
        return await self._call(lambda cid: m.RoomLeft(cid, num_prompt, session_id))

    async def abort_all(self, error: str, code: AbortCode) -> int:
        return await self._call(lambda cid: m.AbortAll(cid, error, code))

    async def inspect(self, run_check: bool = False) -> m.EngineSummary:
        """The engine's counters and pools now (tests, benchmarks); `run_check` runs the idle
        identity check first (its failures in `num_check_failures`)."""
        value = await self._call(lambda cid: m.Inspect(cid, run_check))
        summary = self.summary = msgspec.convert(value, m.EngineSummary)
        return summary

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise ShuttingDown("the server is shutting down and takes no new requests")

    async def _call(self, make: Callable[[int], Any]) -> Any:
        return await asyncio.wrap_future(self.submit(make))

    def submit(self, make: Callable[[int], Any]) -> Future[Any]:
        """Sends `make(call_id)`; the future resolves with the reply (thread-safe)."""
        opened = self._calls.open() if self.is_running else None
        if opened is None:
            stopped: Future[Any] = Future()
            stopped.set_exception(EngineStopped(self.stopped_reason()))
            return stopped
        call_id, future = opened
        try:
            self._send(make(call_id))
        except OverflowError as exc:  # msgpack's ints end at 64 bits
            self._calls.forget(call_id)
            future.set_exception(InvalidRequest(f"a number in the request is too large: {exc}"))
        return future

    def _send(self, command: Any) -> None:
        with self._send_lock:
            if not self._channel.is_closed:
                self._channel.send(command)

    # -- the receiver thread ------------------------------------------------------------------

    def _receive(self) -> None:
        poller = zmq.Poller()
        poller.register(self._channel.recv_socket, zmq.POLLIN)
        poller.register(self._process.sentinel, zmq.POLLIN)
        while True:
            ready = dict(poller.poll())
            if self._channel.poll(0):
                self.on_events(self._drain())
            elif self._process.sentinel in ready:
                break
        while self._channel.poll(LAST_WORDS_MS):  # sent before the exit, maybe still in transit
            self.on_events(self._drain())
        self._on_exit()

    def _drain(self) -> list[Any]:
        """The next event and those already waiting behind it (up to `MAX_DRAIN`)."""
        events = [self._channel.recv()]
        while len(events) < MAX_DRAIN and self._channel.poll(0):
            events.append(self._channel.recv())
        return events

    def on_events(self, events: list[Any]) -> None:
        """Handles events in the engine's order; a run of `StepOutputs` (the engine got ahead
        of this thread) as one: its token deltas in one route, its records in one `on_records`
        call, then its ends in one route, which wakes each event loop once or twice instead of
        once per step."""
        records: list[m.RecordMsg] = []
        outputs: list[m.Output] = []
        for event in events:
            if isinstance(event, m.StepOutputs):
                records += event.records
                outputs += event.outputs
                continue
            self._on_steps(records, outputs)
            records, outputs = [], []
            self._on_event(event)
        self._on_steps(records, outputs)

    def _on_steps(self, records: list[m.RecordMsg], outputs: list[m.Output]) -> None:
        # Token deltas go out before the steps' records are recorded (telemetry must not delay
        # TTFT and ITL); a request's end goes out after them, so that its metrics and
        # request_finished event are in place when its client sees it end.
        ending = [out for out in outputs if out.finish_reason is not None]
        flowing = [out for out in outputs if out.finish_reason is None] if ending else outputs
        if flowing:
            self._router.route(flowing)
        if records and self.on_records is not None:
            self.on_records(records)
        if ending:
            self._router.route(ending)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, m.Reply):
            self._calls.resolve(event)
        elif isinstance(event, m.Stopped):
            self.summary = event.summary or self.summary
            if event.error is not None:
                self.error = event.error

    def _on_exit(self) -> None:
        """The process ended: name the cause, end every stream and waiting call with it."""
        code = self._process.reap(STOP_TIMEOUT_S)
        self._has_exited = True
        reported, how = self.error, describe_exit(code)  # `reported`: from its Stopped
        if reported is not None or not (self._is_stopping and code == 0):
            self.error = f"{reported} ({how})" if reported else f"the engine process ended ({how})"
            get_logger("poolscope.engine_client").error(
                catalog.ENGINE_EXITED.name, pid=self._process.pid, exit=how, error=reported)
        self._router.fail_all(f"engine stopped: {self.error or 'the server stopped'}")
        self._calls.close(EngineStopped(self.stopped_reason()))
