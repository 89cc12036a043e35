"""RMS norms in the three forms our architectures use; all compute in fp32 and cast back."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from runtime.model.layers.dtypes import cast, fp32


def _rms(x: torch.Tensor, eps: float, weight: torch.Tensor | None = None) -> torch.Tensor:
    """x * rsqrt(mean(x²) + eps) [* weight] over the last dim, as one fused op (fp32 in)."""
    return F.rms_norm(x, x.shape[-1:], weight, eps)


class RMSNorm(nn.Module):
    """Plain RMSNorm, `w * x / rms(x)` with the weight applied in fp32 (NemotronH, ours)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(_rms(fp32(x), self.eps, fp32(self.weight)), x.dtype)


class GemmaRMSNorm(nn.Module):
    """Gemma's RMSNorm: the weight is stored zero-centred and applied as `(1 + w)`."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(_rms(fp32(x), self.eps, 1.0 + fp32(self.weight)), x.dtype)


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
        h = fp32(x) * F.silu(fp32(gate))
        grouped = h.unflatten(-1, (self.num_groups, -1))  # [..., G, dim/G]
        h = _rms(grouped, self.eps).flatten(-2)
        return self.weight * cast(h, dtype)
