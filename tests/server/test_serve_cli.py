"""`poolscope serve` as a user runs it: a subprocess on loopback that answers, then stops on
SIGTERM with exit 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_serve_answers_and_stops_on_sigterm(nemotron_h_dir: Path) -> None:
    """The verb prints where it serves, takes its API key from POOLSCOPE_API_KEY, answers a
    completion, and exits 0 on SIGTERM."""
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(nemotron_h_dir),
           "--port", "0", "--mem-check", "busy", "--on-leak", "raise"]  # fmt: skip
    env = {**os.environ, "POOLSCOPE_API_KEY": "k3y"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        assert url, line
        auth = {"Authorization": "Bearer k3y"}
        with httpx.Client(base_url=url.group(1), timeout=60) as client:
            body = {"prompt": "hello", "max_tokens": 3, "temperature": 0, "ignore_eos": True}
            assert client.post("/v1/completions", json=body).status_code == 401
            answer = client.post("/v1/completions", json=body, headers=auth)
            assert answer.status_code == 200
            assert answer.json()["usage"]["completion_tokens"] == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_a_bad_flag_with_one_line(nemotron_h_dir: Path) -> None:
    """An impossible engine setting exits 2 with one error line, before binding anything."""
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(nemotron_h_dir),
           "--chunked-prefill-size", "0"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "poolscope: error: chunked_prefill_size must be >= 1, got 0"
    ]
