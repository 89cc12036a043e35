"""Processes a test starts: `poolscope serve` on a free port (its URL read from stderr), a verb
in a fresh interpreter, and stopping any of them by PID: SIGTERM first, SIGKILL when it lingers;
the engine process a server starts, found and watched by PID."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

SERVE_URL = re.compile(r"on (http://127\.0\.0\.1:\d+)")  # `poolscope serve`'s first stderr line


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGTERM to `proc` if it still runs, SIGKILL after `timeout` s; returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def kill_process(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGKILL to `proc` (a test of what a crash leaves behind); returns its exit status."""
    proc.kill()
    return proc.wait(timeout=timeout)


def start_serve(cmd: list[str], **popen: Any) -> tuple[subprocess.Popen[str], str]:
    """Starts `cmd` (a `poolscope serve` with `--port 0`) with stderr piped as text and stdout
    dropped unless `popen` says otherwise; returns it and the base URL its first stderr line
    names. Fails the test with that line and the rest of stderr when it names none."""
    options = {"stdout": subprocess.DEVNULL, **popen, "stderr": subprocess.PIPE, "text": True}
    proc = subprocess.Popen(cmd, **options)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    url = SERVE_URL.search(line)
    if url is None:
        stop_process(proc)
        raise AssertionError(line + proc.stderr.read())
    return proc, url.group(1)


def start_verb(argv: list[str]) -> subprocess.Popen[str]:
    """`poolscope ARGV...` in a fresh interpreter, stdout and stderr piped as text, unbuffered.
    Its last stdout line is `<exit status> <whether torch got imported>`, e.g. `0 False`."""
    code = (
        "import sys; from runtime.cli.main import main; "
        f"rc = main({argv!r}); print(rc, 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def serve_cmd(model: Path, log: Path, *flags: str) -> list[str]:
    """`poolscope serve` on a free port, logging to `log`."""
    return [sys.executable, "-m", "runtime.cli", "serve", "--model", str(model), "--port", "0",
            "--log-file", str(log), *flags]


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


def engine_folder(pid: int) -> Path:
    """The private folder holding the engine sockets that process `pid` (a `poolscope serve`)
    bound: the path of a unix socket in /proc/net/unix whose inode is one of its open fds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 8 and fields[6] in inodes and "/poolscope-engine-" in fields[7]:
            return Path(fields[7]).parent
    raise AssertionError(f"process {pid} has bound no engine socket")
