"""Rotary position embedding with a per-layer base (Gemma3 uses one base per attention kind)."""

from __future__ import annotations

import torch
from torch import nn


class RotaryEmbedding(nn.Module):
    """Rotates half-split query/key pairs by position; `scaling_factor` is HF's linear type."""

    def __init__(self, head_dim: int, base: float, scaling_factor: float = 1.0) -> None:
        super().__init__()
        exponents = torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim
        # NOTE: a plain attribute, not a buffer, so that casting the model to bf16 keeps it fp32.
        self.inv_freq = 1.0 / (base**exponents) / scaling_factor

    def cos_sin(
        self, positions: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[T] positions -> cos and signed sin, each [T, 1, D] (broadcast over heads).

        The signed sin is (-sin, sin) over the two halves: `apply_rotary` then swaps the halves
        with one roll instead of negating and concatenating them (the same products, exactly)."""
        if self.inv_freq.device != positions.device:
            self.inv_freq = self.inv_freq.to(positions.device)
        freqs = positions.float()[:, None] * self.inv_freq[None, :]  # [T, D/2]
        cos, sin = freqs.cos(), freqs.sin()
        cos_full = torch.cat((cos, cos), dim=-1)[:, None, :]  # [T, 1, D]
        sin_signed = torch.cat((-sin, sin), dim=-1)[:, None, :]  # [T, 1, D]
        if dtype != cos_full.dtype:
            cos_full, sin_signed = cos_full.to(dtype), sin_signed.to(dtype)
        return cos_full, sin_signed


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin_signed: torch.Tensor) -> torch.Tensor:
    """x: [T, H, D]; rotates (x1, x2) halves as in the GPT-NeoX/HF layout:
    x * cos + (-x2, x1) * sin, with (x2, x1) one roll and the sign carried by `sin_signed`."""
    swapped = torch.roll(x, x.shape[-1] // 2, dims=-1)  # [T, H, D]: (x2, x1)
    return torch.addcmul(x * cos, swapped, sin_signed)
