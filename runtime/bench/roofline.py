"""The memory side of the decode roofline: bytes one decode step must move over the measured
copy bandwidth (the compute side is compute_bound.py; decode_step.py reports both).

A decode step reads every weight once, the KV of every attention layer over each request's
context (sliding layers capped at the window), and reads and writes each request's mamba state.
The bandwidth is a large `dst.copy_(src)` on this machine, counting bytes read plus written.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from runtime.bench.report import timed
from runtime.engine.engine import Engine
from runtime.model.config import FULL_ATTENTION, SLIDING_ATTENTION
from runtime.model.loader import LoadedModel
from runtime.scheduler.sampling_params import SamplingParams

MIB = 1 << 20


def copy_bandwidth(mib: int, repeats: int, device: torch.device | None = None) -> float:
    """Median bytes/s of copying a `mib` MiB fp32 tensor on `device` (read + write bytes),
    after a warm-up; on CUDA each copy ends with a synchronize."""
    device = device or torch.device("cpu")
    src = torch.rand(mib * MIB // 4, device=device)  # [N]
    dst = torch.empty_like(src)  # [N]

    def once() -> None:
        dst.copy_(src)
        if device.type == "cuda":
            torch.cuda.synchronize()

    samples = timed(once, warmup=1, repeats=repeats)
    return 2 * mib * MIB / statistics.median(samples)


@dataclass(frozen=True)
class DecodeBytes:
    weights: int
    kv: int
    mamba_state: int

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.mamba_state


def decode_bytes(lm: LoadedModel, batch: int, context: int) -> DecodeBytes:
    """Bytes one decode step of `batch` requests at `context` tokens each must move."""
    cfg, att = lm.config, lm.config.attention
    weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    elem = next(lm.model.parameters()).element_size()
    per_token = 2 * att.num_kv_heads * att.head_dim * elem  # K and V, one layer
    window = att.sliding_window or context
    kv_tokens = (len(cfg.layers_of(FULL_ATTENTION)) * context
                 + len(cfg.layers_of(SLIDING_ATTENTION)) * min(context, window))
    mamba = 0
    if cfg.mamba is not None:
        m = cfg.mamba
        per_layer = m.conv_dim * (m.conv_kernel - 1) + m.num_heads * m.head_dim * m.state_size
        mamba = 2 * cfg.num_mamba_layers * per_layer * elem  # read and written
    return DecodeBytes(weights, batch * kv_tokens * per_token, batch * mamba)


def profile_decode(engine: Engine, prompts: list[list[int]], steps: int) -> list[tuple[str, float]]:
    """The top three ops by self CPU time over `steps` decode steps, and the time outside torch
    ops (Python: scheduling, bookkeeping, sampling), each as a share of the steps' wall time."""
    from torch.profiler import ProfilerActivity, profile

    params = SamplingParams(max_tokens=steps + 8, temperature=0, ignore_eos=True)
    reqs = [engine.add_request(p, params) for p in prompts]
    while any(not r.output_ids for r in reqs):
        engine.step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            engine.step()
        wall_us = 1e6 * (time.perf_counter() - start)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    in_ops = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:3]
    while engine.step():
        pass
    shares = [(e.key, e.self_cpu_time_total / wall_us) for e in top]
    return [*shares, ("outside torch ops", max(0.0, 1 - in_ops / wall_us))]
