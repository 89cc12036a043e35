"""Mamba2's state-space recurrence as pure functions: a chunked scan for multi-token extends and
a single-step update for decode. Both run in fp32; the state is
h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t and the output y_t = C_t · h_t (the caller adds D x_t).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from runtime.model.layers.dtypes import fp32


def segment_sums(a: torch.Tensor) -> torch.Tensor:
    """[..., Q] -> [..., Q, Q] with out[i, j] = a[j+1] + ... + a[i] for j <= i, -inf above.

    Built by a masked cumulative sum rather than differences of a cumsum, which would cancel
    catastrophically for long decaying chunks.
    """
    q = a.shape[-1]
    grid = a[..., :, None].expand(*a.shape, q)  # grid[i, j] = a[i]
    strictly_lower = torch.tril(torch.ones(q, q, dtype=torch.bool, device=a.device), diagonal=-1)
    sums = torch.cumsum(grid.masked_fill(~strictly_lower, 0.0), dim=-2)
    lower = torch.tril(torch.ones(q, q, dtype=torch.bool, device=a.device))
    return sums.masked_fill(~lower, float("-inf"))


def _chunk(t: torch.Tensor, q: int) -> torch.Tensor:
    """[b, l, ...] (l a multiple of q) -> [b, l/q, q, ...]."""
    return t.unflatten(1, (t.shape[1] // q, q))


def ssd_chunk_scan(
    x: torch.Tensor,  # [b, l, h, p]
    dt: torch.Tensor,  # [b, l, h], already softplus'd; 0 on padding makes a position a no-op
    a: torch.Tensor,  # [h], negative
    b_in: torch.Tensor,  # [b, l, g, n]: g groups, each shared by h / g consecutive heads
    c_in: torch.Tensor,  # [b, l, g, n]
    chunk_size: int,
    initial_state: torch.Tensor,  # [b, h, p, n]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Runs the scan over l positions in chunks; returns y [b, l, h, p] and the final state.

    B and C stay per group (g = h gives one per head): the C.B products are computed once per
    group and broadcast over its heads, instead of over B and C repeated to every head, which
    cost a prefill h / g times the FLOPs and copies.
    """
    batch, length, heads, head_dim = x.shape
    groups = b_in.shape[2]
    if heads % groups:
        raise ValueError(f"{heads} heads do not split into {groups} groups")
    pad = (-length) % chunk_size
    x, dt, b_in, c_in = (
        F.pad(t.float(), (0, 0) * (t.dim() - 2) + (0, pad)) for t in (x, dt, b_in, c_in)
    )
    per_group = heads // groups
    xdt = _chunk(x * dt[..., None], chunk_size).unflatten(3, (groups, per_group))  # [b,c,q,g,r,p]
    decay = _chunk(dt * a.float(), chunk_size).permute(0, 3, 1, 2)  # [b, h, c, q]
    bc, cc = _chunk(b_in, chunk_size), _chunk(c_in, chunk_size)  # [b, c, q, g, n]
    decay_cum = torch.cumsum(decay, dim=-1)  # [b, h, c, q]

    def by_group(t: torch.Tensor) -> torch.Tensor:  # [b, h, ...] -> [b, g, r, ...]
        return t.unflatten(1, (groups, per_group))

    # Within a chunk: y_l = sum_{s<=l} (C_l . B_s) exp(sum decay (s, l]) x_s dt_s.
    within = by_group(torch.exp(segment_sums(decay)))  # [b, g, r, c, l, s]
    scores = torch.einsum("bclgn,bcsgn->bgcls", cc, bc)[:, :, None] * within
    y_within = torch.einsum("bgrcls,bcsgrp->bclgrp", scores, xdt)

    # State each chunk adds by its end, then carried across chunks from the initial state.
    to_end = by_group(torch.exp(decay_cum[..., -1:] - decay_cum))  # [b, g, r, c, q]
    chunk_states = torch.einsum("bclgn,bgrcl,bclgrp->bcgrpn", bc, to_end, xdt)
    chunk_states = chunk_states.flatten(2, 3)  # [b, c, h, p, n]
    states = torch.cat([initial_state.float()[:, None], chunk_states], dim=1)  # [b, c+1, h, p, n]
    across = torch.exp(segment_sums(F.pad(decay_cum[..., -1], (1, 0))))  # [b, h, c+1, c+1]
    states = torch.einsum("bhzc,bchpn->bzhpn", across, states)
    start_states, final_state = states[:, :-1], states[:, -1]

    # Contribution of each chunk's start state to its positions.
    y_carry = torch.einsum(
        "bclgn,bcgrpn,bgrcl->bclgrp",
        cc, start_states.unflatten(2, (groups, per_group)), by_group(torch.exp(decay_cum)),
    )
    y = (y_within + y_carry).flatten(3, 4).flatten(1, 2)[:, :length]  # [b, l, h, p]
    return y, final_state


def ssd_step_(
    state: torch.Tensor,  # [b, h, p, n] fp32, updated in place
    x: torch.Tensor,  # [b, h, p]
    dt: torch.Tensor,  # [b, h], already softplus'd
    a: torch.Tensor,  # [h]
    b_in: torch.Tensor,  # [b, g, n], one per group of h/g consecutive heads
    c_in: torch.Tensor,  # [b, g, n]
) -> torch.Tensor:
    """One recurrence step for decode, the state updated in place (no [b, h, p, n] temporaries):
    h = exp(dt a) h + dt x B, y = C . h. B and C are per group (head i reads group i // (h/g), as
    repeating them per head would give). Returns y [b, h, p]."""
    bsz, h, p, n = state.shape
    g = b_in.shape[1]
    dt = fp32(dt)
    grouped = state.view(bsz, g, h // g, p, n)
    grouped.mul_(torch.exp(dt * fp32(a)).view(bsz, g, h // g, 1, 1))
    dtx = (dt[..., None] * fp32(x)).view(bsz, g, h // g, p, 1)
    grouped.addcmul_(dtx, fp32(b_in)[:, :, None, None, :])
    y = grouped.view(bsz, g, h // g * p, n) @ fp32(c_in)[..., None]  # [b, g, h/g * p, 1]
    return y.view(bsz, h, p)
