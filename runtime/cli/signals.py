"""Serving until SIGTERM or SIGINT (Ctrl-C): the verbs that run until told to stop use this.

    with stop_signals() as stop:
        server.run(stop.event)             # or stop.event.wait()
    print(stop.received)                   # "SIGTERM", "SIGINT", or None
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class StopSignal:
    """`event` is set by the first SIGTERM or SIGINT; `received` names that first signal."""

    event: threading.Event = field(default_factory=threading.Event)
    received: str | None = None

    def _on_signal(self, number: int, _: object) -> None:
        if self.received is None:
            self.received = signal.Signals(number).name
        self.event.set()


@contextmanager
def stop_signals() -> Iterator[StopSignal]:
    """Within the block SIGTERM and SIGINT set the event instead of ending the process; the
    handlers from before come back when it ends. Call from the main thread (Python's rule)."""
    stop = StopSignal()
    previous = {sig: signal.signal(sig, stop._on_signal) for sig in SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
