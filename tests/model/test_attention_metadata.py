"""Which keys a query may see, read through the request→token table."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from runtime.model.forward_batch import ForwardMode, build_batch
from runtime.model.layers.attention_metadata import build_attention_metadata


def _table(rows: int = 2, ctx: int = 16) -> torch.Tensor:
    return torch.arange(rows * ctx, dtype=torch.int64).reshape(rows, ctx) + 100


def test_window_rule_is_q_minus_w_exclusive_to_q_inclusive() -> None:
    """With window W, the query at q sees exactly the keys q - W < k <= q."""
    window, prefix = 4, 9
    batch = build_batch(
        input_ids=[[1]],
        prefix_lens=[prefix],
        req_rows=[1],
        out_slots={},
        mamba_slots=None,
        device="cpu",
    )
    meta = build_attention_metadata(batch, _table(), window)
    table = _table()
    seen = meta.kv_slots[0][meta.mask[0, 0, 0]]
    assert seen.tolist() == table[1, prefix - window + 1 : prefix + 1].tolist()


def test_padded_batch_masks_other_requests_lengths() -> None:
    """In an extend batch of unequal requests, each query sees only its own causal prefix."""
    batch = build_batch(
        input_ids=[[1, 2, 3], [4]],
        prefix_lens=[0, 5],
        req_rows=[0, 1],
        out_slots={},
        mamba_slots=None,
        device="cpu",
    )
    assert batch.mode is ForwardMode.EXTEND
    meta = build_attention_metadata(batch, _table(), None)
    assert meta.mask.shape == (2, 1, 3, 6)
    assert meta.mask[0, 0].sum(-1).tolist() == [1, 2, 3]
    assert meta.mask[1, 0, 0].sum().item() == 6
    assert (meta.kv_slots[0, 3:] == 0).all()  # padding reads the reserved slot 0


@pytest.mark.parametrize("window", [None, 1, 3, 7, 40])
def test_decode_mask_equals_the_general_causal_window_mask(window: int | None) -> None:
    """A decode batch's mask (key validity alone) equals the one the general path builds for
    the same one-token steps, freed slots (0) included."""
    table = _table(rows=4, ctx=32)
    table[2, :5] = 0  # slots that left a window
    lists = {"input_ids": [[1], [2], [3], [4]], "prefix_lens": [3, 17, 9, 30],
             "req_rows": [0, 1, 2, 3], "out_slots": {}, "mamba_slots": None, "device": "cpu"}
    decode = build_batch(**lists)
    assert decode.mode is ForwardMode.DECODE
    general = dataclasses.replace(decode, mode=ForwardMode.EXTEND)
    got = build_attention_metadata(decode, table, window)
    want = build_attention_metadata(general, table, window)
    assert torch.equal(got.kv_slots, want.kv_slots) and torch.equal(got.mask, want.mask)
