"""The compute side of the decode roofline: FLOPs of one decode step over the GEMM throughput this
machine measures on the step's own matmul shapes.

Every `nn.Linear` of the model runs once per decode step on a [B, in] activation: its time is
measured directly (`torch.matmul` of a [B, in] input by the layer's own [in, out] weight), so the
linear part of the bound is the sum of those medians. Attention (QK and PV over each request's
context, sliding layers capped at the window) and the mamba decode update (the causal conv and the
SSM state update and readout) are counted in FLOPs and divided by the GEMM throughput measured on
the linear shapes: an optimistic rate for them, so the bound stays a lower bound on the step.
Element-wise work (norms, RoPE, softmax, activations) is not counted.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

from runtime.bench.report import timed
from runtime.model.config import FULL_ATTENTION, SLIDING_ATTENTION, ModelConfig


@dataclass(frozen=True)
class LinearShape:
    """[B, in] x [in, out], run `count` times per step (once per layer with this shape)."""

    batch: int
    in_features: int
    out_features: int
    count: int
    seconds: float  # median of one matmul

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.in_features * self.out_features * self.count


def linear_shapes(model: nn.Module) -> Counter[tuple[int, int]]:
    """(in, out) of every linear layer of `model`, with how many layers share it."""
    return Counter((m.in_features, m.out_features) for m in model.modules()
                   if isinstance(m, nn.Linear))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_matmul(batch: int, in_f: int, out_f: int, dtype: torch.dtype, device: torch.device,
                repeats: int) -> float:
    """Median seconds of one [batch, in] @ [in, out] matmul on `device`."""
    x = torch.rand(batch, in_f, dtype=dtype, device=device)  # [B, in]
    w = torch.rand(in_f, out_f, dtype=dtype, device=device)  # [in, out]

    def once() -> None:
        torch.matmul(x, w)
        _sync(device)

    return statistics.median(timed(once, warmup=2, repeats=repeats))


def attention_flops(config: ModelConfig, batch: int, context: int) -> int:
    """QK^T and PV of one new token per request, over every attention layer."""
    att = config.attention
    window = att.sliding_window or context
    keys = (len(config.layers_of(FULL_ATTENTION)) * context
            + len(config.layers_of(SLIDING_ATTENTION)) * min(context, window))
    return batch * keys * 2 * 2 * att.num_heads * att.head_dim


def mamba_flops(config: ModelConfig, batch: int) -> int:
    """One decode token's causal conv (a multiply-add per tap) and SSM update per mamba layer:
    h = exp(dt A) h + dt x B (4 per state element) and y = C h (2 per state element)."""
    if config.mamba is None:
        return 0
    m = config.mamba
    conv = 2 * m.conv_dim * m.conv_kernel
    ssm = 6 * m.num_heads * m.head_dim * m.state_size
    return batch * config.num_mamba_layers * (conv + ssm)


@dataclass(frozen=True)
class ComputeBound:
    """FLOPs of one decode step and the time they need at the measured GEMM rates."""

    linears: list[LinearShape]
    attention_flops: int
    mamba_flops: int

    @property
    def linear_flops(self) -> int:
        return sum(s.flops for s in self.linears)

    @property
    def linear_s(self) -> float:
        return sum(s.seconds * s.count for s in self.linears)

    @property
    def gemm_flops_per_s(self) -> float:
        return self.linear_flops / self.linear_s

    @property
    def total_flops(self) -> int:
        return self.linear_flops + self.attention_flops + self.mamba_flops

    @property
    def limit_step_s(self) -> float:
        return self.linear_s + (self.attention_flops + self.mamba_flops) / self.gemm_flops_per_s

    def as_dict(self) -> dict[str, object]:
        return {
            "linear_flops": self.linear_flops, "attention_flops": self.attention_flops,
            "mamba_flops": self.mamba_flops, "total_flops": self.total_flops,
            "gemm_gflop_s": self.gemm_flops_per_s / 1e9, "limit_step_ms": 1e3 * self.limit_step_s,
            "linear_shapes": [
                {"shape": f"[{s.batch}, {s.in_features}] x [{s.in_features}, {s.out_features}]",
                 "layers": s.count, "median_us": 1e6 * s.seconds} for s in self.linears
            ],
        }


def compute_bound(model: nn.Module, config: ModelConfig, batch: int, context: int,
                  repeats: int) -> ComputeBound:
    """Times every linear shape of `model` at `batch` rows and counts the other FLOPs."""
    weight = next(model.parameters())
    shapes = [
        LinearShape(batch, in_f, out_f, count,
                    time_matmul(batch, in_f, out_f, weight.dtype, weight.device, repeats))
        for (in_f, out_f), count in sorted(linear_shapes(model).items())
    ]
    return ComputeBound(shapes, attention_flops(config, batch, context),
                        mamba_flops(config, batch))
