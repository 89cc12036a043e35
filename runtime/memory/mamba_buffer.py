"""Recurrent state storage: a slot holds one request's conv window and SSM state, all layers."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class MambaBuffer:
    """Conv and SSM state of every Mamba layer, indexed by slot. SSM state is always fp32."""

    conv: torch.Tensor  # [L, S, conv_dim, K-1]
    ssm: torch.Tensor  # [L, S, H, P, N] fp32

    @classmethod
    def allocate(
        cls,
        *,
        num_layers: int,
        num_slots: int,
        conv_dim: int,
        conv_kernel: int,
        num_heads: int,
        head_dim: int,
        state_size: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> MambaBuffer:
        conv = torch.zeros(
            (num_layers, num_slots, conv_dim, conv_kernel - 1), dtype=dtype, device=device
        )
        ssm_shape = (num_layers, num_slots, num_heads, head_dim, state_size)
        return cls(conv=conv, ssm=torch.zeros(ssm_shape, dtype=torch.float32, device=device))

    @property
    def num_slots(self) -> int:
        return self.conv.shape[1]

    def copy_slot(self, src: int, dst: int) -> None:
        """Copies every layer's state from slot `src` to `dst` (copy-on-write of a snapshot)."""
        self.conv[:, dst].copy_(self.conv[:, src])
        self.ssm[:, dst].copy_(self.ssm[:, src])

    def bytes_per_slot(self) -> int:
        conv = self.conv[:, 0].numel() * self.conv.element_size()
        return conv + self.ssm[:, 0].numel() * self.ssm.element_size()
