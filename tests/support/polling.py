"""Waiting for something to become true, with a deadline (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], object],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "the condition",
) -> None:
    """Polls `condition` every `interval` s until it is truthy; fails the test naming `what`
    once `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)
