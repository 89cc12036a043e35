"""Loadgen latency benchmark: the README's loadgen run against a real `poolscope serve` process,
reporting TTFT and inter-token latency p50/p99 (the before/after figure of the engine process
split, issue 20).

    poolscope bench loadgen [--quick]

It starts `poolscope serve` (built-in default model) on 127.0.0.1 at a free port, waits for
`/health`, then runs the README's command `poolscope loadgen --url URL --concurrency 2
--duration 5 --prompt-len 32` (plus `--json`, `--no-progress`) `repeats` times as separate
client processes, and stops the server with SIGTERM. Both sides are separate processes talking
HTTP, so whatever runs inside `serve` (one process or two) is measured the same way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from runtime.bench.report import BenchResult

START_TIMEOUT_S = 180.0  # the first serve may create the default model's checkpoint
README_ARGS = ("--concurrency", "2", "--duration", "5", "--prompt-len", "32")


@dataclass(frozen=True)
class _Sizes:
    loadgen_args: tuple[str, ...]
    repeats: int


FULL = _Sizes(README_ARGS, 3)
QUICK = _Sizes(("--concurrency", "2", "--duration", "1", "--prompt-len", "8",
                "--output-len", "4"), 1)


def poolscope_command() -> list[str]:
    """The `poolscope` console script beside this interpreter, else `python -m`."""
    script = Path(sys.executable).parent / "poolscope"
    return [str(script)] if script.exists() else [sys.executable, "-m", "runtime.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`poolscope serve` as a child process, its log lines in a file."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [*poolscope_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"poolscope serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"poolscope serve not ready after {START_TIMEOUT_S} s")

    def stop(self) -> int:
        """SIGTERM (drain and exit), then SIGKILL if it hangs; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode


def run_loadgen(url: str, args: tuple[str, ...], out: Path) -> dict:
    """One loadgen run (its own process); its JSON report."""
    command = [*poolscope_command(), "loadgen", "--url", url, *args, "--json", str(out),
               "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen exited {done.returncode}: {done.stdout[-500:]}"
                           f"{done.stderr[-500:]}")
    return json.loads(out.read_text())


def _row(i: int, report: dict) -> dict[str, object]:
    ttft, itl = report["ttft_ms"], report["itl_ms"]
    return {"run": i, "requests ok": report["num_requests_ok"],
            "failed": report["num_requests_failed"],
            "output tok/s": report["output_token_throughput"], "TTFT p50 ms": ttft["p50"],
            "TTFT p99 ms": ttft["p99"], "ITL p50 ms": itl["p50"], "ITL p99 ms": itl["p99"],
            "E2E p50 ms": report["e2e_ms"]["p50"]}


def _median_row(rows: list[dict[str, object]]) -> dict[str, object]:
    keys = [k for k in rows[0] if k != "run"]
    return {"run": "median", **{k: statistics.median(float(r[k]) for r in rows) for k in keys}}


def run(quick: bool) -> BenchResult:
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="poolscope-loadgen-") as tmp:
        server = Server(Path(tmp) / "serve.log")
        try:
            server.wait_ready()
            reports = [run_loadgen(server.url, sizes.loadgen_args, Path(tmp) / f"run{i}.json")
                       for i in range(sizes.repeats)]
        finally:
            exit_code = server.stop()
    rows = [_row(i, r) for i, r in enumerate(reports)]
    rows.append(_median_row(rows))
    command = " ".join(["poolscope", "loadgen", "--url", "URL", *sizes.loadgen_args])
    details = {"command": command, "server": "poolscope serve --host 127.0.0.1 (default model)",
               "server_exit_code": exit_code, "load_avg_1m": os.getloadavg()[0],
               "reports": reports}
    return BenchResult("loadgen", list(rows[0]), rows, [], details, is_quick=quick)
