"""Runs one scheduled batch through the model and returns each request's next-token logits."""

from __future__ import annotations

import torch

from runtime.memory.pool_tensors import PoolTensors
from runtime.model.causal_lm import CausalLM
from runtime.model.forward_batch import build_batch
from runtime.scheduler.batch import ScheduledBatch


class ModelRunner:
    """Holds the model and the pool tensors it reads and writes; stateless between steps."""

    def __init__(self, model: CausalLM, tensors: PoolTensors, device: torch.device) -> None:
        self.model, self.tensors, self.device = model, tensors, device

    @torch.inference_mode()
    def forward(self, batch: ScheduledBatch) -> torch.Tensor:
        """[B, V] logits of each request's last new token (fp32)."""
        mamba = None
        if self.tensors.mamba is not None:
            mamba = [r.mem.held.mamba.working or 0 for r in batch.reqs]
        forward_batch = build_batch(
            input_ids=batch.input_ids,
            prefix_lens=batch.prefix_lens,
            req_rows=[r.mem.held.row for r in batch.reqs],
            out_slots={
                k: batch.out_slots.get(k, [[] for _ in batch.reqs]) for k in self.tensors.kv
            },
            mamba_slots=mamba,
            device=self.device,
        )
        return self.model(forward_batch, self.tensors).float()
