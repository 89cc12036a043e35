"""GQA attention over paged KV pools, for full and sliding-window layers, with or without RoPE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from runtime.memory.pool_tensors import PoolTensors
from runtime.model.config import AttentionConfig
from runtime.model.forward_batch import ForwardBatch, ForwardMode
from runtime.model.layers.attention_metadata import AttentionMetadata, build_attention_metadata
from runtime.model.layers.dtypes import cast
from runtime.model.layers.fused_linear import FusedOwner
from runtime.model.layers.norm import GemmaRMSNorm
from runtime.model.layers.rope import RotaryEmbedding, apply_rotary


class Attention(FusedOwner):
    """One attention layer. Writes its new K/V into pool `pool` at the batch's slots, then attends
    over each request's keys gathered through the request→token table.

    `layer_in_pool` is this layer's index among the layers sharing the pool's buffer.
    """

    def __init__(
        self,
        cfg: AttentionConfig,
        hidden: int,
        *,
        pool: str,
        layer_in_pool: int,
        window: int | None,
        rope_base: float | None,
        rope_factor: float = 1.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = (
            cfg.num_heads,
            cfg.num_kv_heads,
            cfg.head_dim,
        )
        self.scaling = cfg.scaling
        self.pool, self.layer_in_pool, self.window = pool, layer_in_pool, window
        self.q_proj = nn.Linear(hidden, cfg.num_heads * cfg.head_dim, bias=cfg.bias)
        self.k_proj = nn.Linear(hidden, cfg.num_kv_heads * cfg.head_dim, bias=cfg.bias)
        self.v_proj = nn.Linear(hidden, cfg.num_kv_heads * cfg.head_dim, bias=cfg.bias)
        self.o_proj = nn.Linear(cfg.num_heads * cfg.head_dim, hidden, bias=cfg.bias)
        if cfg.qk_norm:
            self.q_norm = GemmaRMSNorm(cfg.head_dim, norm_eps)
            self.k_norm = GemmaRMSNorm(cfg.head_dim, norm_eps)
        self.rotary = RotaryEmbedding(cfg.head_dim, rope_base, rope_factor) if rope_base else None
        self.rope_key = ("rope", rope_base, rope_factor)
        self.fuse("qkv", self.q_proj, self.k_proj, self.v_proj)

    def forward(self, x: torch.Tensor, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        q, k, v = self.qkv(x)
        q = q.unflatten(-1, (self.num_heads, self.head_dim))  # [T, H, D]
        k = k.unflatten(-1, (self.num_kv_heads, self.head_dim))  # [T, Hkv, D]
        v = v.unflatten(-1, (self.num_kv_heads, self.head_dim))  # [T, Hkv, D]
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rotary is not None:
            cos, sin = batch.memo(self.rope_key, lambda: self._cos_sin(batch, x))
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        pools.kv[self.pool].write(self.layer_in_pool, batch.out_slots[self.pool], k, v)
        # Part by part, each padded only to its own longest: queries for extends, keys for decodes.
        if batch.mode is ForwardMode.DECODE:
            parts = batch.key_parts(self.window)
        else:
            parts = batch.parts()
        if len(parts) == 1:
            out = self._attend(q, batch, pools)
        else:
            out = torch.empty_like(q)  # [T, H, D]
            for rows, part in parts:
                out[rows] = self._attend(q[rows], part, pools)
        return self.o_proj(out.flatten(-2))

    def _attend(self, q: torch.Tensor, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        """Attention of one part's queries [T, H, D] over its requests' keys -> [T, H, D]."""
        meta = self._metadata(batch, pools)
        keys, values = pools.kv[self.pool].gather(self.layer_in_pool, meta.kv_slots)
        out = F.scaled_dot_product_attention(
            batch.to_padded(q).transpose(1, 2),  # [B, H, Lq, D]
            cast(keys.transpose(1, 2), q.dtype),  # [B, Hkv, Lkv, D]
            cast(values.transpose(1, 2), q.dtype),
            attn_mask=meta.mask,
            scale=self.scaling,
            enable_gqa=self.num_heads != self.num_kv_heads,
        )  # [B, H, Lq, D]
        return batch.from_padded(out.transpose(1, 2))

    def _cos_sin(self, batch: ForwardBatch, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.rotary is not None
        return self.rotary.cos_sin(batch.positions, x.dtype)

    def _metadata(self, batch: ForwardBatch, pools: PoolTensors) -> AttentionMetadata:
        table = pools.req_to_token.tables[self.pool]
        key = ("attention", self.pool, self.window)
        return batch.memo(key, lambda: build_attention_metadata(batch, table, self.window))  # type: ignore[return-value]
