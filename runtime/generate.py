"""Offline generation on one loaded model: chunked prefill, then batched decode until each request
hits EOS or its token limit. An interim driver for `poolscope generate` until the scheduler lands;
it still reads and writes the model's memory only through pool slots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from runtime.memory.pool_tensors import PoolTensors
from runtime.memory.slot_allocator import SlotAllocator
from runtime.model.forward_batch import build_batch
from runtime.model.loader import LoadedModel


@dataclass(frozen=True)
class GenerationParams:
    """Sampling and batching knobs; temperature 0 means greedy."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    seed: int = 0
    chunk_size: int = 256
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")


@dataclass
class _Request:
    row: int
    prompt: list[int]
    mamba_slot: int
    output: list[int] = field(default_factory=list)
    slots: dict[str, list[int]] = field(default_factory=dict)
    # Counted, not derived from `slots`: a model without attention layers has no KV slots at all.
    num_cached: int = 0
    is_finished: bool = False


@dataclass
class GenerationResult:
    """Generated ids per prompt, plus the wall time of prefill and decode."""

    outputs: list[list[int]]
    prefill_seconds: float
    decode_seconds: float

    @property
    def num_generated(self) -> int:
        return sum(len(o) for o in self.outputs)


class Generator:
    """Runs prompts to completion. Pools are sized so that every request fits at once."""

    def __init__(self, lm: LoadedModel, device: torch.device, dtype: torch.dtype) -> None:
        self.lm, self.device, self.dtype = lm, device, dtype

    def generate(self, prompts: list[list[int]], params: GenerationParams) -> GenerationResult:
        self._check(prompts, params)
        self._setup(prompts, params)
        sampler = torch.Generator(device=self.device).manual_seed(params.seed)
        start = time.perf_counter()
        while any(len(r.prompt) > r.num_cached for r in self.requests):
            self._prefill_chunk(params, sampler)
        mid = time.perf_counter()
        while active := [r for r in self.requests if not r.is_finished]:
            self._decode(active, params, sampler)
        outputs = [r.output for r in self.requests]
        return GenerationResult(outputs, mid - start, time.perf_counter() - mid)

    def _check(self, prompts: list[list[int]], params: GenerationParams) -> None:
        limit = self.lm.config.max_position_embeddings
        for i, prompt in enumerate(prompts):
            if not prompt:
                raise ValueError(f"prompt {i} is empty")
            if len(prompt) + params.max_new_tokens > limit:
                raise ValueError(
                    f"prompt {i} has {len(prompt)} tokens; with max_new_tokens="
                    f"{params.max_new_tokens} it exceeds the model context of {limit}"
                )

    def _setup(self, prompts: list[list[int]], params: GenerationParams) -> None:
        total = sum(len(p) for p in prompts) + len(prompts) * params.max_new_tokens + 1
        self.pools = PoolTensors.allocate(
            self.lm.config,
            kv_slots={"full": total, "swa": total},
            mamba_slots=len(prompts) + 1,
            num_rows=len(prompts),
            max_context=max(len(p) for p in prompts) + params.max_new_tokens,
            dtype=self.dtype,
            device=self.device,
        )
        self.allocators = {kind: SlotAllocator(total) for kind in self.pools.kv}
        mamba = SlotAllocator(len(prompts) + 1)
        self.requests = [
            _Request(
                row=i,
                prompt=list(p),
                mamba_slot=mamba.allocate(1)[0],
                slots={k: [] for k in self.pools.kv},
            )
            for i, p in enumerate(prompts)
        ]

    def _step(self, reqs: list[_Request], new_ids: list[list[int]]) -> torch.Tensor:
        """Allocates slots for the new tokens, records them in each row, runs the model."""
        prefix = [r.num_cached for r in reqs]
        out_slots: dict[str, list[list[int]]] = {kind: [] for kind in self.pools.kv}
        for req, ids, start in zip(reqs, new_ids, prefix, strict=True):
            for kind, allocator in self.allocators.items():
                slots = allocator.allocate(len(ids))
                self.pools.req_to_token.write(
                    kind, req.row, start, torch.tensor(slots, device=self.device)
                )
                req.slots[kind].extend(slots)
                out_slots[kind].append(slots)
            req.num_cached += len(ids)
        batch = build_batch(
            input_ids=new_ids,
            prefix_lens=prefix,
            req_rows=[r.row for r in reqs],
            out_slots=out_slots,
            mamba_slots=[r.mamba_slot for r in reqs],
            device=self.device,
        )
        return self.lm.model(batch, self.pools)

    def _prefill_chunk(self, params: GenerationParams, sampler: torch.Generator) -> None:
        reqs = [r for r in self.requests if len(r.prompt) > r.num_cached]
        chunks = [r.prompt[r.num_cached : r.num_cached + params.chunk_size] for r in reqs]
        logits = self._step(reqs, chunks)
        done = [i for i, r in enumerate(reqs) if r.num_cached == len(r.prompt)]
        if done:
            tokens = sample(logits[done], params.temperature, sampler)
            for i, token in zip(done, tokens, strict=True):
                self._append(reqs[i], token, params)

    def _decode(
        self, reqs: list[_Request], params: GenerationParams, sampler: torch.Generator
    ) -> None:
        logits = self._step(reqs, [[r.output[-1]] for r in reqs])
        for req, token in zip(reqs, sample(logits, params.temperature, sampler), strict=True):
            self._append(req, token, params)

    def _append(self, req: _Request, token: int, params: GenerationParams) -> None:
        req.output.append(token)
        is_eos = token in self.lm.tokenizer.eos_token_ids and not params.ignore_eos
        if is_eos or len(req.output) >= params.max_new_tokens:
            req.is_finished = True
            for kind, allocator in self.allocators.items():
                allocator.free(req.slots[kind])


def sample(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> list[int]:
    """[B, V] -> one token id per row: argmax at temperature 0, else a draw from softmax(l / t)."""
    if temperature == 0:
        return logits.argmax(-1).tolist()
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1).tolist()
