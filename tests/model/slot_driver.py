"""Test harness: runs a poolscope model with KV and state in scattered, interleaved slots."""

from __future__ import annotations

import random

import torch

from runtime.memory.pool_tensors import PoolTensors
from runtime.model.forward_batch import build_batch
from runtime.model.loader import LoadedModel


class SlotDriver:
    """Gives every new token a slot drawn from a shuffled free list, so requests interleave."""

    def __init__(self, lm: LoadedModel, num_slots: int = 512, seed: int = 0) -> None:
        self.lm = lm
        self.pools = PoolTensors.allocate(
            lm.config,
            kv_slots={"full": num_slots, "swa": num_slots},
            mamba_slots=16,
            num_rows=8,
            max_context=256,
            dtype=torch.float32,
            device="cpu",
        )
        rng = random.Random(seed)
        self.free = {kind: rng.sample(range(1, num_slots), num_slots - 1) for kind in self.pools.kv}
        self.lengths: dict[int, int] = {}

    def step(
        self,
        rows: list[int],
        mamba_slots: list[int],
        new_ids: list[list[int]],
        *,
        all_logits: bool = False,
    ) -> torch.Tensor:
        prefix = [self.lengths.get(r, 0) for r in rows]
        out_slots: dict[str, list[list[int]]] = {k: [] for k in self.pools.kv}
        for row, start, ids in zip(rows, prefix, new_ids, strict=True):
            for kind in self.pools.kv:
                slots = [self.free[kind].pop() for _ in ids]
                self.pools.req_to_token.write(kind, row, start, torch.tensor(slots))
                out_slots[kind].append(slots)
            self.lengths[row] = start + len(ids)
        batch = build_batch(
            input_ids=new_ids,
            prefix_lens=prefix,
            req_rows=rows,
            out_slots=out_slots,
            mamba_slots=mamba_slots,
            device="cpu",
            return_all_logits=all_logits,
        )
        return self.lm.model(batch, self.pools)
