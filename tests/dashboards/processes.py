"""Real Prometheus (and Alertmanager) processes on loopback for end-to-end tests: started with a
free port and a temporary data folder, stopped by PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Until `url` answers 200; fails early if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer in {timeout} s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process by its PID, SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def _server(name: str, args: list[str], port: int, data: Path) -> Iterator[str]:
    """Runs the installed binary `name` with `args`, logging to `data/<name>.log`; yields its
    base URL once `/-/ready` answers, and stops it by PID on exit."""
    binary = shutil.which(name)
    assert binary, f"{name} is not installed (.ci/run installs it)"
    log_path = data / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([binary, *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_http(f"{url}/-/ready", proc=proc)
        except (RuntimeError, TimeoutError) as e:
            raise AssertionError(f"{name} did not start:\n{log_path.read_text()}") from e
        yield url
    finally:
        stop(proc)


def prometheus(config: Path, data: Path) -> AbstractContextManager[str]:
    """Debian's `prometheus` serving `config` on a free loopback port; yields its base URL."""
    port = free_port()
    args = [f"--config.file={config}", f"--storage.tsdb.path={data / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]  # fmt: skip
    return _server("prometheus", args, port, data)


def alertmanager(config: Path, data: Path) -> AbstractContextManager[str]:
    """Debian's `prometheus-alertmanager` with `config` on a free loopback port, gossip off;
    yields its base URL."""
    port = free_port()
    args = [f"--config.file={config}", f"--storage.path={data / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            "--log.level=warn"]  # fmt: skip
    return _server("prometheus-alertmanager", args, port, data)
