"""Offline generation on one loaded model: chunked prefill, then batched decode until each request
hits EOS or its token limit. An interim driver for `poolscope generate` until the scheduler lands;
it reads and writes the model's memory only through MemoryManager, as the scheduler will.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from runtime.memory.checker import CheckMode
from runtime.memory.holdings import ReqMemory
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import LeakPolicy, MemoryConfig
from runtime.memory.pool_tensors import PoolTensors
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


@dataclass(frozen=True)
class MemoryOptions:
    """The checker and fault-point settings a run passes to its MemoryManager."""

    check_mode: CheckMode = CheckMode.IDLE
    on_leak: LeakPolicy = LeakPolicy.COUNT
    faults: frozenset[str] = frozenset()


@dataclass(eq=False)
class _Request:
    mem: ReqMemory
    prompt_len: int
    output: list[int] = field(default_factory=list)
    is_finished: bool = False

    @property
    def prefilled(self) -> bool:
        return self.is_finished or self.mem.held.allocated >= self.prompt_len


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
    """Runs prompts to completion through MemoryManager; pools are sized so all requests fit."""

    def __init__(
        self,
        lm: LoadedModel,
        device: torch.device,
        dtype: torch.dtype,
        memory: MemoryOptions | None = None,
    ) -> None:
        self.lm, self.device, self.dtype = lm, device, dtype
        self.memory = memory or MemoryOptions()

    def generate(self, prompts: list[list[int]], params: GenerationParams) -> GenerationResult:
        self._check(prompts, params)
        self._setup(prompts, params)
        sampler = torch.Generator(device=self.device).manual_seed(params.seed)
        start = time.perf_counter()
        while any(not r.prefilled for r in self.requests):
            self._prefill_chunk(params, sampler)
        mid = time.perf_counter()
        while active := [r for r in self.requests if not r.is_finished]:
            self._decode(active, params, sampler)
        self.mm.check(idle=True)
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
        config = self._memory_config(prompts, params)
        tensors = PoolTensors.allocate(
            self.lm.config, kv_slots={"full": config.full_slots + 1, "swa": config.swa_slots + 1},
            mamba_slots=config.mamba_slots + 1, num_rows=config.req_rows + 1,
            max_context=config.max_context, dtype=self.dtype, device=self.device,
        )  # fmt: skip
        self.mm = MemoryManager(config, tensors)
        self.requests = []
        for i, prompt in enumerate(prompts):
            mem = ReqMemory(f"req-{i}", list(prompt))
            self.mm.match(mem)
            self.mm.admit(mem)
            self.requests.append(_Request(mem, len(prompt)))

    def _memory_config(self, prompts: list[list[int]], params: GenerationParams) -> MemoryConfig:
        model = self.lm.config
        total = sum(len(p) for p in prompts) + len(prompts) * params.max_new_tokens
        window = model.attention.sliding_window if model.num_swa_layers else None
        return MemoryConfig(
            full_slots=total if model.num_full_layers else 0,
            swa_slots=total if window else 0, window=window,
            mamba_slots=len(prompts) if model.num_mamba_layers else 0,
            req_rows=len(prompts),
            max_context=max(len(p) for p in prompts) + params.max_new_tokens,
            check_mode=self.memory.check_mode, on_leak=self.memory.on_leak,
            faults=self.memory.faults,
        )  # fmt: skip

    def _step(self, reqs: list[_Request], new_ids: list[list[int]]) -> torch.Tensor:
        """Takes slots for the new tokens through the memory manager, runs the model."""
        prefix = [r.mem.held.allocated for r in reqs]
        out_slots: dict[str, list[list[int]]] = {kind: [] for kind in self.mm.pools.kv}
        for req, ids in zip(reqs, new_ids, strict=True):
            slots = self.mm.alloc_extend(req.mem, len(ids))
            for kind in out_slots:
                out_slots[kind].append(slots[kind])
        batch = build_batch(
            input_ids=new_ids,
            prefix_lens=prefix,
            req_rows=[r.mem.held.row for r in reqs],
            out_slots=out_slots,
            mamba_slots=[r.mem.held.mamba.working for r in reqs] if self.mm.pools.mamba else None,
            device=self.device,
        )
        logits = self.lm.model(batch, self.mm.pools.tensors)
        for req in reqs:
            self.mm.after_forward(req.mem)
        self.mm.check(idle=False)
        return logits

    def _prefill_chunk(self, params: GenerationParams, sampler: torch.Generator) -> None:
        reqs = [r for r in self.requests if not r.prefilled]
        chunks = [
            r.mem.tokens[r.mem.held.allocated : r.mem.held.allocated + params.chunk_size]
            for r in reqs
        ]
        logits = self._step(reqs, chunks)
        done = [i for i, r in enumerate(reqs) if r.prefilled]
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
        req.mem.tokens.append(token)
        is_eos = token in self.lm.tokenizer.eos_token_ids and not params.ignore_eos
        if is_eos or len(req.output) >= params.max_new_tokens:
            req.is_finished = True
            self.mm.finish(req.mem)


def sample(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> list[int]:
    """[B, V] -> one token id per row: argmax at temperature 0, else a draw from softmax(l / t)."""
    if temperature == 0:
        return logits.argmax(-1).tolist()
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1).tolist()
