"""SIGTERM drains `poolscope serve` (a real subprocess): requests that can finish within
--drain-timeout finish, the rest end with an error event and [DONE] (streams) or a JSON 503
(whole answers) saying the server is shutting down, nothing is logged as a traceback, and the
process exits 0."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.support import start_serve, stop_process, wait_until

pytestmark = pytest.mark.slow

DRAIN_S = 6
SHORT, MEDIUM, LONG = 3, 40, 30_000  # LONG cannot finish within the drain on any CPU


class _Stream(threading.Thread):
    """Streams one completion and keeps every data line (started: its first line came)."""

    def __init__(self, url: str, max_tokens: int) -> None:
        super().__init__(daemon=True)
        self.url, self.max_tokens = url, max_tokens
        self.lines: list[str] = []
        self.started = threading.Event()

    def run(self) -> None:
        body = {"prompt": [5, 6, 7], "max_tokens": self.max_tokens, "temperature": 0,
                "ignore_eos": True, "stream": True}
        with httpx.stream("POST", f"{self.url}/v1/completions", json=body, timeout=120) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    self.lines.append(line.removeprefix("data: "))
                    self.started.set()


class _Whole(threading.Thread):
    def __init__(self, url: str, max_tokens: int) -> None:
        super().__init__(daemon=True)
        self.url, self.max_tokens = url, max_tokens
        self.response: httpx.Response | None = None

    def run(self) -> None:
        body = {"prompt": [8, 9], "max_tokens": self.max_tokens, "temperature": 0,
                "ignore_eos": True}
        self.response = httpx.post(f"{self.url}/v1/completions", json=body, timeout=120)


def _start(nemotron_h_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(nemotron_h_dir),
           "--port", "0", "--max-context", str(LONG + 64), "--drain-timeout", str(DRAIN_S),
           "--mem-check", "busy", "--log-file", str(log)]
    return start_serve(cmd)


def _reached_engine(url: str) -> float:
    """Requests running now plus those finished: every request the engine has taken."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = r"^poolscope_requests_(?:running|finished_total)\S* (\S+)$"
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def test_sigterm_finishes_what_it_can_and_ends_the_rest_with_an_error_answer(
    nemotron_h_dir: Path, tmp_path: Path
) -> None:
    """Streams of several lengths and whole answers in flight at SIGTERM: the short ones
    finish normally, the long ones end with a `server_shutting_down` error (an SSE error event
    then [DONE]; a JSON 503), the log holds no traceback, and the exit status is 0."""
    log = tmp_path / "serve.jsonl"
    proc, url = _start(nemotron_h_dir, log)
    try:
        streams = [_Stream(url, n) for n in (SHORT, MEDIUM, LONG, LONG)]
        wholes = [_Whole(url, n) for n in (MEDIUM, LONG)]
        for client in [*streams, *wholes]:
            client.start()
        for stream in streams:
            assert stream.started.wait(60)
        wait_until(lambda: _reached_engine(url) >= len(streams) + len(wholes), timeout=60)
        proc.send_signal(signal.SIGTERM)
        for client in [*streams, *wholes]:
            client.join(DRAIN_S + 60)
        assert proc.wait(timeout=60) == 0
        stderr = proc.stderr.read() if proc.stderr is not None else ""
    finally:
        stop_process(proc)
    for stream in streams:
        assert stream.lines[-1] == "[DONE]", stream.lines[-3:]
        events = [json.loads(line) for line in stream.lines[:-1]]
        errors = [e["error"] for e in events if "error" in e]
        if stream.max_tokens == LONG:
            assert [e["code"] for e in errors] == ["server_shutting_down"]
            assert "shutting down" in errors[0]["message"]
        else:
            assert errors == [] and events[-1]["choices"][0]["finish_reason"] == "length"
    medium, long = (w.response for w in wholes)
    assert medium is not None and medium.status_code == 200
    assert long is not None and long.status_code == 503
    assert long.headers["content-type"] == "application/json"
    assert long.json()["error"]["code"] == "server_shutting_down"
    text = log.read_text() + stderr
    assert "Traceback" not in text and "CancelledError" not in text
    levels = {json.loads(line).get("level") for line in log.read_text().splitlines()}
    assert "error" not in levels
