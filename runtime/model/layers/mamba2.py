"""The Mamba2 mixer over pooled state: a request's conv window and SSM state live in its slot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from runtime.memory.mamba_buffer import MambaBuffer
from runtime.memory.pool_tensors import PoolTensors
from runtime.model.config import MambaConfig
from runtime.model.forward_batch import ForwardBatch, ForwardMode
from runtime.model.layers.dtypes import cast, fp32
from runtime.model.layers.norm import GatedGroupRMSNorm
from runtime.model.layers.ssd import ssd_chunk_scan, ssd_step_

_T = TypeVar("_T")


class Mamba2Mixer(nn.Module):
    """in_proj -> causal depthwise conv -> selective scan -> gated group norm -> out_proj.

    Reads the initial conv/SSM state from each request's slot (zero for a request with no prefix)
    and writes the final state back to the same slot.
    """

    def __init__(self, cfg: MambaConfig, hidden: int, *, layer_in_pool: int) -> None:
        super().__init__()
        self.cfg, self.layer_in_pool = cfg, layer_in_pool
        inner, conv_dim = cfg.intermediate_size, cfg.conv_dim
        self.in_proj = nn.Linear(hidden, inner + conv_dim + cfg.num_heads, bias=cfg.proj_bias)
        self.conv1d = nn.Conv1d(
            conv_dim, conv_dim, cfg.conv_kernel, groups=conv_dim, bias=cfg.conv_bias
        )
        self.dt_bias = nn.Parameter(torch.ones(cfg.num_heads))
        self.A_log = nn.Parameter(torch.zeros(cfg.num_heads))
        self.D = nn.Parameter(torch.ones(cfg.num_heads))
        self.norm = GatedGroupRMSNorm(inner, cfg.n_groups, cfg.norm_eps)
        self.out_proj = nn.Linear(inner, hidden, bias=cfg.proj_bias)

    def forward(self, x: torch.Tensor, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        cfg = self.cfg
        assert pools.mamba is not None and batch.mamba_slots is not None
        gate, xbc, dt = self.in_proj(x).split(
            [cfg.intermediate_size, cfg.conv_dim, cfg.num_heads], dim=-1
        )  # [T, I], [T, C], [T, H]
        if batch.mode is ForwardMode.DECODE:
            y = self._decode(xbc, dt, _StateRows(batch.mamba_slots, batch.mamba_run), pools.mamba)
        else:  # part by part: the conv and the scan pad each request to the longest
            ys = [self._extend(xbc[t], dt[t], part, pools.mamba) for t, part in batch.parts()]
            y = ys[0] if len(ys) == 1 else torch.cat(ys)
        return self.out_proj(self.norm(y.to(x.dtype), gate))

    def _split_xbc(self, xbc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[..., C] -> x [..., H, P], B [..., G, N], C [..., G, N]: B and C stay per group (each
        shared by H/G consecutive heads); the scan and the step broadcast them."""
        cfg = self.cfg
        group_dim = cfg.n_groups * cfg.state_size
        xs, bs, cs = xbc.split([cfg.intermediate_size, group_dim, group_dim], dim=-1)
        groups = (cfg.n_groups, cfg.state_size)
        xs = xs.unflatten(-1, (cfg.num_heads, cfg.head_dim))
        return xs, bs.unflatten(-1, groups), cs.unflatten(-1, groups)

    def _decode(
        self, xbc: torch.Tensor, dt: torch.Tensor, rows: _StateRows, buf: MambaBuffer
    ) -> torch.Tensor:
        conv = self._conv_step(xbc, rows, buf.conv[self.layer_in_pool])
        xs, bs, cs = self._split_xbc(F.silu(conv))  # [B, H, P], [B, G, N], [B, G, N]
        dt = F.softplus(dt + self.dt_bias)  # NOTE: no dt floor here, as in transformers' decode
        a = -torch.exp(fp32(self.A_log))
        y = rows.update(
            buf.ssm[self.layer_in_pool], lambda state: ssd_step_(state, xs, dt, a, bs, cs)
        )
        return torch.addcmul(y, fp32(self.D)[:, None], fp32(xs)).flatten(-2)

    def _conv_step(self, xbc: torch.Tensor, rows: _StateRows, pool: torch.Tensor) -> torch.Tensor:
        """One causal conv output per channel ([B, C]) over the stored window and the new input,
        which then joins the window. The taps are summed in order with multiply-adds over [B, C]
        planes: a sum over the window's short last dim, and a cat along it, are slow on CPU.
        They accumulate in fp32, as that sum does for bf16/fp16 weights."""
        window = rows.read(pool)  # [B, C, K-1]
        new = cast(xbc, pool.dtype)  # [B, C]
        weight = self.conv1d.weight.squeeze(1)  # [C, K]
        taps = [window[:, :, k] for k in range(window.shape[-1])] + [new]
        conv = fp32(cast(taps[0], weight.dtype)) * fp32(weight[:, 0])
        for k in range(1, len(taps)):
            conv = torch.addcmul(conv, fp32(cast(taps[k], weight.dtype)), fp32(weight[:, k]))
        rows.write(pool, torch.stack(taps[1:], dim=-1))
        conv = cast(conv, weight.dtype)
        return conv if self.conv1d.bias is None else conv + self.conv1d.bias

    def _extend(
        self, xbc: torch.Tensor, dt: torch.Tensor, batch: ForwardBatch, buf: MambaBuffer
    ) -> torch.Tensor:
        layer, slots, cfg = self.layer_in_pool, batch.mamba_slots, self.cfg
        assert slots is not None
        has_prefix = (batch.prefix_lens > 0)[:, None, None]  # [B, 1, 1]
        conv_state = torch.where(has_prefix, buf.conv[layer][slots], 0.0)  # [B, C, K-1]
        seq = torch.cat([conv_state, batch.to_padded(xbc).transpose(1, 2).to(conv_state.dtype)], -1)
        tail = batch.extend_lens[:, None, None] + torch.arange(
            cfg.conv_kernel - 1, device=seq.device
        )
        buf.conv[layer].index_copy_(0, slots, seq.gather(-1, tail.expand(-1, seq.shape[1], -1)))
        conv = F.conv1d(
            seq.to(self.conv1d.weight.dtype),
            self.conv1d.weight,
            self.conv1d.bias,
            groups=cfg.conv_dim,
        )
        xs, bs, cs = self._split_xbc(F.silu(conv.transpose(1, 2)))  # [B, Lq, ...]

        dt = F.softplus(dt + self.dt_bias).clamp(min=cfg.dt_min)  # [T, H]
        dt = batch.to_padded(dt)  # [B, Lq, H]; zero on padding so it leaves the state unchanged
        state = torch.where(has_prefix[..., None], buf.ssm[layer][slots], 0.0)  # [B, H, P, N]
        a = -torch.exp(self.A_log.float())
        y, final = ssd_chunk_scan(xs, dt, a, bs, cs, cfg.chunk_size, state)
        buf.ssm[layer].index_copy_(0, slots, final)
        y = y + self.D.float()[:, None] * xs.float()  # [B, Lq, H, P]
        return batch.from_padded(y).flatten(-2)


@dataclass(frozen=True)
class _StateRows:
    """The batch's state rows of one pool tensor: a strided view when the slots form a run (as
    a batch admitted together gets), else a gather and a scatter."""

    slots: torch.Tensor  # [B]
    run: tuple[int, int] | None  # (first, step)

    def _view(self, pool: torch.Tensor) -> torch.Tensor:
        assert self.run is not None
        first, step = self.run
        return pool[first : first + step * (self.slots.numel() - 1) + 1 : step]

    def read(self, pool: torch.Tensor) -> torch.Tensor:
        """NOTE: a view when the slots form a run: the caller must not write to it in place."""
        return pool.index_select(0, self.slots) if self.run is None else self._view(pool)

    def write(self, pool: torch.Tensor, values: torch.Tensor) -> None:
        if self.run is None:
            pool.index_copy_(0, self.slots, values)
        else:
            self._view(pool).copy_(values)

    def update(self, pool: torch.Tensor, step: Callable[[torch.Tensor], _T]) -> _T:
        """Runs `step` on the rows, which it updates in place, and keeps the update in `pool`:
        directly when they are a view, else by scattering the gathered copy back."""
        if self.run is not None:
            return step(self._view(pool))
        rows = pool.index_select(0, self.slots)
        out = step(rows)
        pool.index_copy_(0, self.slots, rows)
        return out
