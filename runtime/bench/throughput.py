"""Throughput benchmark: output tokens/s of poolscope vs transformers on the same checkpoints,
prompts and greedy outputs (fp32, this CPU). The decode-step roofline and host time are the
`decode` benchmark's (decode_step.py).

    poolscope bench throughput [--quick] --out DIR

Workloads: uniform (32 requests, 128 prompt + 128 new tokens) and mixed (64 requests, seeded
prompts 16-512 and outputs 16-256 tokens; transformers runs padded static batches of 32).
Targets (issue 20): gemma3_text >= 1.3x uniform, >= 2.5x mixed; nemotron_h >= 1.5x uniform,
>= 3.0x mixed. Systems alternate within each repeat; the
ratio is taken pair by pair (same repeat) and reported as the median of the pairs.

Each workload repeats up to `Plan.repeats` times within `Plan.budget_s`: a repeat starts only if
the repeats so far say it ends inside the budget (at least one always runs). transformers' padded
mixed batches on gemma3_text take minutes per repeat on 2 cores, and all benchmarks together must
finish in 15 minutes; the table's `repeats` column says how many ran.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from runtime.bench.checkpoints import MODEL_TYPES, build_checkpoint
from runtime.bench.padding import run_tallied
from runtime.bench.report import BenchResult, Spread, Target
from runtime.bench.roofline import profile_decode
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.memory.checker import CheckMode
from runtime.scheduler.sampling_params import SamplingParams
from telemetry.extras import require_extra

TARGETS = {"gemma3_text": {"uniform": 1.3, "mixed": 2.5},
           "nemotron_h": {"uniform": 1.5, "mixed": 3.0}}
FIRST_TOKEN_ID = 4  # prompts avoid the low ids HF configs use for BOS, EOS and PAD


@dataclass(frozen=True)
class Workload:
    """Token-id prompts and the number of output tokens each request asks for."""

    name: str
    prompts: list[list[int]]
    num_outputs: list[int]
    hf_batch_size: int

    @property
    def num_output_tokens(self) -> int:
        return sum(self.num_outputs)


@dataclass(frozen=True)
class Plan:
    """Sizes of one run: the issue's in full mode, tiny ones in quick mode (CI)."""

    checkpoint: str
    uniform: tuple[int, int, int]  # requests, prompt tokens, new tokens
    mixed: tuple[int, tuple[int, int], tuple[int, int]]  # requests, prompt range, output range
    hf_batch_size: int
    repeats: int  # at most
    budget_s: float  # per workload: no repeat starts that would end after it


FULL = Plan("bench", (32, 128, 128), (64, (16, 512), (16, 256)), 32, repeats=3, budget_s=150.0)
QUICK = Plan("tiny", (4, 8, 4), (4, (4, 16), (2, 8)), 2, repeats=1, budget_s=0.0)


def workloads(plan: Plan, vocab: int, seed: int = 0) -> list[Workload]:
    """The uniform and mixed workloads; the same seed gives the same prompts and lengths."""
    rng = random.Random(seed)

    def prompt(n: int) -> list[int]:
        return [rng.randrange(FIRST_TOKEN_ID, vocab) for _ in range(n)]

    num, prompt_len, new = plan.uniform
    uniform = Workload("uniform", [prompt(prompt_len) for _ in range(num)], [new] * num,
                       plan.hf_batch_size)
    num, (p_lo, p_hi), (o_lo, o_hi) = plan.mixed
    lengths = [(rng.randint(p_lo, p_hi), rng.randint(o_lo, o_hi)) for _ in range(num)]
    mixed = Workload("mixed", [prompt(p) for p, _ in lengths], [o for _, o in lengths],
                     plan.hf_batch_size)
    return [uniform, mixed]


def _engine(model_dir: Path, work: Workload) -> Engine:
    """A fresh engine (empty prefix cache) whose pools hold the whole workload at once. Both
    systems produce token ids only: text is off, as in serve's engine process (serve
    detokenizes in its frontend process), and transformers' generate returns ids."""
    num = len(work.prompts)
    tokens = sum(len(p) + n for p, n in zip(work.prompts, work.num_outputs, strict=True))
    config = EngineConfig(
        model=str(model_dir), dtype="float32", device="cpu", full_tokens=tokens + 64,
        swa_tokens=tokens + 64, mamba_slots=2 * num + 4, max_running_requests=max(64, num),
        max_context=2048, mem_check=CheckMode.IDLE, produce_text=False,
    )
    return Engine.from_config(config)


def poolscope_run(model_dir: Path, work: Workload) -> tuple[float, int]:
    """Seconds to run the workload to completion on a fresh engine, and output tokens."""
    engine = _engine(model_dir, work)
    start = time.perf_counter()
    reqs = [engine.add_request(p, SamplingParams(max_tokens=n, temperature=0, ignore_eos=True))
            for p, n in zip(work.prompts, work.num_outputs, strict=True)]
    while engine.step():
        pass
    seconds = time.perf_counter() - start
    if any(not r.is_finished for r in reqs):
        raise RuntimeError("poolscope stopped with requests unfinished")
    return seconds, sum(len(r.output_ids) for r in reqs)


def hf_run(model: torch.nn.Module, work: Workload) -> tuple[float, int]:
    """Seconds for transformers to run the workload in padded static batches, and the output
    tokens a user gets (each request's own count, not the batch's longest)."""
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    start, tokens = time.perf_counter(), 0
    for lo in range(0, len(work.prompts), work.hf_batch_size):
        prompts = work.prompts[lo : lo + work.hf_batch_size]
        wanted = work.num_outputs[lo : lo + work.hf_batch_size]
        width = max(map(len, prompts))
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])  # [B, T] left-padded
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])  # [B, T]
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max(wanted),
                                 min_new_tokens=max(wanted), do_sample=False,
                                 pad_token_id=pad)
        new = out.shape[1] - width  # NOTE: min_new_tokens keeps EOS from ending rows early
        tokens += sum(min(n, new) for n in wanted)
    return time.perf_counter() - start, tokens


def _hf_model(model_dir: Path) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


def padding(model_dir: Path, work: Workload) -> dict[str, float]:
    """One untimed run of the workload: padded positions per real one (`padding.py`)."""
    engine = _engine(model_dir, work)
    for prompt, n in zip(work.prompts, work.num_outputs, strict=True):
        engine.add_request(prompt, SamplingParams(max_tokens=n, temperature=0, ignore_eos=True))
    return run_tallied(engine).per_token()


def _warm_up(model_dir: Path, hf: torch.nn.Module, work: Workload) -> None:
    small = Workload(work.name, work.prompts[:4], [min(n, 8) for n in work.num_outputs[:4]], 2)
    poolscope_run(model_dir, small)
    hf_run(hf, small)


def _measure(model_dir: Path, hf: torch.nn.Module, work: Workload, plan: Plan
             ) -> dict[str, object]:
    """Alternates the systems up to `plan.repeats` times within the budget; one table row."""
    ours, theirs, ratios = [], [], []
    start = time.perf_counter()
    for i in range(plan.repeats):
        spent = time.perf_counter() - start
        if i and spent + spent / i > plan.budget_s:
            break
        order = (0, 1) if i % 2 == 0 else (1, 0)
        runs: dict[int, tuple[float, int]] = {}
        for side in order:
            runs[side] = poolscope_run(model_dir, work) if side == 0 else hf_run(hf, work)
        (s_ours, n_ours), (s_hf, n_hf) = runs[0], runs[1]
        if n_ours != n_hf or n_ours != work.num_output_tokens:
            raise RuntimeError(f"output tokens differ: poolscope {n_ours}, transformers {n_hf}, "
                               f"asked {work.num_output_tokens}")
        ours.append(n_ours / s_ours)
        theirs.append(n_hf / s_hf)
        ratios.append(ours[-1] / theirs[-1])
    a, b, r = Spread.of(ours), Spread.of(theirs), Spread.of(ratios)
    return {"workload": work.name, "requests": len(work.prompts),
            "output tokens": work.num_output_tokens, "poolscope tok/s": a.median,
            "poolscope ±": a.rel_spread, "transformers tok/s": b.median,
            "transformers ±": b.rel_spread, "ratio": r.median, "ratio min": r.min,
            "ratio max": r.max, "repeats": len(ratios),
            "poolscope output tokens": n_ours, "transformers output tokens": n_hf}


COLUMNS = ["model", "workload", "requests", "output tokens", "poolscope tok/s", "poolscope ±",
           "transformers tok/s", "transformers ±", "ratio", "ratio min", "ratio max",
           "repeats"]


def _bench_model(model_type: str, plan: Plan, root: Path) -> tuple[list[dict[str, object]], int]:
    """The model's rows, and its vocabulary size."""
    model_dir = build_checkpoint(model_type, root / model_type, plan.checkpoint)
    hf = _hf_model(model_dir)
    rows = []
    for work in workloads(plan, hf.config.vocab_size):
        _warm_up(model_dir, hf, work)
        rows.append({"model": model_type, **_measure(model_dir, hf, work, plan),
                     **padding(model_dir, work)})
    return rows, hf.config.vocab_size


def _profile(model_dir: Path, plan: Plan, vocab: int) -> list[tuple[str, float]]:
    """What dominates our decode step, from a short torch.profiler run (for missed targets)."""
    work = workloads(plan, vocab)[0]
    return profile_decode(_engine(model_dir, work), work.prompts, steps=4)


def _note(profile: list[tuple[str, float]], batch: int) -> str:
    shares = ", ".join(f"{name} {share:.0%}" for name, share in profile)
    return f"poolscope decode step at batch {batch}, share of wall time: {shares}"


def run(quick: bool) -> BenchResult:
    require_extra("transformers", "bench", "poolscope bench throughput")
    plan = QUICK if quick else FULL
    rows, targets, profiles = [], [], {}
    with tempfile.TemporaryDirectory(prefix="poolscope-throughput-") as tmp:
        root = Path(tmp)
        for model_type in MODEL_TYPES:
            model_rows, vocab = _bench_model(model_type, plan, root)
            rows += model_rows
            for row in model_rows:
                limit = TARGETS[model_type][str(row["workload"])]
                if float(row["ratio"]) < limit and model_type not in profiles:
                    profiles[model_type] = _profile(root / model_type, plan, vocab)
                profile = profiles.get(model_type)
                note = _note(profile, plan.uniform[0]) if profile else ""
                targets.append(Target(f"{model_type} {row['workload']} ratio",
                                      float(row["ratio"]), ">=", limit, note))
    details = {"profiles": {m: [{"op": name, "share_of_wall": share} for name, share in p]
                            for m, p in profiles.items()}}
    return BenchResult("throughput", COLUMNS, rows, targets, details, is_quick=quick)
