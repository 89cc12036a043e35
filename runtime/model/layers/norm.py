"""RMS norms in the three forms our architectures use; all compute in fp32 and cast back."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _fp32(x: torch.Tensor) -> torch.Tensor:
    """`x` in fp32, without an op when it already is (a norm runs per layer and per step)."""
    return x if x.dtype == torch.float32 else x.float()


def _rms(x: torch.Tensor, eps: float, weight: torch.Tensor | None = None) -> torch.Tensor:
    """x * rsqrt(mean(x²) + eps) [* weight] over the last dim, as one fused op (fp32 in)."""
    return F.rms_norm(x, x.shape[-1:], weight, eps)


def _cast(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return x if x.dtype == dtype else x.to(dtype)


class RMSNorm(nn.Module):
    """Plain RMSNorm, `w * x / rms(x)` with the weight applied in fp32 (NemotronH, ours)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _cast(_rms(_fp32(x), self.eps, _fp32(self.weight)), x.dtype)


class GemmaRMSNorm(nn.Module):
    """Gemma's RMSNorm: the weight is stored zero-centred and applied as `(1 + w)`."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _cast(_rms(_fp32(x), self.eps, 1.0 + _fp32(self.weight)), x.dtype)


class GatedGroupRMSNorm(nn.Module):
    """NemotronH's Mamba output norm: gate with silu(z) first, then RMS-normalise per group."""

    def __init__(self, dim: int, num_groups: int, eps: float) -> None:
        super().__init__()
        if dim % num_groups:
            raise ValueError(f"norm dim {dim} not divisible into {num_groups} groups")
        self.weight = nn.Parameter(torch.ones(dim))
        self.num_groups = num_groups
        self.eps = eps

    def forward(self, x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h = _fp32(x) * F.silu(_fp32(gate))
        grouped = h.unflatten(-1, (self.num_groups, -1))  # [..., G, dim/G]
        h = _rms(grouped, self.eps).flatten(-2)
        return self.weight * _cast(h, dtype)
