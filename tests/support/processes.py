"""`poolscope serve` as a subprocess, and the engine process it starts, watched by PID."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


def start_serve(model: Path, log: Path, *flags: str, own_group: bool = False
                ) -> tuple[subprocess.Popen[str], str]:
    """Starts `poolscope serve` on a free port logging to `log` (in a process group of its own
    with `own_group`, as a shell job is); returns it and its URL once it printed where it
    serves."""
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(model), "--port", "0",
           "--log-file", str(log), *flags]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            process_group=0 if own_group else None)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    url = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
    if url is None:
        proc.kill()
        raise AssertionError(line + proc.stderr.read())
    return proc, url.group(1)


def log_events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def engine_pid(log: Path) -> int:
    """The engine process's PID, from the server_started event."""
    started = [e for e in log_events(log) if e["event"] == "server_started"]
    return int(started[0]["engine_pid"])


def is_gone(pid: int) -> bool:
    """True when no process has this PID any more, or only its unreaped zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" in state.split()[1]


def stop(proc: subprocess.Popen[str]) -> None:
    """Kills `proc` if a failed test left it running, and reaps it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
