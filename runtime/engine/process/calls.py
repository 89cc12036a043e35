"""The calls the frontend sent to the engine process that still wait for their `Reply`."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future
from typing import Any

from runtime.engine.process.messages import Reply
from runtime.engine.process.remote_errors import raise_remote


class PendingCalls:
    """Futures by call id; thread-safe. `close` fails them all, and every later `open` finds
    it closed, so no call can wait for an engine that is gone."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._futures: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._is_closed = False

    def open(self) -> tuple[int, Future[Any]] | None:
        """A new call id and its future; None once closed."""
        with self._lock:
            if self._is_closed:
                return None
            call_id, future = next(self._ids), Future()
            self._futures[call_id] = future
            return call_id, future

    def forget(self, call_id: int) -> None:
        with self._lock:
            self._futures.pop(call_id, None)

    def resolve(self, reply: Reply) -> None:
        """Completes the reply's call with its value, or its error as the engine's own type."""
        with self._lock:
            future = self._futures.pop(reply.call_id, None)
        if future is None or not future.set_running_or_notify_cancel():
            return
        if reply.error is None:
            future.set_result(reply.value)
        else:
            future.set_exception(raise_remote(reply.error))

    def close(self, error: Exception) -> None:
        """Fails every waiting call with `error`; later calls fail at `open`."""
        with self._lock:
            self._is_closed = True
            futures, self._futures = list(self._futures.values()), {}
        for future in futures:
            if future.set_running_or_notify_cancel():
                future.set_exception(error)
