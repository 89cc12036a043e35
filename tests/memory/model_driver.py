"""Runs a real model through MemoryManager (one request: chunked prefill, greedy decode)."""

from __future__ import annotations

import torch

from runtime.memory.holdings import ReqMemory
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_tensors import PoolTensors
from runtime.model.forward_batch import build_batch
from runtime.model.loader import LoadedModel
from telemetry.pool_stats import PoolStats


def manager_for(lm: LoadedModel, config: MemoryConfig) -> MemoryManager:
    ps = config.page_size
    tensors = PoolTensors.allocate(
        lm.config, kv_slots={"full": config.full_slots + ps, "swa": config.swa_slots + ps},
        mamba_slots=config.mamba_slots + 1, num_rows=config.req_rows + 1,
        max_context=config.max_context, dtype=torch.float32, device="cpu",
        host_slots=config.host_slots + ps if config.host_slots else 0,
    )
    return MemoryManager(config, tensors)


def _forward(lm: LoadedModel, mm: MemoryManager, req: ReqMemory, n: int) -> torch.Tensor:
    start = req.held.allocated
    slots = mm.alloc_extend(req, n)
    tensors = mm.pools.tensors
    assert tensors is not None
    batch = build_batch(
        input_ids=[req.tokens[start : start + n]], prefix_lens=[start], req_rows=[req.held.row],
        out_slots={k: [slots[k]] for k in tensors.kv},
        mamba_slots=[req.held.mamba.working] if tensors.mamba is not None else None,
        device="cpu",
    )
    with torch.no_grad():
        logits = lm.model(batch, tensors)
    mm.after_forward(req)
    return logits[-1]


def serve(
    lm: LoadedModel, mm: MemoryManager, prompt: list[int], decode: int, chunk: int = 16
) -> tuple[list[torch.Tensor], list[PoolStats]]:
    """Logits of every step that samples (end of prefill, then each decode) and the stats
    after each step; the request is finished at the end."""
    req = ReqMemory("r", list(prompt))
    mm.match(req)
    assert mm.can_admit(req, min(chunk, len(prompt) - req.held.allocated))
    mm.admit(req)
    while req.held.allocated < len(prompt):
        last = _forward(lm, mm, req, min(chunk, len(prompt) - req.held.allocated))
    logits, stats = [last], [mm.stats()]
    for _ in range(decode):
        req.tokens.append(int(logits[-1].argmax()))
        logits.append(_forward(lm, mm, req, 1))
        stats.append(mm.stats())
        assert mm.check(idle=False) == []
    req.tokens.append(int(logits[-1].argmax()))
    mm.finish(req)
    assert mm.check(idle=True) == []
    return logits, stats
