"""A request as the scheduler sees it, and the output deltas it streams back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import torch

from runtime.memory.holdings import ReqMemory
from runtime.scheduler.outcomes import FinishReason
from runtime.scheduler.sampler import SampledToken
from runtime.scheduler.sampling_params import SamplingParams
from runtime.scheduler.text_stream import TextStream


class AbortCode(Enum):
    """Why an aborted request ended; the server answers each with its own status."""

    CLIENT = "client_abort"  # the client went away: nobody reads the answer
    SESSION_CLOSED = "session_closed_during_turn"  # its client closed the session
    POOLS_BUSY = "pools_busy"  # waited the queue timeout without memory to start
    OOM = "out_of_memory"  # cannot fit even with nothing else holding memory
    SHUTTING_DOWN = "server_shutting_down"  # still running when the drain timed out
    ENGINE_STOPPED = "engine_stopped"  # the engine loop failed


@dataclass(frozen=True)
class RequestOutput:
    """What one step added to a request: new text, ids and logprobs; the last one is final."""

    rid: str
    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[SampledToken, ...]
    finish_reason: FinishReason | None = None
    error: str | None = None
    error_code: AbortCode | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


OutputSink = Callable[[RequestOutput], None]


@dataclass(eq=False)
class Request:
    """One completion. `mem.tokens` holds the session history, the prompt and the output so
    far; positions below `mem.held.allocated` have KV (or state) in the pools."""

    rid: str
    mem: ReqMemory
    prompt_len: int  # tokens before the first output (session history included)
    params: SamplingParams
    text: TextStream | None  # None when the engine produces no text and no stop string is set
    generator: torch.Generator | None
    emits_text: bool = True  # False: outputs carry token ids only (a frontend detokenizes)
    sink: OutputSink | None = None
    session_id: str | None = None
    output_ids: list[int] = field(default_factory=list)
    logprobs: list[SampledToken] = field(default_factory=list)
    is_prefilling: bool = False  # admitted, with tokens still to run before the next sample
    cached_tokens: int = 0  # prefix hit of the first admission
    num_retractions: int = 0
    arrival: float = field(default_factory=time.perf_counter)
    queued_at: float = field(default_factory=time.perf_counter)  # last (re)queued
    first_token_at: float | None = None  # perf_counter time of the first output token
    last_token_at: float = 0.0
    finish_reason: FinishReason | None = None
    error: str | None = None
    error_code: AbortCode | None = None
    max_context: int = 0  # the engine's context limit, a hard stop

    @property
    def tokens(self) -> list[int]:
        return self.mem.tokens

    @property
    def prompt_ids(self) -> list[int]:
        return self.mem.tokens[: self.prompt_len]

    @property
    def is_finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def tokens_to_run(self) -> int:
        """Tokens not yet in the pools (the last sampled one included)."""
        return len(self.mem.tokens) - self.mem.held.allocated
