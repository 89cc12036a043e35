"""Ties the engine process's life to its parent's, so that no engine is ever orphaned and no
socket folder is left behind when the parent is killed (kill -9 runs none of its clean-up).

Two guards, both ending in `_leave`, which removes the channel's folder and exits at once:
- Linux sends `PARENT_DEATH_SIGNAL` when the parent dies (`PR_SET_PDEATHSIG`). NOTE: a
  catchable signal, not SIGKILL, so that the folder can be removed; its handler runs on the
  main thread at the next bytecode (a zmq poll is interrupted; a torch op finishes first).
- A daemon thread waits on multiprocessing's parent sentinel (a pipe whose other end only the
  parent holds, so it reads EOF when the parent dies, on any platform); it also covers a main
  thread stuck in C code (which releases the GIL) where the handler cannot run.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
import sys
import threading
from multiprocessing.connection import wait
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_DEATH_SIGNAL = signal.SIGUSR1
PARENT_GONE_EXIT = 1


def die_with_parent(parent_pid: int, folder: Path) -> None:
    """From now on the parent's death removes `folder` and ends this process; if the parent
    went already, that happens now."""
    signal.signal(PARENT_DEATH_SIGNAL, lambda _signum, _frame: _leave(folder))
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL, 0, 0, 0)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_watch, args=(parent.sentinel, folder), daemon=True,
                         name="poolscope-parent-watch").start()
    if _parent_is_gone(parent_pid):  # it died before the guards took hold
        _leave(folder)


def _parent_is_gone(parent_pid: int) -> bool:
    """True once this process was re-parented (its parent died)."""
    return os.getppid() != parent_pid


def _watch(sentinel: int, folder: Path) -> None:
    wait([sentinel])
    _leave(folder)


def _leave(folder: Path) -> None:
    # os._exit: no clean-up that could wait on the dead parent (a socket's linger)
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(PARENT_GONE_EXIT)


def ignore_stop_signals() -> None:
    """Ctrl-C in a terminal (or a group-wide SIGTERM) reaches the whole process group: the
    engine ignores both, since the frontend drains first and then stops it by command."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
