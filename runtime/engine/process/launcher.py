"""Starts the engine process with multiprocessing's `spawn` and reaps it on every stop path.

NOTE: `spawn`, never `fork`: the frontend has torch (and its thread pools) imported, and a
forked copy of a process with threads can deadlock on a lock some other thread held.
"""

from __future__ import annotations

import multiprocessing
import signal

from runtime.engine.process.child import ChildSpec, run_child

KILL_WAIT_S = 5.0


class EngineProcess:
    """One engine process. `reap` ends it (asked, then SIGKILL) and collects its status."""

    def __init__(self, spec: ChildSpec) -> None:
        context = multiprocessing.get_context("spawn")
        # daemon: multiprocessing's exit handler also ends it if the parent exits normally
        self._process = context.Process(target=run_child, args=(spec,),
                                        name="poolscope-engine", daemon=True)

    def start(self) -> None:
        self._process.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def sentinel(self) -> int:
        """A file descriptor that becomes readable when the process ends."""
        return self._process.sentinel

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def is_alive(self) -> bool:
        return self._process.is_alive()

    def kill(self) -> None:
        self._process.kill()

    def reap(self, timeout: float) -> int | None:
        """Waits up to `timeout` for the process to end, then kills it; returns its status."""
        if self._process.pid is None:
            return None
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(KILL_WAIT_S)
        return self._process.exitcode


def describe_exit(code: int | None) -> str:
    """`exit status 1`, `killed by SIGKILL`, or `still running`."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
