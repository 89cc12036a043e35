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
    prompt plus max_tokens exceeds the context, or one the KV pools could never hold even with
    nothing else in them (so a request that passes never fails for memory, it only waits)."""
    check_ids(ids, vocab_size)
    total = history + len(ids)
    if total >= max_context:
        raise InvalidRequest(
            f"the prompt has {total} tokens{_session(history)}, but this model's maximum "
            f"context length is {max_context} tokens", param="prompt",
        )
    if total + params.max_tokens > max_context:
        raise InvalidRequest(
            f"this model's maximum context length is {max_context} tokens; the prompt has "
            f"{total}{_session(history)} and max_tokens asks for {params.max_tokens} more "
            f"(at most {max_context - total})", param="max_tokens",
        )
    if memory.full_slots and total + 1 > memory.full_slots:
        raise InvalidRequest(
            f"the prompt needs {total + 1} full-attention KV slots but the pool holds "
            f"{memory.full_slots}", param="prompt",
        )
    room = max_new_tokens(memory, total)
    if room is not None and params.max_tokens > room:
        raise InvalidRequest(
            f"the prompt has {total} tokens{_session(history)} and max_tokens asks for "
            f"{params.max_tokens} more, but the KV pool holds {token_capacity(memory)} tokens: "
            f"even alone this request could get at most {room}", param="max_tokens",
        )


def check_ids(ids: Sequence[int], vocab_size: int) -> None:
    """Raises InvalidRequest for an empty prompt or ids outside the vocabulary."""
    if not ids:
        raise InvalidRequest("the prompt is empty", param="prompt")
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise InvalidRequest(f"token ids {bad[:5]} are outside the vocabulary [0, {vocab_size})",
                             param="prompt")


def max_new_tokens(memory: MemoryConfig, total: int) -> int | None:
    """The most tokens a request with `total` tokens could generate in the empty pools (the
    last sampled token is never fed back, so it takes no slot); None when no pool bounds it."""
    capacity = token_capacity(memory)
    return capacity - total + 1 if capacity else None


def token_capacity(memory: MemoryConfig) -> int:
    """Tokens one request could ever hold: the full-attention pool, or under the host tier the
    host pool (the device keeps only a bounded buffer); 0 when no pool bounds it."""
    return memory.host_slots if memory.host_tier is not None else memory.full_slots


def check_text(text: str, param: str) -> str:
    """Returns `text` if it is valid Unicode the tokenizer can encode; raises InvalidRequest
    naming `param` otherwise."""
    problem = unicode_problem(text)
    if problem is not None:
        raise InvalidRequest(f"{param} is {problem}", param=param)
    return text


def unicode_problem(text: str) -> str | None:
    """What makes `text` unencodable as UTF-8 (a lone surrogate, as the JSON escape "\\ud800"
    gives), or None when it is valid text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"not valid Unicode text: a lone surrogate {text[exc.start]!r} at character "
                f"{exc.start} (send UTF-8 text, or a complete surrogate pair in JSON)")
    return None


def _session(history: int) -> str:
    return f" ({history} of them the session's history)" if history else ""
