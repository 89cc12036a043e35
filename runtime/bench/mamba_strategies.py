"""Mamba strategies benchmark: with one fixed mamba pool capacity, `extra_buffer` (1 working + 2
track slots per running request) against `extra_buffer_lazy` (1 working + 1 track, a second only
across a decode track boundary) on a workload that saturates the pool.

Reports per strategy: peak concurrently running requests, mean mamba slots per running request
(over steps with at least one running), prefix-cache hit rate (cached / prompt tokens) and lazy
track-allocation failures. The first wave arrives all at once, so nothing in it is reused (hit
rate 0). The second wave is the next turn of every first-wave request (the multi-turn case): its
prompt + its output + a new user suffix, sent to the same engine (same pool size) after the first
wave finished, latest-finished conversation first. A continuation resumes from the deepest track
snapshot its first turn left in the tree, so its hit rate and prefill tokens saved (prompt tokens
served from the cache) show what each strategy's snapshots buy (own-turn hits: resumed past the
shared prefix, from the turn's own state). The order is the prefix cache's own (LRU): the tree
keeps the latest finishers' states, and each admission evicts states to make room, so the
conversations queued first are those whose states are still there.
Targets (issue 7): lazy admits >= 1.4x the peak concurrency, with <= 2.1 slots per running
request (extra_buffer holds 3).

The KV pools, the row count and `max_running_requests` are sized far above what the mamba pool
allows, so the mamba pool is the only limit. The model is a tiny random `poolscope_hybrid`
(mamba, sliding and full attention layers) built into a temporary folder: the figures are memory
accounting, which does not depend on the model's size.

    poolscope bench mamba [--quick] --out DIR
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import torch

from runtime.bench.report import BenchResult, Spread, Target
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Completion, Engine
from runtime.engine.observer import EngineObserver
from runtime.engine.records import StepRecord
from runtime.memory.memory_config import MambaStrategy
from runtime.model.default_model import DEFAULT_CONFIG, write_checkpoint
from runtime.model.loader import LoadedModel, load_model
from runtime.scheduler.request import Request
from runtime.scheduler.sampling_params import SamplingParams

PEAK_RATIO_TARGET, LAZY_SLOTS_TARGET = 1.4, 2.1
STRATEGIES = (MambaStrategy.EXTRA_BUFFER, MambaStrategy.EXTRA_BUFFER_LAZY)
MODEL_SEED = 7
# Every pool kind the default model has, at a size where a step costs milliseconds on a CPU.
TINY_MODEL: dict = DEFAULT_CONFIG | {
    "hidden_size": 64, "intermediate_size": 128,
    "layers_block_type": ["mamba", "sliding_attention", "full_attention", "mamba"],
    "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "sliding_window": 32,
    "mamba_num_heads": 4, "mamba_head_dim": 16, "ssm_state_size": 16, "n_groups": 1,
    "chunk_size": 32,
}
TOKEN_IDS = range(1, 250)  # plain bytes: clear of BOS/EOS/PAD


@dataclass(frozen=True)
class Workload:
    """All requests arrive at once; each is one of `num_prefixes` shared prefixes plus a random
    suffix, so prompts cross a few track boundaries and later requests hit the prefix cache."""

    mamba_slots: int
    num_requests: int
    num_prefixes: int
    prefix_len: int
    suffix_len: tuple[int, int]  # inclusive range
    max_tokens: int
    track_interval: int

    def prompts(self, seed: int) -> list[list[int]]:
        """The first wave's prompts."""
        rng = random.Random(seed)
        prefixes = [rng.choices(TOKEN_IDS, k=self.prefix_len) for _ in range(self.num_prefixes)]
        return [
            rng.choice(prefixes) + rng.choices(TOKEN_IDS, k=rng.randint(*self.suffix_len))
            for _ in range(self.num_requests)
        ]

    def continuations(self, prompts: list[list[int]], outputs: list[list[int]],
                      seed: int) -> list[list[int]]:
        """The next turn of each request: its prompt, its output, then a new user suffix."""
        rng = random.Random(f"{seed}-turn-2")
        return [
            prompt + output + rng.choices(TOKEN_IDS, k=rng.randint(*self.suffix_len))
            for prompt, output in zip(prompts, outputs, strict=True)
        ]

    def engine_config(self, strategy: MambaStrategy, model: Path) -> EngineConfig:
        # KV for every request's second turn (two outputs, two suffixes): only mamba limits.
        turn_2 = self.prefix_len + 2 * (self.suffix_len[1] + self.max_tokens)
        big = self.num_requests * turn_2
        return EngineConfig(
            model=str(model), device="cpu", mamba_slots=self.mamba_slots, full_tokens=big,
            swa_tokens=big, mamba_strategy=strategy, track_interval=self.track_interval,
            chunked_prefill_size=4096, max_running_requests=self.num_requests,
            max_sessions=0,
        )


# Prompts cross track boundaries (chunks end on them): the workload the targets are for.
PREFILL_CROSSING = Workload(mamba_slots=48, num_requests=96, num_prefixes=6, prefix_len=96,
                            suffix_len=(16, 80), max_tokens=24, track_interval=32)
# Prompts shorter than one interval, outputs crossing it: boundaries are met in decode only.
DECODE_CROSSING = Workload(mamba_slots=48, num_requests=96, num_prefixes=6, prefix_len=8,
                           suffix_len=(4, 20), max_tokens=48, track_interval=32)
QUICK = {
    "prefill-crossing": Workload(mamba_slots=12, num_requests=16, num_prefixes=2, prefix_len=32,
                                 suffix_len=(8, 24), max_tokens=4, track_interval=16),
    "decode-crossing": Workload(mamba_slots=12, num_requests=16, num_prefixes=2, prefix_len=4,
                                suffix_len=(2, 8), max_tokens=12, track_interval=16),
}
FULL = {"prefill-crossing": PREFILL_CROSSING, "decode-crossing": DECODE_CROSSING}
TARGET_WORKLOAD = "prefill-crossing"


@dataclass(frozen=True)
class RunStats:
    """What one offline run to completion measured (means are over steps with >= 1 running)."""

    peak_running: int
    slots_per_running: float  # mamba slots the running requests own, per running request
    locked_per_running: float  # mamba states in the tree locked (protected), per running request
    hit_rate: float  # cached prompt tokens / prompt tokens
    track_alloc_failures: int
    retracted: int
    num_steps: int
    seconds: float
    second_wave: WaveStats | None = None


@dataclass(frozen=True)
class WaveStats:
    """The second wave (each first-wave request's next turn), run after the first finished on
    the same engine; every figure is the engine's count."""

    hit_rate: float  # cached prompt tokens / prompt tokens
    prefill_saved: int  # prompt tokens served from the prefix cache, not prefilled
    prompt_tokens: int
    track_alloc_failures: int  # during this wave
    states_left: int  # mamba states the first wave left in the tree (evictable at idle)
    hits: int  # continuations that resumed from a cached state
    own_turn_hits: int  # of them, resumed past the shared prefix: from their first turn's state


class _StepLog(EngineObserver):
    """Per step: running requests, and the mamba slots they own and lock in the tree."""

    def __init__(self) -> None:
        self.samples: list[tuple[int, int, int]] = []

    def on_step(self, record: StepRecord) -> None:
        mamba = record.snapshot.stats.pools["mamba"]
        self.samples.append((record.snapshot.num_running, mamba.running, mamba.protected))


def run_once(lm: LoadedModel, config: EngineConfig, prompts: list[list[int]],
             max_tokens: int, next_turn: NextTurn | None = None, shared: int = 0) -> RunStats:
    """Runs `prompts` to completion on a fresh engine and measures it; then, if given, the
    next turn of every request on the same engine (`shared`: the prompts' common prefix)."""
    engine = Engine(lm, config, torch.device("cpu"), torch.float32)
    log = _StepLog()
    engine.observers.append(log)
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
    start = time.perf_counter()
    done, finish_order = run_wave(engine, prompts, params)
    seconds = time.perf_counter() - start
    _check_finished(done, max_tokens)
    second = None
    if next_turn is not None:
        turns = next_turn(prompts, [c.token_ids for c in done])
        latest_first = [turns[i] for i in reversed(finish_order)]
        second = second_wave(engine, latest_first, params, shared)
    busy = [sample for sample in log.samples if sample[0]]
    return RunStats(
        peak_running=max(n for n, _, _ in busy),
        slots_per_running=statistics.fmean(own / n for n, own, _ in busy),
        locked_per_running=statistics.fmean(locked / n for n, _, locked in busy),
        hit_rate=sum(c.cached_tokens for c in done) / sum(c.prompt_tokens for c in done),
        track_alloc_failures=engine.mm.counters.track_alloc_failures,
        retracted=engine.counters.retracted, num_steps=len(log.samples), seconds=seconds,
        second_wave=second,
    )


NextTurn = Callable[[list[list[int]], list[list[int]]], list[list[int]]]


def run_wave(engine: Engine, prompts: list[list[int]],
             params: SamplingParams) -> tuple[list[Completion], list[int]]:
    """`Engine.generate`, also returning the prompts' indices in the order they finished."""
    reqs = [engine.add_request(p, params) for p in prompts]
    order: list[int] = []
    while len(order) < len(reqs):
        stepped = engine.step()
        order += [i for i, r in enumerate(reqs) if r.is_finished and i not in order]
        if not stepped and len(order) < len(reqs):
            raise RuntimeError("the scheduler stopped with requests unfinished")
    engine.step()  # reaches idle: runs the idle check
    return [_completion(r) for r in reqs], order


def _completion(req: Request) -> Completion:
    return Completion(rid=req.rid, text="", token_ids=list(req.output_ids),
                      finish_reason=req.finish_reason, error=req.error,  # type: ignore[arg-type]
                      prompt_tokens=req.prompt_len, cached_tokens=req.cached_tokens)


def second_wave(engine: Engine, prompts: list[list[int]], params: SamplingParams,
                shared: int) -> WaveStats:
    """Runs `prompts` on an engine the first wave left idle; its figures are the engine's.
    `shared`: the prefix length prompts share, beyond which a hit is a turn's own state."""
    failures = engine.mm.counters.track_alloc_failures
    states_left = engine.mm.cache.evictable["mamba"]
    done = engine.generate(prompts, params)
    _check_finished(done, params.max_tokens)
    cached, total = sum(c.cached_tokens for c in done), sum(c.prompt_tokens for c in done)
    return WaveStats(cached / total, cached, total,
                     engine.mm.counters.track_alloc_failures - failures, states_left,
                     sum(1 for c in done if c.cached_tokens),
                     sum(1 for c in done if c.cached_tokens > shared))


def _check_finished(done: list[Completion], max_tokens: int) -> None:
    bad = [c.rid for c in done if c.error or len(c.token_ids) != max_tokens]
    if bad:  # a benchmark of requests that did not run would measure nothing
        raise RuntimeError(f"{len(bad)} requests did not finish normally, e.g. {bad[0]}")


@contextmanager
def _one_thread() -> Iterator[None]:
    """NOTE: on a small shared CPU, intra-op threads of a model this tiny oversubscribe the
    cores (a run took 40x longer with 2 threads); the memory figures do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


Runs = dict[MambaStrategy, list[RunStats]]


def measure(workloads: dict[str, Workload], seeds: list[int]) -> dict[str, Runs]:
    """Per workload and strategy, one run per seed (both strategies get the same prompts),
    after a warm-up run of each strategy."""
    with tempfile.TemporaryDirectory(prefix="poolscope-bench-") as tmp, _one_thread():
        model_dir = Path(tmp) / "tiny-hybrid"
        write_checkpoint(TINY_MODEL, MODEL_SEED, model_dir)
        lm = load_model(model_dir, device="cpu", dtype=torch.float32)
        warm = replace(QUICK[TARGET_WORKLOAD], num_requests=4)
        for strategy in STRATEGIES:
            run_once(lm, warm.engine_config(strategy, model_dir), warm.prompts(-1), 2)
        result: dict[str, Runs] = {}
        for name, workload in workloads.items():
            result[name] = {s: [] for s in STRATEGIES}
            for seed in seeds:
                prompts = workload.prompts(seed)
                next_turn = partial(workload.continuations, seed=seed)
                for strategy in STRATEGIES:
                    config = workload.engine_config(strategy, model_dir)
                    run = run_once(lm, config, prompts, workload.max_tokens, next_turn,
                                   workload.prefix_len)
                    result[name][strategy].append(run)
    return result


def peak_ratios(runs: Runs) -> list[float]:
    """lazy / extra_buffer peak running requests, per seed."""
    extra, lazy = (runs[s] for s in STRATEGIES)
    return [b.peak_running / a.peak_running for a, b in zip(extra, lazy, strict=True)]


COLUMNS = ["workload", "strategy", "mamba slots", "requests", "peak running", "peak min",
           "peak max", "lazy/extra peak", "slots/running req", "slots min", "slots max",
           "locked/running req", "hit rate", "track alloc failures", "retracted",
           "wave 1 states left", "wave 2 hit rate", "wave 2 requests hit",
           "wave 2 own-turn hits", "wave 2 prefill saved", "wave 2 track failures", "s/run",
           "repeats"]


def _row(name: str, workload: Workload, strategy: MambaStrategy, runs: Runs) -> dict:
    mine = runs[strategy]
    peak = Spread.of([float(r.peak_running) for r in mine])
    slots = Spread.of([r.slots_per_running for r in mine])
    ratio = statistics.median(peak_ratios(runs)) if strategy is STRATEGIES[1] else ""
    return {
        "workload": name, "strategy": strategy.value, "mamba slots": workload.mamba_slots,
        "requests": workload.num_requests, "peak running": peak.median, "peak min": peak.min,
        "peak max": peak.max, "lazy/extra peak": ratio, "slots/running req": slots.median,
        "slots min": slots.min, "slots max": slots.max,
        "locked/running req": statistics.median(r.locked_per_running for r in mine),
        "hit rate": statistics.median(r.hit_rate for r in mine),
        "track alloc failures": statistics.median(r.track_alloc_failures for r in mine),
        "retracted": statistics.median(r.retracted for r in mine),
        **_second_wave_cells(mine),
        "s/run": statistics.median(r.seconds for r in mine), "repeats": len(mine),
    }


def _second_wave_cells(runs: list[RunStats]) -> dict[str, float]:
    waves = [r.second_wave for r in runs if r.second_wave is not None]
    if not waves:
        return {}
    return {"wave 1 states left": statistics.median(w.states_left for w in waves),
            "wave 2 hit rate": statistics.median(w.hit_rate for w in waves),
            "wave 2 requests hit": statistics.median(w.hits for w in waves),
            "wave 2 own-turn hits": statistics.median(w.own_turn_hits for w in waves),
            "wave 2 prefill saved": statistics.median(w.prefill_saved for w in waves),
            "wave 2 track failures": statistics.median(w.track_alloc_failures for w in waves)}


def _ratio_note(workload: Workload, runs: Runs) -> str:
    lazy = runs[STRATEGIES[1]]
    locked = statistics.median(r.locked_per_running for r in lazy)
    return (
        f"not max_running_requests ({workload.num_requests}) nor KV (sized for all requests): "
        f"mamba slots held by running requests, plus mid-prefill snapshots forked into the "
        f"tree and locked by their request ({locked:.2g} locked per running request)"
    )


def _targets(workload: Workload, runs: Runs) -> list[Target]:
    ratio = statistics.median(peak_ratios(runs))
    lazy_slots = statistics.median(r.slots_per_running for r in runs[STRATEGIES[1]])
    slots_note = "lazy holds a second track slot outside a decode boundary step: a slot not freed"
    return [
        Target(f"peak running, lazy / extra_buffer ({TARGET_WORKLOAD})", ratio, ">=",
               PEAK_RATIO_TARGET, _ratio_note(workload, runs)),
        Target(f"lazy mamba slots per running request ({TARGET_WORKLOAD})", lazy_slots, "<=",
               LAZY_SLOTS_TARGET, slots_note),
    ]


def run(quick: bool) -> BenchResult:
    workloads, seeds = (QUICK, [0]) if quick else (FULL, [0, 1, 2])
    runs = measure(workloads, seeds)
    rows = [_row(n, w, s, runs[n]) for n, w in workloads.items() for s in STRATEGIES]
    details = {
        "workloads": {n: asdict(w) for n, w in workloads.items()}, "seeds": seeds,
        "model": TINY_MODEL, "torch_threads_used": 1,
        "runs": {n: {s.value: [asdict(r) for r in runs[n][s]] for s in STRATEGIES}
                 for n in workloads},
    }
    targets = _targets(workloads[TARGET_WORKLOAD], runs[TARGET_WORKLOAD])
    return BenchResult("mamba", COLUMNS, rows, targets, details, is_quick=quick)
