"""RMS norms in the three forms our architectures use; all compute in fp32 and cast back."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _rms(x: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class RMSNorm(nn.Module):
    """Plain RMSNorm, `w * x / rms(x)` with the weight applied in fp32 (NemotronH, ours)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.weight.float() * _rms(x.float(), self.eps)).to(x.dtype)


class GemmaRMSNorm(nn.Module):
    """Gemma's RMSNorm: the weight is stored zero-centred and applied as `(1 + w)`."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (_rms(x.float(), self.eps) * (1.0 + self.weight.float())).to(x.dtype)


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
        h = x.float() * F.silu(gate.float())
        grouped = h.unflatten(-1, (self.num_groups, -1))  # [..., G, dim/G]
        h = _rms(grouped, self.eps).flatten(-2)
        return self.weight * h.to(dtype)
