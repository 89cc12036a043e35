"""The engine behind asyncio, in this process: a loop thread owns the Engine; coroutines hand
it work. `poolscope serve` runs the engine in its own process instead (engine/process/); this
in-process form serves embedding and tests that reach into the engine between steps.

Every call that touches the engine (add a request, abort, open or close a session) runs on the
loop thread between steps, so the engine needs no locks. Output deltas come back to the caller's
event loop through `call_soon_threadsafe`. A request whose consumer goes away (a client that
disconnects) is aborted, which frees its memory.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from typing import TypeVar

from runtime.engine.engine import Engine
from runtime.errors import EngineStopped, ShuttingDown
from runtime.memory.checker import LeakDetected
from runtime.scheduler.output_processor import output_of
from runtime.scheduler.request import AbortCode, FinishReason, RequestOutput
from runtime.scheduler.sampling_params import SamplingParams

log = logging.getLogger(__name__)
T = TypeVar("T")
IDLE_WAIT_S = 0.5  # how often an idle loop wakes to expire sessions and run due idle checks


class AsyncEngine:
    """Runs `engine` on its own thread from `start()` until `stop()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._commands: queue.SimpleQueue[tuple[Callable[[Engine], object], Future]] = (
            queue.SimpleQueue()
        )
        self._wake = threading.Event()
        self._stopping = False
        self._accepting = True  # False once a shutdown drain began: no new work
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="poolscope-engine", daemon=True)

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive() and self.error is None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def stop_accepting(self) -> None:
        """From now on new requests and sessions are refused with ShuttingDown; requests
        already queued or running go on (the drain)."""
        self._accepting = False

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise ShuttingDown("the server is shutting down and takes no new requests")

    def submit(self, fn: Callable[[Engine], T]) -> Future[T]:
        """Runs fn(engine) on the loop thread before its next step."""
        future: Future[T] = Future()
        if not self.is_running:
            future.set_exception(EngineStopped(self.stopped_reason()))
            return future
        self._commands.put((fn, future))  # type: ignore[arg-type]
        self._wake.set()
        return future

    async def call(self, fn: Callable[[Engine], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    async def open_session(self) -> str:
        self._check_accepting()
        return await self.call(lambda e: e.open_session())

    async def close_session(self, sid: str) -> None:
        await self.call(lambda e: e.close_session(sid))

    async def room_left(self, num_prompt: int, session_id: str | None = None) -> int:
        return await self.call(lambda e: e.room_left(num_prompt, session_id))

    async def abort_all(self, error: str, code: AbortCode) -> int:
        return await self.call(lambda e: e.abort_all(error, code))

    async def generate(
        self,
        prompt: str | Sequence[int],
        params: SamplingParams,
        *,
        rid: str | None = None,
        session_id: str | None = None,
    ) -> AsyncIterator[RequestOutput]:
        """Queues a request (raising its validation error here) and yields its deltas."""
        self._check_accepting()
        loop = asyncio.get_running_loop()
        outputs: asyncio.Queue[RequestOutput] = asyncio.Queue()

        def sink(out: RequestOutput) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(outputs.put_nowait, out)

        req = await self.call(
            lambda e: e.add_request(prompt, params, rid=rid, session_id=session_id, sink=sink)
        )
        return self._stream(req.rid, outputs)

    async def _stream(
        self, rid: str, outputs: asyncio.Queue[RequestOutput]
    ) -> AsyncIterator[RequestOutput]:
        finished = False
        try:
            while not finished:
                out = await outputs.get()
                finished = out.finished
                yield out
        finally:
            if not finished:  # the consumer left early: free the request's memory
                self.submit(lambda e: e.abort(rid))

    def _loop(self) -> None:
        try:
            while not self._stopping:
                self._drain()
                if not self.engine.step():
                    self.engine.idle_tick()
                    self._wake.wait(IDLE_WAIT_S)
                    self._wake.clear()
        except BaseException as exc:  # noqa: BLE001 - reported to every waiter, then stops
            log.exception("engine loop stopped")
            self.error = exc
            self._fail_all(exc)

    def _drain(self) -> None:
        while True:
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(self.engine))
            except LeakDetected as exc:
                # `--on-leak raise` found a leak on an idle-time check (a session close, an
                # abort): it stops the loop as a step's would; the caller hears that it stopped.
                future.set_exception(EngineStopped(f"the engine stopped after an error: {exc}"))
                raise
            except Exception as exc:  # noqa: BLE001 - the caller gets it
                future.set_exception(exc)

    def _fail_all(self, exc: BaseException) -> None:
        """Ends every request with the error, and every queued command with EngineStopped."""
        for req in list(self.engine.requests.values()):
            req.finish_reason, req.error = FinishReason.ABORT, f"engine stopped: {exc}"
            req.error_code = AbortCode.ENGINE_STOPPED
            if req.sink is not None:
                req.sink(output_of(req, ""))
        while True:
            try:
                _, future = self._commands.get_nowait()
            except queue.Empty:
                return
            future.set_exception(EngineStopped(self.stopped_reason()))

    def stopped_reason(self) -> str:
        if self.error is not None:
            return f"the engine stopped after an error: {self.error}"
        return "the engine is not running"
