"""The engine runs in its own process: each way it or the server can end leaves no orphan,
ends requests in flight with an error naming the cause, and sets the exit status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from runtime.engine.config import EngineConfig
from runtime.server.app import ServerSettings
from runtime.server.serve import RunningServer
from tests.server.harness import greedy_body
from tests.support import wait_until
from tests.support.processes import (
    engine_folder,
    engine_pid,
    is_gone,
    kill_process,
    log_events,
    serve_cmd,
    start_serve,
    stop_process,
)

pytestmark = pytest.mark.slow

BODY = {"prompt": "hello", "max_tokens": 3, "temperature": 0, "ignore_eos": True}


def _stream_events(client: httpx.Client, body: dict, on_first: object) -> list[dict]:
    """Streams `body`, calls `on_first()` after the first chunk, returns the JSON events."""
    with client.stream("POST", "/v1/completions", json=body) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("data: ")
        on_first()  # type: ignore[operator]
        rest = [line[6:] for line in lines if line.startswith("data: ")]
    assert rest[-1] == "[DONE]"
    return [json.loads(e) for e in rest[:-1]]


def test_the_engine_runs_in_a_child_process_that_stop_reaps(nemotron_h_dir: Path) -> None:
    """RunningServer's engine is another process (a child of this one) that answers, and
    stopping the server reaps it."""
    config = EngineConfig(model=str(nemotron_h_dir))
    server = RunningServer(config, ServerSettings(port=0))
    url = server.start()
    pid = server.engine.pid
    try:
        assert pid is not None and pid != os.getpid()
        assert Path(f"/proc/{pid}/status").read_text().count(f"PPid:\t{os.getpid()}") == 1
        assert httpx.post(f"{url}/v1/completions", json=BODY, timeout=60).is_success
    finally:
        server.stop()
    assert is_gone(pid) and server.engine.error is None


def test_a_killed_engine_ends_streams_and_turns_health_503(nemotron_h_dir: Path) -> None:
    """kill -9 of the engine process: the stream in flight ends with an error naming SIGKILL,
    /health is 503 with the cause, a new request is a 503 engine_stopped, and stop still
    works."""
    server = RunningServer(EngineConfig(model=str(nemotron_h_dir)), ServerSettings(port=0))
    url = server.start()
    pid = server.engine.pid
    assert pid is not None
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            events = _stream_events(client, greedy_body([9, 9], 3000, stream=True),
                                    lambda: os.kill(pid, signal.SIGKILL))
            assert "SIGKILL" in events[-1]["error"]["message"]
            assert events[-1]["error"]["code"] == "engine_stopped"
            health = client.get("/health")
            assert health.status_code == 503 and "SIGKILL" in health.json()["detail"]
            after = client.post("/v1/completions", json=BODY)
            assert after.status_code == 503
            assert after.json()["error"]["code"] == "engine_stopped"
    finally:
        server.stop()
    assert is_gone(pid) and "SIGKILL" in str(server.engine.error)


def test_serve_exits_1_when_its_engine_is_killed(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """`poolscope serve` whose engine process is killed logs the exit, stops by itself with
    exit status 1 and logs server_stopped with reason engine_error naming the signal."""
    log = tmp_path / "serve.jsonl"
    proc, url = start_serve(serve_cmd(nemotron_h_dir, log))
    try:
        assert httpx.post(f"{url}/v1/completions", json=BODY, timeout=60).is_success
        pid, folder = engine_pid(log), engine_folder(proc.pid)
        os.kill(pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == 1
    finally:
        stop_process(proc)
    assert is_gone(pid) and not folder.exists()
    stopped = log_events(log)[-1]
    assert stopped["event"] == "server_stopped" and stopped["reason"] == "engine_error"
    assert "SIGKILL" in stopped["error"]
    exited = [e for e in log_events(log) if e["event"] == "engine_exited"]
    assert [(e["pid"], e["exit"]) for e in exited] == [(pid, "killed by SIGKILL")]


def test_a_killed_server_takes_its_engine_with_it(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """kill -9 of `poolscope serve` leaves no engine process behind, and no socket folder: the
    engine removes it when it sees its parent die."""
    log = tmp_path / "serve.jsonl"
    proc, _ = start_serve(serve_cmd(nemotron_h_dir, log))
    try:
        pid = engine_pid(log)
        folder = engine_folder(proc.pid)
        assert not is_gone(pid) and (folder / "commands").exists()
        kill_process(proc)
    finally:
        stop_process(proc)
    wait_until(lambda: is_gone(pid), timeout=30, what=f"engine process {pid} to end")
    wait_until(lambda: not folder.exists(), timeout=30, what=f"{folder} to be removed")


def test_sigterm_exits_0_and_reaps_the_engine(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """SIGTERM drains, stops the engine process (no orphan) and exits 0."""
    log = tmp_path / "serve.jsonl"
    proc, url = start_serve(serve_cmd(nemotron_h_dir, log))
    try:
        assert httpx.post(f"{url}/v1/completions", json=BODY, timeout=60).is_success
        pid, folder = engine_pid(log), engine_folder(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        stop_process(proc)
    assert is_gone(pid) and not folder.exists()
    assert log_events(log)[-1]["reason"] == "SIGTERM"


def test_ctrl_c_to_the_process_group_drains_and_exits_0(
    nemotron_h_dir: Path, tmp_path: Path
) -> None:
    """SIGINT sent to the whole process group (Ctrl-C in a terminal) does not kill the engine
    under the server: it drains, exits 0 with reason SIGINT, and the engine is gone."""
    log = tmp_path / "serve.jsonl"
    proc, url = start_serve(serve_cmd(nemotron_h_dir, log), process_group=0)
    try:
        assert httpx.post(f"{url}/v1/completions", json=BODY, timeout=60).is_success
        pid, folder = engine_pid(log), engine_folder(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        stop_process(proc)
    assert is_gone(pid) and not folder.exists()
    stopped = log_events(log)[-1]
    assert stopped["reason"] == "SIGINT" and "error" not in stopped


def test_on_leak_raise_exits_non_zero_and_reaps_the_engine(
    nemotron_h_dir: Path, tmp_path: Path
) -> None:
    """A leak under --on-leak raise ends the engine process with the leak's text, and the
    server exits 1 with no engine process left."""
    log = tmp_path / "serve.jsonl"
    proc, url = start_serve(serve_cmd(nemotron_h_dir, log, "--inject-fault", "kv_double_free",
                                      "--mem-check", "busy", "--on-leak", "raise"))
    try:
        pid, folder = engine_pid(log), engine_folder(proc.pid)
        for _ in range(2):  # the second frees its duplicate pages twice
            httpx.post(f"{url}/v1/completions", json=BODY, timeout=60)
        assert proc.wait(timeout=60) == 1
    finally:
        stop_process(proc)
    assert is_gone(pid) and not folder.exists()
    stopped = log_events(log)[-1]
    assert "LeakDetected" in stopped["error"] and "double_free" in stopped["error"]


def test_a_bad_model_directory_is_one_error_line(tmp_path: Path) -> None:
    """A model the engine process cannot load ends `serve` with exit 2 and one line naming
    the problem, from the child's own error."""
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(tmp_path / "missing"),
           "--port", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("poolscope: error:")]
    assert len(lines) == 1 and "does not exist" in lines[0], done.stderr
