"""Telemetry overhead benchmark: decode step time with telemetry off and on, in the layout that
serves: the engine process's `RecordForwarder` keeps each observer record and, after the step,
the records go out in one `StepOutputs` message (the event codec's msgpack encoding, sent on the
engine side of a real `ChildChannel`, a ZeroMQ PUSH socket). A consumer process (started by
`spawn`, stopped and joined here) binds the frontend's `ParentChannel`, decodes each message and
feeds a real `EngineTelemetry` (metrics, JSON logs at the mode's decode log interval: 40, or 1
for `on_every_step`), rendering its registry every second while records arrive. "off" attaches no
observer and sends nothing (in the server the outputs go out in every mode alike, so sending
records alone here charges the whole per-message cost to telemetry: an upper bound).
One engine, one steady decode batch, modes alternated block by block so that drift (growing
context, other processes) hits every mode alike; the overhead is paired per cycle.
"step-side ms" is the engine's telemetry work per step (forwarding plus encode and send); the
frontend's `EngineTelemetry` time per record is reported as information: it is off the step now
(mean in the table; in the details the median, the consumer process's whole CPU time per
record, and the fastest of 3 replays of the records it received into a fresh EngineTelemetry
after the run: on a loaded machine the mean counts the consumer's preemptions).
The engine runs with the torch threads `poolscope serve`'s engine process gets by default
(`engine_process_config`: the physical cores available minus one, which is left to the frontend),
the same for every mode (one engine serves them all); the JSON's details record them
(`engine_torch_threads`; the report's `machine.torch_threads` is this process's setting after
the run, not the engine's).
Targets (issue 20): overhead <= 1 % at the default interval, <= 2 % when logging every step.
A missed target carries a cProfile of that step-side work (top entries in the JSON).

    poolscope bench telemetry [--quick]
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import torch
from prometheus_client import CollectorRegistry, generate_latest

from runtime.bench.profiles import ProfileEntry, as_json, profile_steps, summary
from runtime.bench.report import BenchResult, Spread, Target
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.observer import Record, deliver
from runtime.engine.process import messages as m
from runtime.engine.process.channel import ChildChannel, ParentChannel
from runtime.engine.process.child import engine_process_config
from runtime.engine.process.forwarder import RecordForwarder
from runtime.engine.records import StepRecord
from runtime.engine.telemetry import EngineTelemetry
from runtime.engine.threads import TorchThreads, available_cores
from runtime.model.default_model import ensure_default_model
from runtime.scheduler.sampling_params import SamplingParams
from runtime.server.serve import DEFAULT_MODEL_NAME
from telemetry.logs.logging import LogSettings, configure_logging, reset_logging
from telemetry.metrics.meters import Metrics, MetricsSettings

ON_TARGET_PCT, EVERY_STEP_TARGET_PCT = 1.0, 2.0
DEFAULT_INTERVAL = 40  # ObservabilitySettings' default decode log interval
INTERVALS = {"on": DEFAULT_INTERVAL, "on_every_step": 1}
SCRAPE_PERIOD_S = 1.0
IDLE_POLL_MS = 200  # a consumer with nothing for this long stops scraping (its mode is off)
CONSUMER_TIMEOUT_S = 60.0
REPLAY_PASSES = 3
PROMPT_LEN = 32
MODES = ("off", "on", "on_every_step")
STEP_SIDE_CODE = ("forwarder", "messages", "channel", "zmq", "msgspec")
PROFILE_SCOPE = "record forwarding, encoding and sending"
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


class _TimedForwarder(RecordForwarder):
    """The engine process's real observer, with the time of each step record's forwarding kept."""

    def __init__(self) -> None:
        self.pending: list[m.RecordMsg] = []
        super().__init__(self.pending.append)
        self.spent_s: list[float] = []

    def on_step(self, record: StepRecord) -> None:
        start = time.perf_counter()
        super().on_step(record)
        self.spent_s.append(time.perf_counter() - start)


@dataclass
class _Sender:
    """The engine side of one mode: its forwarder, and a channel whose `flush` sends the step's
    records as `EngineCore.flush` does; the forwarding plus flushing time per step is kept."""

    forwarder: _TimedForwarder
    channel: ChildChannel
    spent_s: list[float] = field(default_factory=list)

    def flush(self) -> None:
        start = time.perf_counter()
        if self.forwarder.pending:
            if not self.channel.send(m.StepOutputs([], list(self.forwarder.pending))):
                raise RuntimeError("the telemetry consumer went away")
            self.forwarder.pending.clear()
        forwarded = self.forwarder.spent_s.pop() if self.forwarder.spent_s else 0.0
        self.spent_s.append(forwarded + time.perf_counter() - start)


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


@dataclass(frozen=True)
class _ConsumerSpec:
    interval: int
    pools: tuple[str, ...]
    cache_pools: tuple[str, ...]
    log_file: Path


def _consume(spec: _ConsumerSpec, pipe: Connection) -> None:
    """The frontend's side, in its own process: sends its channel's addresses on `pipe`, then
    feeds every record to a real EngineTelemetry until `Stopped`; its figures go back on `pipe`."""
    channel = ParentChannel()
    metrics = Metrics(MetricsSettings(model=DEFAULT_MODEL_NAME, pools=spec.pools,
                                      cache_pools=spec.cache_pools))
    observer = EngineTelemetry(metrics, spec.interval)
    scraper = _Scraper(metrics.registry)
    spent_s: list[float] = []
    received: list[Record] = []
    with open(os.devnull, "w") as devnull:
        configure_logging(LogSettings(format="json", file=spec.log_file), devnull)
        pipe.send(channel.addresses)
        cpu_start = time.process_time()
        try:
            while True:
                if not channel.poll(IDLE_POLL_MS):
                    scraper.active.clear()
                    continue
                message = channel.recv()
                if isinstance(message, m.Stopped):
                    break
                scraper.active.set()
                for record in message.records:
                    start = time.perf_counter()
                    deliver(observer, record.record)
                    spent_s.append(time.perf_counter() - start)
                    received.append(record.record)
            cpu_s = time.process_time() - cpu_start
            configure_logging(LogSettings(format="json"), devnull)  # the replay's lines: nowhere
            replay_s = _replay(spec, received)
        finally:
            scraper.close()
            reset_logging()
            metrics.shutdown()
            channel.close()
    pipe.send({"record_s": spent_s, "scrapes_s": scraper.durations_s, "cpu_s": [cpu_s],
               "replay_s": replay_s})


def _replay(spec: _ConsumerSpec, records: list[Record]) -> list[float]:
    """Seconds per record of a fresh EngineTelemetry fed the records this consumer received,
    one figure per pass (`REPLAY_PASSES`): the same work as during the run without the
    engine competing for the cores, so its fastest pass is a steadier figure than the mean."""
    metrics = Metrics(MetricsSettings(model=DEFAULT_MODEL_NAME, pools=spec.pools,
                                      cache_pools=spec.cache_pools))
    observer = EngineTelemetry(metrics, spec.interval)
    passes = []
    try:
        for _ in range(REPLAY_PASSES if records else 0):
            start = time.perf_counter()
            for record in records:
                deliver(observer, record)
            passes.append((time.perf_counter() - start) / len(records))
    finally:
        metrics.shutdown()
    return passes


@dataclass
class _Consumer:
    process: multiprocessing.process.BaseProcess
    pipe: Connection
    sender: _Sender

    @classmethod
    def start(cls, spec: _ConsumerSpec) -> _Consumer:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        process = ctx.Process(target=_consume, args=(spec, theirs), name="bench-frontend")
        process.start()
        if not ours.poll(CONSUMER_TIMEOUT_S):
            process.kill()
            raise RuntimeError("the telemetry consumer did not start")
        channel = ChildChannel(ours.recv())
        _wait_connected(channel)
        return cls(process, ours, _Sender(_TimedForwarder(), channel))

    def stop(self) -> dict[str, list[float]]:
        """Asks the consumer to end, joins it and returns its figures (empty if it failed)."""
        self.sender.channel.send(m.Stopped(None))
        figures = self.pipe.recv() if self.pipe.poll(CONSUMER_TIMEOUT_S) else {}
        self.process.join(CONSUMER_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.sender.channel.close()
        return figures or {"record_s": [], "scrapes_s": [], "cpu_s": [], "replay_s": []}


def _wait_connected(channel: ChildChannel) -> None:
    """The connect is asynchronous: an empty message goes through once the peer is there."""
    if not channel.send_once_connected(m.StepOutputs([]), CONSUMER_TIMEOUT_S):
        raise RuntimeError("could not reach the telemetry consumer")


def _engine(cache: Path, sizes: _Sizes) -> Engine:
    """Configured as the engine process runs (its torch threads leave a core to the frontend)."""
    context = PROMPT_LEN + sizes.max_tokens + 8
    config = engine_process_config(EngineConfig(model=str(ensure_default_model(cache)),
                          max_running_requests=sizes.num_reqs,
                          full_tokens=sizes.num_reqs * context,
                          swa_tokens=sizes.num_reqs * SWA_TOKENS_PER_REQ))
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


def _step_and_flush(engine: Engine, sender: _Sender | None) -> bool:
    is_busy = engine.step()
    if sender is not None:
        sender.flush()
    return is_busy


def _block(engine: Engine, sender: _Sender | None, num_steps: int, num_reqs: int) -> list[float]:
    samples = []
    for _ in range(num_steps):
        start = time.perf_counter()
        if not _step_and_flush(engine, sender):
            raise RuntimeError("the decode batch ended early")
        samples.append(time.perf_counter() - start)
    if len(engine.scheduler.running) != num_reqs:  # every sample must be a full decode batch
        raise RuntimeError(f"{len(engine.scheduler.running)} of {num_reqs} requests running")
    return samples


def _swap(engine: Engine, sender: _Sender | None) -> None:
    engine.observers.clear()
    if sender is not None:
        engine.observers.append(sender.forwarder)


def profile_on_steps(engine: Engine, sender: _Sender, num_steps: int) -> list[ProfileEntry]:
    """cProfile of `num_steps` decode steps with records forwarded and sent (for a missed
    target): the step-side telemetry entries."""
    _swap(engine, sender)
    try:
        return profile_steps(lambda: _step_and_flush(engine, sender), num_steps,
                             within=STEP_SIDE_CODE)
    finally:
        _swap(engine, None)


def _start_consumers(engine: Engine, folder: Path) -> dict[str, _Consumer]:
    consumers: dict[str, _Consumer] = {}
    for mode, interval in INTERVALS.items():
        spec = _ConsumerSpec(interval, tuple(engine.last_stats.pools),
                             tuple(engine.mm.cache.components), folder / f"{mode}.jsonl")
        consumers[mode] = _Consumer.start(spec)
    return consumers


def _measure(engine: Engine, sizes: _Sizes, consumers: dict[str, _Consumer]) -> dict:
    """Alternates the modes block by block; per mode: step samples and per-cycle medians."""
    senders = {"off": None} | {mode: c.sender for mode, c in consumers.items()}
    steps: dict[str, list[float]] = {mode: [] for mode in MODES}
    block_medians: dict[str, list[float]] = {mode: [] for mode in MODES}
    order: list[str] = []
    deadline = time.monotonic() + sizes.budget_s
    try:
        for _ in range(sizes.max_cycles):
            for mode in MODES:
                _swap(engine, senders[mode])
                samples = _block(engine, senders[mode], sizes.block_steps, sizes.num_reqs)
                steps[mode] += samples
                block_medians[mode].append(statistics.median(samples))
                order.append(mode)
            if time.monotonic() > deadline:
                break
    finally:
        _swap(engine, None)
    return {"steps": steps, "block_medians": block_medians, "senders": senders, "order": order}


def _paired_overhead_pct(block_medians: dict[str, list[float]], mode: str) -> float:
    """Median over cycles of (mode block / off block of the same cycle - 1), in percent."""
    ratios = [on / off for on, off in zip(block_medians[mode], block_medians["off"], strict=True)]
    return (statistics.median(ratios) - 1.0) * 100


def _mean_ms(values: list[float]) -> float:
    return statistics.mean(values) * 1e3 if values else 0.0


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3 if values else 0.0


def _cpu_ms_per_record(figures: dict[str, list[float]]) -> float:
    """The consumer process's CPU time (receiving, decoding, EngineTelemetry, scrapes, idle
    polls) per record: what it takes from the cores the engine runs on."""
    records, cpu = figures["record_s"], figures["cpu_s"]
    return cpu[0] / len(records) * 1e3 if records and cpu else 0.0


def _rows(data: dict, frontend: dict[str, dict], sizes: _Sizes) -> list[dict[str, object]]:
    off_median = statistics.median(data["steps"]["off"])
    rows = []
    for mode in MODES:
        spread = Spread.of(data["steps"][mode])
        sender = data["senders"][mode]
        step_side_ms = _mean_ms(sender.spent_s) if sender else 0.0
        overhead = 0.0 if mode == "off" else _paired_overhead_pct(data["block_medians"], mode)
        record_ms = _mean_ms(frontend[mode]["record_s"]) if mode in frontend else 0.0
        rows.append({
            "mode": mode, "steps": spread.n, "batch": sizes.num_reqs,
            "median ms": spread.median * 1e3, "mean ms": statistics.mean(data["steps"][mode]) * 1e3,
            "min ms": spread.min * 1e3, "max ms": spread.max * 1e3, "overhead %": overhead,
            "step-side ms": step_side_ms,
            "step-side % of off": step_side_ms / (off_median * 1e3) * 100,
            "frontend ms/record": record_ms,
        })
    return rows


def _run_engine(sizes: _Sizes, folder: Path) -> tuple[dict, dict[str, dict], list[ProfileEntry]]:
    """Measures, then stops the consumers; profiles the step side when a target is missed."""
    engine = _engine(folder, sizes)
    _start_decode(engine, sizes)
    consumers = _start_consumers(engine, folder)
    frontend: dict[str, dict] = {}
    try:
        data = _measure(engine, sizes, consumers)
        data["threads"] = engine.torch_threads
        overheads = {mode: _paired_overhead_pct(data["block_medians"], mode) for mode in INTERVALS}
        missed = (overheads["on"] > ON_TARGET_PCT
                  or overheads["on_every_step"] > EVERY_STEP_TARGET_PCT)
        sender = consumers["on_every_step"].sender
        profile = profile_on_steps(engine, sender, PROFILE_STEPS) if missed else []
    finally:
        for mode, consumer in consumers.items():
            frontend[mode] = consumer.stop()
    return data, frontend, profile


def run(quick: bool) -> BenchResult:
    sizes = _Sizes(4, 4, 2, 2, 60.0) if quick else _Sizes(32, 20, 40, 20, 100.0)
    threads = torch.get_num_threads()  # the engine sets its own; later benchmarks get these back
    with tempfile.TemporaryDirectory(prefix="poolscope-bench-") as tmp:
        try:
            data, frontend, profile = _run_engine(sizes, Path(tmp))
        finally:
            torch.set_num_threads(threads)
        num_log_lines = sum(len((Path(tmp) / f"{mode}.jsonl").read_text().splitlines())
                            for mode in INTERVALS)
    rows = _rows(data, frontend, sizes)
    by_mode = {row["mode"]: row for row in rows}
    scrapes = [s for figures in frontend.values() for s in figures["scrapes_s"]]
    scrape_ms = statistics.median(scrapes) * 1e3 if scrapes else 0.0
    details = {"num_scrapes": len(scrapes), "scrape_median_ms": scrape_ms,
               "num_log_lines": num_log_lines, "block_steps": sizes.block_steps,
               "step_side_median_ms": {mode: statistics.median(c.spent_s) * 1e3
                                       for mode, c in data["senders"].items() if c},
               "num_records": {mode: len(f["record_s"]) for mode, f in frontend.items()},
               "frontend_record_median_ms": {mode: _median_ms(f["record_s"])
                                             for mode, f in frontend.items()},
               "frontend_cpu_ms_per_record": {mode: _cpu_ms_per_record(f)
                                              for mode, f in frontend.items()},
               "frontend_replay_ms_per_record": {mode: min(f["replay_s"], default=0.0) * 1e3
                                                 for mode, f in frontend.items()},
               "num_cycles": len(data["block_medians"]["off"]), "block_order": data["order"],
               "load_avg_1m": os.getloadavg()[0],
               "engine_torch_threads": _threads_json(data["threads"]),
               "block_medians_ms": {mode: [round(v * 1e3, 3) for v in vs]
                                    for mode, vs in data["block_medians"].items()},
               "profile_step_side_every_step": as_json(profile)}
    engine_threads = data["threads"].intra_op
    targets = [_target(by_mode, "on", ON_TARGET_PCT, scrape_ms, profile, engine_threads),
               _target(by_mode, "on_every_step", EVERY_STEP_TARGET_PCT, scrape_ms, profile,
                       engine_threads)]
    columns = ["mode", "steps", "batch", "median ms", "mean ms", "min ms", "max ms",
               "overhead %", "step-side ms", "step-side % of off", "frontend ms/record"]
    return BenchResult("telemetry", columns, rows, targets, details, is_quick=quick)


def _threads_json(threads: TorchThreads) -> dict[str, object]:
    """What the engine ran with: `engine_process_config` of a config without `torch_threads`,
    as `poolscope serve` without `--torch-threads` (physical cores available minus one)."""
    return {"intra_op": threads.intra_op, "inter_op": threads.inter_op,
            "physical_cores_available": available_cores(),
            "set_by": "engine_process_config (serve's default)"}


def _target(by_mode: dict[str, dict], mode: str, limit: float, scrape_ms: float,
            profile: list[ProfileEntry], engine_threads: int) -> Target:
    row = by_mode[mode]
    note = (f"engine on {engine_threads} torch intra-op thread(s), as serve's engine process; "
            f"forwarding + encode + send cost {row['step-side ms']:.3g} ms/step "
            f"({row['step-side % of off']:.2g} % of an off step); off the step, in the "
            f"frontend process: EngineTelemetry {row['frontend ms/record']:.3g} ms/record, one "
            f"scrape {scrape_ms:.3g} ms per second; the rest is step-time noise from other "
            f"processes, 1-min load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            + (f"; {summary(profile, scope=PROFILE_SCOPE)}" if profile else ""))
    return Target(f"{mode} decode step overhead %", row["overhead %"], "<=", limit, note)
