"""`poolscope serve` as a user runs it: a subprocess on loopback that answers, then stops on
SIGTERM with exit 0."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import start_serve, stop_process

pytestmark = pytest.mark.slow


def test_serve_answers_and_stops_on_sigterm(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """The verb prints where it serves, takes its API key from POOLSCOPE_API_KEY, answers a
    completion, logs its JSON events (torch threads in `server_started`) to the log file, and
    exits 0 on SIGTERM."""
    log = tmp_path / "poolscope.jsonl"
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(nemotron_h_dir),
           "--port", "0", "--mem-check", "busy", "--on-leak", "raise", "--log-file", str(log),
           "--decode-log-interval", "1", "--torch-threads", "1"]
    env = {**os.environ, "POOLSCOPE_API_KEY": "k3y"}
    proc, url = start_serve(cmd, env=env)
    try:
        auth = {"Authorization": "Bearer k3y"}
        with httpx.Client(base_url=url, timeout=60) as client:
            body = {"prompt": "hello", "max_tokens": 3, "temperature": 0, "ignore_eos": True}
            assert client.post("/v1/completions", json=body).status_code == 401
            answer = client.post("/v1/completions", json=body, headers=auth)
            assert answer.status_code == 200
            assert answer.json()["usage"]["completion_tokens"] == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        stop_process(proc)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "server_started" and events[0]["url"] == url
    assert events[0]["torch_threads"] == 1
    assert names.count("decode_batch") == 2  # 3 tokens: 1 from prefill, 2 decode steps
    assert {"prefill_batch", "request_finished", "idle_check"} <= set(names)


def test_serve_logs_sglang_text_lines(nemotron_h_dir: Path) -> None:
    """With --log-format text, stdout carries SGLang's human layout for batches."""
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(nemotron_h_dir),
           "--port", "0", "--log-format", "text", "--decode-log-interval", "1"]
    proc, url = start_serve(cmd, stdout=subprocess.PIPE)
    try:
        body = {"prompt": "hello", "max_tokens": 2, "temperature": 0, "ignore_eos": True}
        assert httpx.post(f"{url}/v1/completions", json=body, timeout=60).is_success
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        stop_process(proc)
    assert proc.returncode == 0
    assert re.search(r"\] Prefill batch, #new-seq: 1, #new-token: \d+, #cached-token: 0", out)
    assert re.search(r"\] Decode batch, #running-req: 1, #token: \d+, token usage: \d\.\d\d, ", out)


def test_serve_refuses_a_bad_flag_with_one_line(nemotron_h_dir: Path) -> None:
    """An impossible engine setting exits 2 with one error line, before binding anything."""
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(nemotron_h_dir),
           "--chunked-prefill-size", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "poolscope: error: chunked_prefill_size must be >= 1, got 0"
    ]
