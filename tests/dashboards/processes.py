"""Real Prometheus (and Alertmanager) processes on loopback for end-to-end tests: started with a
free port and a temporary data folder, stopped by PID; and loopback servers of fixed `/metrics`
texts for them to scrape."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support import free_port, stop_process


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
        stop_process(proc)


@contextmanager
def log_exporter(
    log: Path, port: int, *flags: str, timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """`poolscope logs export LOG --port PORT FLAGS...` in a subprocess; yields it once its
    `/metrics` answers (within `timeout` s), and stops it by PID on exit."""
    argv = [sys.executable, "-m", "runtime.cli", "logs", "export", str(log), "--port", str(port),
            *flags]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", timeout=timeout, proc=proc)
        yield proc
    finally:
        stop_process(proc)


def prometheus(config: Path, data: Path) -> AbstractContextManager[str]:
    """Debian's `prometheus` serving `config` on a free loopback port; yields its base URL."""
    port = free_port()
    args = [f"--config.file={config}", f"--storage.tsdb.path={data / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    return _server("prometheus", args, port, data)


def alertmanager(config: Path, data: Path) -> AbstractContextManager[str]:
    """Debian's `prometheus-alertmanager` with `config` on a free loopback port, gossip off;
    yields its base URL."""
    port = free_port()
    args = [f"--config.file={config}", f"--storage.path={data / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            "--log.level=warn"]
    return _server("prometheus-alertmanager", args, port, data)


@contextmanager
def serve_metrics(texts: list[str]) -> Iterator[list[str]]:
    """One loopback HTTP server per text, each answering `/metrics` with it in Prometheus'
    text format; yields their `host:port` targets, in order, and shuts them down on exit."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(t.encode())) for t in texts]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _handler(body: bytes) -> type[BaseHTTPRequestHandler]:
    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # quiet: a scrape a second per target
            pass

    return Metrics
