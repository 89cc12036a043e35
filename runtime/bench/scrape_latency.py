"""Scrape benchmark: latency of `GET /metrics` on a real server (uvicorn on loopback, the default
model) while it decodes 64 streamed requests sent from a child process; sequential scrapes, timed
on the client.
Targets (issue 20): p50 <= 3 ms, p99 <= 10 ms.

    poolscope bench scrape [--quick]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from runtime.bench.profiles import ProfileEntry, as_json, profile_steps, summary
from runtime.bench.report import BenchResult, Target, timed
from runtime.engine.config import EngineConfig
from runtime.loadgen.report import percentile
from runtime.model.default_model import ensure_default_model
from runtime.server.app import ServerSettings
from runtime.server.serve import RunningServer
from telemetry import catalog
from telemetry.logs.logging import LogSettings, configure_logging, reset_logging
from telemetry.metrics.exposition import exposition

P50_TARGET_MS, P99_TARGET_MS = 3.0, 10.0
PROMPT_LEN = 24
START_TIMEOUT_S = 120.0
RENDER_PROFILES = 20


@dataclass(frozen=True)
class _Sizes:
    num_reqs: int
    max_tokens: int
    num_warmup: int
    num_scrapes: int


class _Load:
    """`num_reqs` streamed completions from a child process (as from real clients: their
    chunk handling does not compete with the server for its GIL); `close` ends the process,
    which disconnects them and makes the server abort them."""

    def __init__(self, url: str, sizes: _Sizes) -> None:
        context = multiprocessing.get_context("spawn")
        self._chunks = context.Value("q", 0)
        self._process = context.Process(target=_load_main, args=(url, sizes, self._chunks),
                                        name="bench-load", daemon=True)
        self._process.start()

    @property
    def num_chunks(self) -> int:
        return int(self._chunks.value)

    def close(self) -> None:
        self._process.terminate()
        self._process.join(30)


def _load_main(url: str, sizes: _Sizes, chunks: Synchronized) -> None:
    asyncio.run(_all(url, sizes, chunks))


async def _all(url: str, sizes: _Sizes, chunks: Synchronized) -> None:
    limits = httpx.Limits(max_connections=sizes.num_reqs + 4)
    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits) as client:
        await asyncio.gather(*(_one(client, i, sizes, chunks) for i in range(sizes.num_reqs)))


async def _one(client: httpx.AsyncClient, i: int, sizes: _Sizes, chunks: Synchronized) -> None:
    prompt = [5 + (i + j) % 200 for j in range(PROMPT_LEN)]
    body = {"prompt": prompt, "stream": True, "max_tokens": sizes.max_tokens, "temperature": 0,
            "ignore_eos": True}
    async with client.stream("POST", "/v1/completions", json=body) as response:
        async for _line in response.aiter_lines():
            chunks.value += 1  # NOTE: one writer, no lock needed


def _num_running(text: str) -> float:
    name = catalog.REQUESTS_RUNNING.prometheus_name
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise RuntimeError(f"{name} is missing from /metrics")


def _wait_running(client: httpx.Client, num_reqs: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while _num_running(client.get("/metrics").text) < num_reqs:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{num_reqs} requests were not running after {START_TIMEOUT_S} s")
        time.sleep(0.1)


def _scrapes(client: httpx.Client, sizes: _Sizes) -> tuple[list[float], list[str], set[int]]:
    """Seconds per sequential GET /metrics (after warm-up), the bodies, the statuses."""
    for _ in range(sizes.num_warmup):
        client.get("/metrics")
    seconds, bodies, statuses = [], [], set()
    for _ in range(sizes.num_scrapes):
        start = time.perf_counter()
        response = client.get("/metrics")
        seconds.append(time.perf_counter() - start)
        bodies.append(response.text)
        statuses.add(response.status_code)
    return seconds, bodies, statuses


def _engine(cache: Path, sizes: _Sizes) -> EngineConfig:
    context = PROMPT_LEN + sizes.max_tokens + 8
    return EngineConfig(model=str(ensure_default_model(cache)),
                        max_running_requests=sizes.num_reqs,
                        full_tokens=sizes.num_reqs * context,
                        swa_tokens=sizes.num_reqs * 256)


def _measure(config: EngineConfig, sizes: _Sizes) -> dict[str, object]:
    server = RunningServer(config, ServerSettings(host="127.0.0.1", port=0))
    url = server.start()
    load = _Load(url, sizes)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            _wait_running(client, sizes.num_reqs)
            seconds, bodies, statuses = _scrapes(client, sizes)
            render_s, render = _render(server)
    finally:
        load.close()
        server.stop()
    running = [_num_running(body) for body in bodies]
    return {"seconds": seconds, "statuses": statuses, "running": running,
            "body_bytes": len(bodies[-1].encode()), "num_chunks": load.num_chunks,
            "render": render, "render_s": render_s}


def _render(server: RunningServer) -> tuple[float, list[ProfileEntry]]:
    """Median seconds of rendering the server's registry as `GET /metrics` does, on this thread
    (a scrape without the HTTP round trip and the wait for the GIL), and a cProfile of it,
    while the load runs."""
    registry = server.state.registry
    seconds = statistics.median(timed(lambda: exposition(registry), 1, RENDER_PROFILES))
    return seconds, profile_steps(lambda: exposition(registry), RENDER_PROFILES)


def run(quick: bool) -> BenchResult:
    sizes = _Sizes(4, 256, 2, 10) if quick else _Sizes(64, 1024, 20, 500)
    with tempfile.TemporaryDirectory(prefix="poolscope-bench-") as tmp, \
            open(os.devnull, "w") as devnull:
        configure_logging(LogSettings(format="json", file=Path(tmp) / "server.jsonl"), devnull)
        try:
            data = _measure(_engine(Path(tmp), sizes), sizes)
        finally:
            reset_logging()
    ms = [s * 1e3 for s in data["seconds"]]
    row = {"scrapes": len(ms), "running (min)": min(data["running"]),
           "running (max)": max(data["running"]), "p50 ms": percentile(ms, 50),
           "p90 ms": percentile(ms, 90), "p99 ms": percentile(ms, 99), "max ms": max(ms),
           "mean ms": statistics.mean(ms), "status": ",".join(map(str, sorted(data["statuses"]))),
           "body bytes": data["body_bytes"]}
    render, render_ms = data["render"], data["render_s"] * 1e3
    note = (
        "the HTTP thread waits for the GIL while the engine thread runs the Python side of a "
        f"decode step, on top of the OTel collect + render (about {render_ms:.2g} ms alone, "
        f"{summary(render, scope='one render of the registry')}); "
        "details.load_avg_1m says how busy the machine was"
    )
    running = f"{sizes.num_reqs} running"
    targets = [Target(f"/metrics p50 ms, {running}", row["p50 ms"], "<=", P50_TARGET_MS, note),
               Target(f"/metrics p99 ms, {running}", row["p99 ms"], "<=", P99_TARGET_MS, note)]
    details = {"num_requests": sizes.num_reqs, "num_warmup": sizes.num_warmup,
               "stream_chunks": data["num_chunks"], "load_avg_1m": os.getloadavg()[0],
               "render_median_ms": render_ms, "render_profile": as_json(render)}
    return BenchResult("scrape", list(row), [row], targets, details, is_quick=quick)
