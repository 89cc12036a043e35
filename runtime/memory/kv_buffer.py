"""Paged KV storage for one attention layer kind: one slot holds one token's K and V per layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class KVBuffer:
    """K and V tensors of every layer of one kind, indexed by slot. Slot 0 is a scratch row."""

    k: torch.Tensor  # [L, S, Hkv, D]
    v: torch.Tensor  # [L, S, Hkv, D]

    @classmethod
    def allocate(
        cls,
        *,
        num_layers: int,
        num_slots: int,
        num_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> KVBuffer:
        shape = (num_layers, num_slots, num_kv_heads, head_dim)
        return cls(
            k=torch.zeros(shape, dtype=dtype, device=device),
            v=torch.zeros(shape, dtype=dtype, device=device),
        )

    @property
    def num_slots(self) -> int:
        return self.k.shape[1]

    def write(self, layer: int, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Stores the new tokens' K/V ([T, Hkv, D]) at `slots` ([T]) of one layer."""
        self.k[layer].index_copy_(0, slots, k.to(self.k.dtype))
        self.v[layer].index_copy_(0, slots, v.to(self.v.dtype))

    def gather(self, layer: int, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """K/V at `slots` of any shape [...] as [..., Hkv, D].

        NOTE: index_select on the flat slots, not `k[layer][slots]`: on CPU it is about 4x faster
        for a decode batch's [B, L] slots (the indexing path is generic over index shapes)."""
        flat = slots.reshape(-1)
        shape = (*slots.shape, *self.k.shape[2:])
        k = self.k[layer].index_select(0, flat).view(shape)
        return k, self.v[layer].index_select(0, flat).view(shape)

    def bytes_per_slot(self) -> int:
        per_layer = self.k.shape[2] * self.k.shape[3] * self.k.element_size()
        return 2 * per_layer * self.k.shape[0]
