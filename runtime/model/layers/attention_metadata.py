"""Which pool slots each request's queries attend to, built once per batch and pool kind."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from runtime.model.forward_batch import ForwardBatch, ForwardMode


@dataclass(frozen=True)
class AttentionMetadata:
    """Padded key slots per request and the boolean mask of which (query, key) pairs may attend."""

    kv_slots: torch.Tensor  # [B, Lkv] int64, 0 where padded
    mask: torch.Tensor  # [B, 1, Lq, Lkv] bool


def build_attention_metadata(
    batch: ForwardBatch, table: torch.Tensor, window: int | None
) -> AttentionMetadata:
    """Gathers keys from each request's row of `table` ([rows, ctx]).

    With a window W, a query at q sees keys q - W < k <= q, so only positions from
    prefix - W + 1 on are read: slots that left the window may already be freed (0).
    Positions whose slot is 0 are masked out.
    """
    device = batch.input_ids.device
    starts = [max(0, p - window + 1) if window else 0 for p in batch.prefix_list]
    kv_lens = [
        p + n - s for p, n, s in zip(batch.prefix_list, batch.extend_list, starts, strict=True)
    ]
    kv_start = torch.tensor(starts, dtype=torch.int64, device=device)
    kv_len = torch.tensor(kv_lens, dtype=torch.int64, device=device)
    span = torch.arange(max(kv_lens), device=device)
    kv_pos = kv_start[:, None] + span[None, :]  # [B, Lkv]
    kv_valid = span[None, :] < kv_len[:, None]  # [B, Lkv]
    rows = batch.req_rows[:, None]
    kv_slots = table[rows, kv_pos.clamp(max=table.shape[1] - 1)] * kv_valid  # [B, Lkv]
    # Slot 0 is never a real slot: a position whose entry is 0 is not resident (host tier
    # pages not selected for this step) and is not attended to.
    kv_valid = kv_valid & (kv_slots != 0)
    if batch.mode is ForwardMode.DECODE:
        # The one query sits at prefix: every key read (start <= k <= prefix) is causal and
        # inside the window already, so validity is the whole mask.
        return AttentionMetadata(kv_slots=kv_slots, mask=kv_valid[:, None, None, :])

    q_span = torch.arange(batch.max_extend, device=device)
    q_pos = batch.prefix_lens[:, None] + q_span[None, :]  # [B, Lq]
    q_valid = q_span[None, :] < batch.extend_lens[:, None]  # [B, Lq]
    mask = kv_valid[:, None, :] & (kv_pos[:, None, :] <= q_pos[:, :, None])  # [B, Lq, Lkv]
    if window:
        mask &= kv_pos[:, None, :] > q_pos[:, :, None] - window
    # Padded query rows attend to one key so softmax stays finite; their output is dropped.
    mask[:, :, 0] |= ~q_valid
    return AttentionMetadata(kv_slots=kv_slots, mask=mask[:, None])
