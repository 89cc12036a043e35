"""Graceful shutdown: stop accepting, let running requests finish, end the rest cleanly.

On SIGTERM (or `RunningServer.stop`) uvicorn closes the listening socket and asks every
connection to close once its response is done. `DrainingServer` adds what uvicorn cannot know:
new requests on connections still open are refused with a JSON 503 (`server_shutting_down`);
requests still queued or running after `drain_timeout_s` are aborted through the engine, so a
stream ends with an error event and `[DONE]` and a whole answer is a JSON 503 saying the server
is shutting down. Only a client that stops reading is cut, `END_GRACE_S` after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

from runtime.engine.serving import ServingEngine
from runtime.scheduler.request import AbortCode

log = logging.getLogger(__name__)

SHUTTING_DOWN = "the server is shutting down: this request did not finish within the drain timeout"
END_GRACE_S = 5.0  # after the aborts: time for the last events and replies to be sent


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain that ends every request with an answer."""

    def __init__(self, config: uvicorn.Config, engine: ServingEngine, drain_timeout_s: float):
        config.timeout_graceful_shutdown = int(drain_timeout_s + END_GRACE_S) + 1
        super().__init__(config)
        self.engine, self.drain_timeout_s = engine, drain_timeout_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.engine.stop_accepting()
        ender = asyncio.create_task(self._end_unfinished())
        try:
            await super().shutdown(sockets)
        finally:
            ender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ender

    async def _end_unfinished(self) -> None:
        """After the drain timeout, aborts whatever is still queued or running."""
        await asyncio.sleep(self.drain_timeout_s)
        try:
            ended = await self.engine.abort_all(SHUTTING_DOWN, AbortCode.SHUTTING_DOWN)
        except Exception:  # noqa: BLE001 - a stopped engine has already ended its requests
            return
        if ended:
            log.warning("drain timeout: ended %d unfinished request(s) as shutting down", ended)
