"""Checks a new request against the model and the pools before it is queued."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.errors import InvalidRequest
from runtime.memory.memory_config import MemoryConfig
from runtime.scheduler.sampling_params import SamplingParams


def check_prompt(
    ids: Sequence[int],
    history: int,
    params: SamplingParams,
    vocab_size: int,
    max_context: int,
    memory: MemoryConfig,
) -> None:
    """Raises InvalidRequest for an empty prompt, ids outside the vocabulary, a request whose
    prompt plus max_tokens exceeds the context, or a prompt the KV pools could never hold."""
    if not ids:
        raise InvalidRequest("the prompt is empty", param="prompt")
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise InvalidRequest(f"token ids {bad[:5]} are outside the vocabulary [0, {vocab_size})",
                             param="prompt")  # fmt: skip
    total = history + len(ids)
    if total >= max_context:
        raise InvalidRequest(
            f"the prompt has {total} tokens{_session(history)}, but this model's maximum "
            f"context length is {max_context} tokens", param="prompt",
        )  # fmt: skip
    if total + params.max_tokens > max_context:
        raise InvalidRequest(
            f"this model's maximum context length is {max_context} tokens; the prompt has "
            f"{total}{_session(history)} and max_tokens asks for {params.max_tokens} more "
            f"(at most {max_context - total})", param="max_tokens",
        )  # fmt: skip
    if memory.full_slots and total + 1 > memory.full_slots:
        raise InvalidRequest(
            f"the prompt needs {total + 1} full-attention KV slots but the pool holds "
            f"{memory.full_slots}", param="prompt",
        )  # fmt: skip


def _session(history: int) -> str:
    return f" ({history} of them the session's history)" if history else ""
