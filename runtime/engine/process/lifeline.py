"""Ties the engine process's life to its parent's, so that no engine is ever orphaned.

Linux kills the child with SIGKILL when the parent dies (`PR_SET_PDEATHSIG`); elsewhere, and as
a second guard, the loop asks `parent_is_gone` between steps.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Asks the kernel for SIGKILL when the parent goes; exits now if it went already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_is_gone(parent_pid):  # it died before the prctl took hold
        os._exit(1)


def parent_is_gone(parent_pid: int) -> bool:
    """True once this process was re-parented (its parent died)."""
    return os.getppid() != parent_pid


def ignore_stop_signals() -> None:
    """Ctrl-C in a terminal (or a group-wide SIGTERM) reaches the whole process group: the
    engine ignores both, since the frontend drains first and then stops it by command."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
