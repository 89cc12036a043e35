"""EngineCore, the engine process's loop, driven in this process on a thread over a real
channel pair: for tests that must set the engine up (or break it) before the loop runs."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from runtime.engine.engine import Engine
from runtime.engine.process import messages as m
from runtime.engine.process.channel import ChildChannel, ParentChannel
from runtime.engine.process.core import EngineCore

JOIN_TIMEOUT_S = 30.0


class InProcessCore:
    """`with InProcessCore(engine) as core:` runs EngineCore(engine) on a thread until the block
    ends (then `Shutdown`); `core.error` holds what stopped the loop, if anything did."""

    def __init__(self, engine: Engine) -> None:
        self.parent = ParentChannel()
        self._child = ChildChannel(self.parent.addresses)
        self.core = EngineCore(engine, self._child)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-engine-core", daemon=True)

    def __enter__(self) -> InProcessCore:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._thread.is_alive():
            self.send(m.Shutdown())
        self.join()
        self._child.close()
        self.parent.close()

    def _run(self) -> None:
        try:
            self.core.run()
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            self.error = exc

    def join(self) -> None:
        """Waits for the loop to end (a test that expects it to stop by itself)."""
        self._thread.join(JOIN_TIMEOUT_S)
        assert not self._thread.is_alive(), "EngineCore's loop did not stop"

    def send(self, command: Any) -> None:
        """Sends `command` once the core's end has connected (the loop starts at once here,
        with no `Ready` handshake before the first command)."""
        assert self.parent.send_once_connected(command, JOIN_TIMEOUT_S), "the core never connected"

    def call(self, command: Any) -> m.Reply:
        """Sends `command` (its `call_id` set) and returns its reply, skipping other events."""
        self.send(command)
        while self.parent.poll(int(JOIN_TIMEOUT_S * 1000)):
            event = self.parent.recv()
            if isinstance(event, m.Reply) and event.call_id == command.call_id:
                return event
        raise AssertionError(f"no reply to {command!r}")
