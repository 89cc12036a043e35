"""Runs a workload against the server, closed loop or open loop, and summarizes it.

    summary = asyncio.run(run(LoadgenConfig(url="http://127.0.0.1:8000", max_requests=100)))

Closed loop: `concurrency` workers, each sending its next conversation when the last one ends.
Open loop: conversations arrive as a Poisson process; `concurrency`, when set, caps the requests
in flight (an arrival over the cap waits, and its latencies count from when it is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import httpx
from tqdm import tqdm

from runtime.loadgen.client import (
    CompletionClient,
    LoadgenError,
    ServerUnreachable,
    make_http_client,
)
from runtime.loadgen.record import RequestRecord
from runtime.loadgen.report import Summary, summarize
from runtime.loadgen.token_probe import measure
from runtime.loadgen.token_scale import TokenScale
from runtime.loadgen.workload import Conversation, LoadgenConfig, RequestSpec, Workload

# After the deadline, a conversation may still be in one request and then a session delete,
# each bounded by timeout_s; the grace covers task switching on a loaded machine.
DRAIN_GRACE_S = 5.0
# NOTE: a closed-loop worker pauses after a failed conversation, doubling the pause with each
# failure in a row (up to MAX_FAILURE_PAUSE_S), so a server that fails fast (or is gone) is not
# hammered in a tight loop that piles up thousands of failed records.
FAILURE_PAUSE_S = 0.05
MAX_FAILURE_PAUSE_S = 2.0


async def run(
    config: LoadgenConfig,
    *,
    is_progress_shown: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Summary:
    """Runs `config` to completion and returns its Summary; writes no files.

    Bounded in time (about duration_s + 2 * timeout_s) and, with max_requests, in count; it
    stops issuing early after `max_connect_errors` connection errors in a row (the summary's
    `stop_reason` says so). Raises ServerUnreachable (before sending any completion) when the
    server answers nothing. `transport` replaces the network, for tests.
    """
    async with make_http_client(config, transport) as http:
        client = CompletionClient(http, config)
        await client.check_reachable()
        scale = await measure(client) if config.is_token_scale_measured else TokenScale()
        with tqdm(
            total=config.max_requests,
            unit="req",
            desc="loadgen",
            file=sys.stderr,
            disable=not is_progress_shown,
            dynamic_ncols=True,
        ) as bar:
            state = _Run(config, client, bar, scale)
            start = time.perf_counter()
            await state.execute()
            duration_s = max(time.perf_counter() - start, 1e-9)
    return summarize(
        config, state.records, duration_s, state.num_sessions, state.num_sessions_completed,
        scale=scale, stop_reason=state.stop_reason,
    )


class _Run:
    """The mutable state of one run: request budget, records, session counts."""

    def __init__(
        self, config: LoadgenConfig, client: CompletionClient, bar: tqdm, scale: TokenScale
    ) -> None:
        self._config, self._client, self._bar = config, client, bar
        self._workload = Workload(config, scale)
        self._deadline = 0.0
        self._num_started = 0
        self._num_failed = 0
        self._num_failed_in_row = 0
        self._num_connect_errors_in_row = 0
        self.stop_reason: str | None = None
        cap = config.concurrency if config.is_open_loop else None
        self._in_flight_cap = asyncio.Semaphore(cap) if cap is not None else None
        self.records: list[RequestRecord] = []
        self.num_sessions = 0
        self.num_sessions_completed = 0

    async def execute(self) -> None:
        """Issues requests until the deadline or the budget, then waits for those in flight."""
        self._deadline = time.perf_counter() + self._config.duration_s
        if self._config.is_open_loop:
            tasks = await self._arrivals()
        else:
            assert self._config.concurrency is not None  # checked by LoadgenConfig
            tasks = [asyncio.create_task(self._worker()) for _ in range(self._config.concurrency)]
        await self._drain(tasks)

    def _can_start(self) -> bool:
        max_requests = self._config.max_requests
        is_under_budget = max_requests is None or self._num_started < max_requests
        is_on = self.stop_reason is None
        return is_on and is_under_budget and time.perf_counter() < self._deadline

    def _take_slot(self) -> bool:
        """Counts one request as started, if the deadline and budget allow it."""
        if not self._can_start():
            return False
        self._num_started += 1
        return True

    async def _worker(self) -> None:
        while self._can_start():
            await self._converse(next(self._workload))
            if self._num_failed_in_row:
                exponent = min(self._num_failed_in_row - 1, 16)
                await asyncio.sleep(min(MAX_FAILURE_PAUSE_S, FAILURE_PAUSE_S * 2**exponent))

    async def _arrivals(self) -> list[asyncio.Task[None]]:
        """Starts conversations at Poisson arrival times until the deadline or the budget."""
        tasks: list[asyncio.Task[None]] = []
        max_requests = self._config.max_requests
        next_at = time.perf_counter()
        while max_requests is None or len(tasks) < max_requests:
            next_at += self._workload.next_arrival_gap_s()
            if next_at >= self._deadline:
                break
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            if not self._can_start():
                break
            tasks.append(asyncio.create_task(self._converse(next(self._workload))))
        return tasks

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        """Waits for `tasks` a bounded time, cancels the rest; re-raises a task's bug."""
        if not tasks:
            return
        remaining_s = max(0.0, self._deadline - time.perf_counter())
        limit_s = remaining_s + 2 * self._config.timeout_s + DRAIN_GRACE_S
        done, pending = await asyncio.wait(tasks, timeout=limit_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()

    async def _converse(self, conversation: Conversation) -> None:
        if conversation.is_session:
            await self._session(conversation.turns)
        else:
            await self._turn(conversation.turns[0], None)

    async def _session(self, turns: tuple[RequestSpec, ...]) -> None:
        """Opens a session, sends its turns in order (stopping at a failure, the deadline or the
        budget), then deletes it. A failed open is recorded as one failed request."""
        if not self._can_start():
            return
        start_time, start = time.time(), time.perf_counter()
        try:
            session_id = await self._client.create_session()
        except LoadgenError as exc:
            self._num_started += 1
            elapsed_s = time.perf_counter() - start
            self._add(
                RequestRecord(
                    start_time, None, (), elapsed_s, None, None, False, str(exc), is_session=True,
                    is_connect_error=isinstance(exc, ServerUnreachable),
                )
            )
            return
        self.num_sessions += 1
        try:
            num_ok = 0
            for spec in turns:
                record = await self._turn(spec, session_id)
                if record is None or not record.is_ok:
                    break
                num_ok += 1
            self.num_sessions_completed += int(num_ok == len(turns))
        finally:
            with contextlib.suppress(LoadgenError):  # best effort: the server may expire it
                await self._client.delete_session(session_id)

    async def _turn(self, spec: RequestSpec, session_id: str | None) -> RequestRecord | None:
        """Sends one request under the in-flight cap; None when the deadline or budget says no."""
        async with self._in_flight_cap or contextlib.nullcontext():
            if not self._take_slot():
                return None
            record = await self._client.complete(spec, session_id)
        self._add(record)
        return record

    def _add(self, record: RequestRecord) -> None:
        self.records.append(record)
        self._num_failed += int(not record.is_ok)
        self._num_failed_in_row = 0 if record.is_ok else self._num_failed_in_row + 1
        in_row = self._num_connect_errors_in_row + 1 if record.is_connect_error else 0
        self._num_connect_errors_in_row = in_row
        if in_row >= self._config.max_connect_errors and self.stop_reason is None:
            self.stop_reason = (
                f"stopped after {in_row} connection errors in a row: the server at "
                f"{self._config.base_url} is not answering (last: {record.error})"
            )
        self._bar.update(1)
        if self._num_failed:
            self._bar.set_postfix(failed=self._num_failed, refresh=False)
