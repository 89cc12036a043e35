"""Telemetry overhead benchmark: decode step time with telemetry off, fully on (metrics, JSON logs
at the default decode log interval, the Prometheus registry scraped every second) and on with a
decode line every step: one engine, one steady decode batch, modes alternated block by block so
that drift (growing context, other processes) hits every mode alike.
Targets (issue 20): overhead <= 1 % at the default interval, <= 2 % when logging every step.
A missed target carries a cProfile of the telemetry observer's `on_step` (top entries in the JSON).

Seam for the engine/frontend process split: `_TimedTelemetry` is what telemetry costs the engine's
step today (the observer runs inside the step). When the engine process forwards one record per
step instead, time that forwarding in its place (the step-side cost) and keep the modes.

    poolscope bench telemetry [--quick]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from runtime.bench.profiles import ProfileEntry, as_json, profile_steps, summary
from runtime.bench.report import BenchResult, Spread, Target
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.records import StepRecord
from runtime.engine.telemetry import EngineTelemetry
from runtime.model.default_model import ensure_default_model
from runtime.scheduler.sampling_params import SamplingParams
from runtime.server.serve import DEFAULT_MODEL_NAME
from telemetry.logs.logging import LogSettings, configure_logging, reset_logging
from telemetry.metrics.meters import Metrics, MetricsSettings

ON_TARGET_PCT, EVERY_STEP_TARGET_PCT = 1.0, 2.0
DEFAULT_INTERVAL = 40  # ObservabilitySettings' default decode log interval
SCRAPE_PERIOD_S = 1.0
PROMPT_LEN = 32
MODES = ("off", "on", "on_every_step")
TELEMETRY_CODE = ("telemetry", "opentelemetry", "structlog", "logging")
PROFILE_SCOPE = "telemetry code and the calls it makes"
PROFILE_STEPS = 5  # within the requests' spare tokens (max_tokens has 8 beyond the cycles)
SWA_TOKENS_PER_REQ = 256  # the window (64) plus a prompt: out-of-window tokens are freed


@dataclass(frozen=True)
class _Sizes:
    num_reqs: int
    block_steps: int
    max_cycles: int
    warmup_steps: int
    budget_s: float  # no new cycle starts after this much measuring (the machine may be busy)

    @property
    def max_tokens(self) -> int:
        return self.warmup_steps + self.max_cycles * len(MODES) * self.block_steps + 8


class _TimedTelemetry(EngineTelemetry):
    """The real observer, with the time of each `on_step` kept (what telemetry adds per step)."""

    def __init__(self, metrics: Metrics, decode_log_interval: int) -> None:
        super().__init__(metrics, decode_log_interval)
        self.spent_s: list[float] = []

    def on_step(self, record: StepRecord) -> None:
        start = time.perf_counter()
        super().on_step(record)
        self.spent_s.append(time.perf_counter() - start)


@dataclass
class _Scraper:
    """A thread rendering the registry's exposition (what GET /metrics serves) every period,
    while `active` is set."""

    registry: CollectorRegistry
    active: threading.Event = field(default_factory=threading.Event)
    durations_s: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-scraper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.active.wait(0.05):
                continue
            start = time.perf_counter()
            generate_latest(self.registry)
            self.durations_s.append(time.perf_counter() - start)
            self._stop.wait(SCRAPE_PERIOD_S)

    def close(self) -> None:
        self._stop.set()
        self.active.set()
        self._thread.join(5)


def _engine(cache: Path, sizes: _Sizes) -> Engine:
    context = PROMPT_LEN + sizes.max_tokens + 8
    config = EngineConfig(model=str(ensure_default_model(cache)),
                          max_running_requests=sizes.num_reqs,
                          full_tokens=sizes.num_reqs * context,
                          swa_tokens=sizes.num_reqs * SWA_TOKENS_PER_REQ)
    return Engine.from_config(config)


def _start_decode(engine: Engine, sizes: _Sizes) -> None:
    """Admits the batch and steps until every request decodes, plus the warm-up steps."""
    params = SamplingParams(max_tokens=sizes.max_tokens, temperature=0, ignore_eos=True)
    for i in range(sizes.num_reqs):
        engine.add_request([5 + (i + j) % 200 for j in range(PROMPT_LEN)], params)
    while engine.scheduler.waiting or any(r.is_prefilling for r in engine.scheduler.running):
        engine.step()
    for _ in range(sizes.warmup_steps):
        engine.step()


def _block(engine: Engine, num_steps: int, num_reqs: int) -> list[float]:
    samples = []
    for _ in range(num_steps):
        start = time.perf_counter()
        if not engine.step():
            raise RuntimeError("the decode batch ended early")
        samples.append(time.perf_counter() - start)
    if len(engine.scheduler.running) != num_reqs:  # every sample must be a full decode batch
        raise RuntimeError(f"{len(engine.scheduler.running)} of {num_reqs} requests running")
    return samples


def _swap(engine: Engine, observer: EngineTelemetry | None) -> None:
    engine.observers.clear()
    if observer is not None:
        engine.observers.append(observer)


def _metrics(engine: Engine) -> Metrics:
    return Metrics(MetricsSettings(model=DEFAULT_MODEL_NAME, pools=tuple(engine.last_stats.pools),
                                   cache_pools=tuple(engine.mm.cache.components)))


def profile_on_steps(engine: Engine, num_steps: int, log_file: Path) -> list[ProfileEntry]:
    """cProfile of `num_steps` decode steps with telemetry on and a log line every step: the
    observer's entries beside the step's own (for a missed target)."""
    metrics = _metrics(engine)
    with open(os.devnull, "w") as devnull:
        configure_logging(LogSettings(format="json", file=log_file), devnull)
        _swap(engine, EngineTelemetry(metrics, 1))
        try:
            return profile_steps(engine.step, num_steps, within=TELEMETRY_CODE)
        finally:
            _swap(engine, None)
            reset_logging()
            metrics.shutdown()


def _measure(engine: Engine, sizes: _Sizes, log_file: Path) -> dict[str, object]:
    """Alternates the modes block by block; per mode: step samples and per-cycle medians."""
    metrics = _metrics(engine)
    observers = {"off": None, "on": _TimedTelemetry(metrics, DEFAULT_INTERVAL),
                 "on_every_step": _TimedTelemetry(metrics, 1)}
    steps: dict[str, list[float]] = {m: [] for m in MODES}
    block_medians: dict[str, list[float]] = {m: [] for m in MODES}
    scraper = _Scraper(metrics.registry)
    with open(os.devnull, "w") as devnull:
        configure_logging(LogSettings(format="json", file=log_file), devnull)
        try:
            deadline = time.monotonic() + sizes.budget_s
            for _ in range(sizes.max_cycles):
                for mode in MODES:
                    _swap(engine, observers[mode])
                    if mode == "off":
                        scraper.active.clear()
                    else:
                        scraper.active.set()
                    samples = _block(engine, sizes.block_steps, sizes.num_reqs)
                    steps[mode] += samples
                    block_medians[mode].append(statistics.median(samples))
                if time.monotonic() > deadline:
                    break
        finally:
            scraper.close()
            _swap(engine, None)
            reset_logging()
            metrics.shutdown()
    return {"steps": steps, "block_medians": block_medians, "observers": observers,
            "scrapes": scraper.durations_s}


def _paired_overhead_pct(block_medians: dict[str, list[float]], mode: str) -> float:
    """Median over cycles of (mode block / off block of the same cycle - 1), in percent."""
    ratios = [on / off for on, off in zip(block_medians[mode], block_medians["off"], strict=True)]
    return (statistics.median(ratios) - 1.0) * 100


def _rows(data: dict, sizes: _Sizes) -> list[dict[str, object]]:
    off_median = statistics.median(data["steps"]["off"])
    rows = []
    for mode in MODES:
        spread = Spread.of(data["steps"][mode])
        observer = data["observers"][mode]
        on_step_ms = statistics.mean(observer.spent_s) * 1e3 if observer else 0.0
        overhead = 0.0 if mode == "off" else _paired_overhead_pct(data["block_medians"], mode)
        rows.append({
            "mode": mode, "steps": spread.n, "batch": sizes.num_reqs,
            "median ms": spread.median * 1e3, "mean ms": statistics.mean(data["steps"][mode]) * 1e3,
            "min ms": spread.min * 1e3, "max ms": spread.max * 1e3, "overhead %": overhead,
            "on_step ms": on_step_ms, "on_step % of off": on_step_ms / (off_median * 1e3) * 100,
        })
    return rows


def run(quick: bool) -> BenchResult:
    sizes = _Sizes(4, 6, 1, 2, 0.0) if quick else _Sizes(32, 20, 40, 20, 100.0)
    with tempfile.TemporaryDirectory(prefix="poolscope-bench-") as tmp:
        engine = _engine(Path(tmp), sizes)
        _start_decode(engine, sizes)
        log_file = Path(tmp) / "telemetry.jsonl"
        data = _measure(engine, sizes, log_file)
        num_log_lines = len(log_file.read_text().splitlines())
        rows = _rows(data, sizes)
        by_mode = {row["mode"]: row for row in rows}
        missed = (by_mode["on"]["overhead %"] > ON_TARGET_PCT
                  or by_mode["on_every_step"]["overhead %"] > EVERY_STEP_TARGET_PCT)
        profile = profile_on_steps(engine, PROFILE_STEPS, log_file) if missed else []
    scrape_ms = statistics.median(data["scrapes"]) * 1e3 if data["scrapes"] else 0.0
    details = {"num_scrapes": len(data["scrapes"]), "scrape_median_ms": scrape_ms,
               "num_log_lines": num_log_lines, "block_steps": sizes.block_steps,
               "num_cycles": len(data["block_medians"]["off"]), "load_avg_1m": os.getloadavg()[0],
               "block_medians_ms": {m: [round(v * 1e3, 3) for v in vs]
                                    for m, vs in data["block_medians"].items()},
               "profile_telemetry_every_step": as_json(profile)}
    targets = [_target(by_mode, "on", ON_TARGET_PCT, scrape_ms, profile),
               _target(by_mode, "on_every_step", EVERY_STEP_TARGET_PCT, scrape_ms, profile)]
    columns = ["mode", "steps", "batch", "median ms", "mean ms", "min ms", "max ms",
               "overhead %", "on_step ms", "on_step % of off"]
    return BenchResult("telemetry", columns, rows, targets, details, is_quick=quick)


def _target(by_mode: dict[str, dict], mode: str, limit: float, scrape_ms: float,
            profile: list[ProfileEntry]) -> Target:
    row = by_mode[mode]
    note = (f"on_step itself costs {row['on_step ms']:.3g} ms/step "
            f"({row['on_step % of off']:.2g} % of an off step); one scrape {scrape_ms:.3g} ms "
            f"per second on another thread; the rest is step-time noise from other processes, "
            f"1-min load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            + (f"; {summary(profile, scope=PROFILE_SCOPE)}" if profile else ""))
    return Target(f"{mode} decode step overhead %", row["overhead %"], "<=", limit, note)
