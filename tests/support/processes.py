"""Processes a test starts: `poolscope serve` on a free port (its URL read from stderr), a verb
in a fresh interpreter, and stopping any of them by PID: SIGTERM first, SIGKILL when it lingers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
