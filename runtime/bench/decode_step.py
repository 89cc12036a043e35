"""Decode-step benchmark: host time per decode step and the two-bound roofline, at 32 and 64
running requests, for both benchmark models (issue 20).

    poolscope bench decode [--quick]

Per model and batch: a fresh engine admits the batch (128-token prompts), prefills it, and times
decode steps with a wrapper on the real runner (`runtime/bench/step_timing.py`): host time is the
step minus the model's forward, batch building counted as host. The roofline gives both bounds of
that step: memory (bytes moved over the measured copy bandwidth, `roofline.py`) and compute (FLOPs
over the GEMM throughput of the step's own matmul shapes, `compute_bound.py`); the attained
fraction is the larger bound over the measured median step.
Targets: host time <= 2 ms at 64 running; step >= 50 % of the larger bound at batch 32. A missed
target carries a cProfile of decode steps at that batch (top entries in the JSON, one line printed).
"""

from __future__ import annotations

import random
import statistics
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from runtime.bench.checkpoints import MODEL_TYPES, build_checkpoint
from runtime.bench.compute_bound import ComputeBound, compute_bound
from runtime.bench.profiles import as_json, profile_steps, summary
from runtime.bench.report import BenchResult, Target
from runtime.bench.roofline import DecodeBytes, copy_bandwidth, decode_bytes
from runtime.bench.step_timing import StepTimes, time_steps
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.memory.checker import CheckMode
from runtime.scheduler.sampling_params import SamplingParams

HOST_TARGET_MS, ROOFLINE_TARGET = 2.0, 0.5
HOST_CODE = ("runtime/engine", "runtime/scheduler", "runtime/memory", "forward_batch")
FIRST_TOKEN_ID = 4  # clear of the ids HF configs use for BOS, EOS and PAD


@dataclass(frozen=True)
class Plan:
    checkpoint: str
    batches: tuple[int, int]  # (roofline target batch, host-time target batch)
    prompt_len: int
    warmup_steps: int
    steps: int
    profile_steps: int
    copy_mib: int
    gemm_repeats: int


FULL = Plan("bench", (32, 64), 128, 5, 40, 8, 256, 20)
QUICK = Plan("tiny", (2, 4), 8, 1, 4, 2, 8, 3)


def _max_tokens(plan: Plan) -> int:
    return plan.warmup_steps + plan.steps + plan.profile_steps + 8


def _engine(model_dir: Path, batch: int, plan: Plan) -> Engine:
    """Pools for the whole batch at its longest; nothing finishes while it is measured. Text
    is off, as in serve's engine process: there detokenization runs in the frontend process."""
    tokens = batch * (plan.prompt_len + _max_tokens(plan) + 8)
    config = EngineConfig(
        model=str(model_dir), dtype="float32", device="auto", full_tokens=tokens + 64,
        swa_tokens=tokens + 64, mamba_slots=3 * batch + 4, max_running_requests=batch,
        max_context=2048, mem_check=CheckMode.IDLE, produce_text=False,
    )
    return Engine.from_config(config)


def _start(engine: Engine, batch: int, plan: Plan) -> None:
    """Admits and prefills the batch, then runs the warm-up decode steps."""
    rng = random.Random(batch)
    vocab = engine.lm.config.vocab_size
    params = SamplingParams(max_tokens=_max_tokens(plan), temperature=0, ignore_eos=True)
    for _ in range(batch):
        engine.add_request([rng.randrange(FIRST_TOKEN_ID, vocab) for _ in range(plan.prompt_len)],
                           params)
    while engine.scheduler.waiting or any(r.is_prefilling for r in engine.scheduler.running):
        engine.step()
    for _ in range(plan.warmup_steps):
        engine.step()


@dataclass(frozen=True)
class Measured:
    model_type: str
    batch: int
    context: int  # mean tokens per request over the measured steps
    times: StepTimes
    bytes: DecodeBytes
    bandwidth: float
    compute: ComputeBound
    profile: list | None  # cProfile entries, when a target of this batch is missed

    @property
    def step_s(self) -> float:
        return statistics.median(self.times.step)

    @property
    def memory_s(self) -> float:
        return self.bytes.total / self.bandwidth

    @property
    def bound_s(self) -> float:
        return max(self.memory_s, self.compute.limit_step_s)

    @property
    def attained(self) -> float:
        return self.bound_s / self.step_s

    def row(self) -> dict[str, object]:
        ms = self.times.summary_ms()
        return {
            "model": self.model_type, "running": self.batch, "context": self.context,
            "steps": len(self.times.step), "step p50 ms": ms["step p50 ms"],
            "step p90 ms": ms["step p90 ms"], "forward p50 ms": ms["model p50 ms"],
            "host p50 ms": ms["host p50 ms"], "host p90 ms": ms["host p90 ms"],
            "batch build p50 ms": ms["batch_build p50 ms"], "host share": ms["host share"],
            "memory bound ms": 1e3 * self.memory_s,
            "compute bound ms": 1e3 * self.compute.limit_step_s,
            "larger bound": "memory" if self.memory_s >= self.compute.limit_step_s else "compute",
            "attained": self.attained,
        }


def measure(model_dir: Path, model_type: str, batch: int, plan: Plan,
            bandwidth: float) -> tuple[Measured, Engine]:
    engine = _engine(model_dir, batch, plan)
    _start(engine, batch, plan)
    before = plan.prompt_len + plan.warmup_steps + 1
    times = time_steps(engine, plan.steps, batch)
    context = before + plan.steps // 2
    lm = engine.lm
    bound = compute_bound(lm.model, lm.config, batch, context, plan.gemm_repeats)
    measured = Measured(model_type, batch, context, times, decode_bytes(lm, batch, context),
                        bandwidth, bound, None)
    return measured, engine


def _targets(m: Measured, plan: Plan) -> list[Target]:
    if m.batch == plan.batches[1]:  # host time: what the host code and its own calls cost
        note = summary(m.profile, scope="host code and the calls it makes") if m.profile else ""
        return [Target(f"{m.model_type} host ms per decode step, {m.batch} running",
                       float(m.row()["host p50 ms"]), "<=", HOST_TARGET_MS, note)]
    note = summary(m.profile) if m.profile else ""
    return [Target(f"{m.model_type} decode step / roofline (larger bound), batch {m.batch}",
                   m.attained, ">=", ROOFLINE_TARGET, note)]


def _is_missed(m: Measured, plan: Plan) -> bool:
    return not _targets(m, plan)[0].is_met


def _bench_model(model_type: str, plan: Plan, root: Path, bandwidth: float) -> list[Measured]:
    model_dir = build_checkpoint(model_type, root / model_type, plan.checkpoint)
    out = []
    for batch in plan.batches:
        m, engine = measure(model_dir, model_type, batch, plan, bandwidth)
        if _is_missed(m, plan):  # what limits it: a profile of more steps of the same batch
            within = HOST_CODE if batch == plan.batches[1] else ()
            entries = profile_steps(engine.step, plan.profile_steps, within=within)
            m = replace(m, profile=entries)
        out.append(m)
    return out


COLUMNS = ["model", "running", "context", "steps", "step p50 ms", "step p90 ms",
           "forward p50 ms", "host p50 ms", "host p90 ms", "batch build p50 ms", "host share",
           "memory bound ms", "compute bound ms", "larger bound", "attained"]


def run(quick: bool) -> BenchResult:
    plan = QUICK if quick else FULL
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bandwidth = copy_bandwidth(plan.copy_mib, 3 if quick else 7, device)
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="poolscope-decode-") as tmp:
        for model_type in MODEL_TYPES:
            measured += _bench_model(model_type, plan, Path(tmp), bandwidth)
    targets = [t for m in measured for t in _targets(m, plan)]
    details = {
        "device": device.type, "copy_bandwidth_gb_s": bandwidth / 1e9,
        "plan": asdict(plan),
        "roofline": {f"{m.model_type} batch {m.batch}": {
            "weight_bytes": m.bytes.weights, "kv_bytes": m.bytes.kv,
            "mamba_state_bytes": m.bytes.mamba_state, "total_bytes": m.bytes.total,
            "memory_limit_step_ms": 1e3 * m.memory_s, "compute": m.compute.as_dict(),
            "measured_step_ms": 1e3 * m.step_s, "attained_of_larger_bound": m.attained,
        } for m in measured},
        "step_ms": {f"{m.model_type} batch {m.batch}": {
            "step": [round(1e3 * s, 4) for s in m.times.step],
            "model": [round(1e3 * s, 4) for s in m.times.model],
            "forward": [round(1e3 * s, 4) for s in m.times.forward],
        } for m in measured},
        "profiles": {f"{m.model_type} batch {m.batch}": as_json(m.profile)
                     for m in measured if m.profile},
    }
    return BenchResult("decode", COLUMNS, [m.row() for m in measured], targets, details,
                       is_quick=quick)
