"""runtime.cli.signals: serving verbs stop on SIGTERM or SIGINT and put the old handlers back."""

from __future__ import annotations

import os
import signal

from runtime.cli.signals import stop_signals


def test_first_signal_sets_the_event_and_is_named() -> None:
    """SIGTERM then SIGINT inside the block set the event and name the first one, SIGTERM."""
    with stop_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.event.wait(10)
    assert stop.received == "SIGTERM"


def test_handlers_from_before_come_back() -> None:
    """After the block SIGTERM and SIGINT have the handlers they had before it."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_signals():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
