"""Per-request sampling parameters, with OpenAI semantics and range checks.

`SamplingParams()` is plain sampling at temperature 1 for 16 tokens. Penalties follow two
conventions: `repetition_penalty` is HF-style (tokens seen in the prompt or the output have
positive logits divided by it and negative ones multiplied), while `frequency_penalty` and
`presence_penalty` are OpenAI-style and count OUTPUT tokens only:
`logit -= frequency_penalty * count + presence_penalty * (count > 0)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidRequest

MAX_STOP_STRINGS = 16
MAX_TOP_LOGPROBS = 20
PENALTY_RANGE = 2.0
_SEED_LIMIT = 1 << 64  # torch.Generator.manual_seed takes a 64-bit unsigned seed
# Temperatures below this are greedy: dividing float32 logits by, say, 1e-45 (or by 1e-300,
# which float32 rounds to 0) gives inf and then NaN probabilities; at 1e-5 a logit gap of
# 0.001 already makes the top token 1e43 times likelier, so nothing is lost.
GREEDY_TEMPERATURE = 1e-5


@dataclass(frozen=True)
class SamplingParams:
    """How one request picks its tokens; every field is range-checked on construction.

    `temperature < GREEDY_TEMPERATURE` (1e-5; 0 included) is greedy; `top_k == -1` turns top-k
    off; `logprobs` is None (off), 0 (the chosen token's logprob only) or 1..20 (also that many
    top alternatives). Construction raises InvalidRequest (a ValueError) naming the first bad
    field and its value, with `param` set.
    """

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logprobs: int | None = None

    def __post_init__(self) -> None:
        for name, is_valid, expected in _RULES:
            value = getattr(self, name)
            if not is_valid(value):
                raise InvalidRequest(f"{name} must be {expected}, got {value!r}", param=name)

    @property
    def is_greedy(self) -> bool:
        """True when the token is always the argmax: temperature below GREEDY_TEMPERATURE (0
        included) or top_k 1."""
        return self.temperature < GREEDY_TEMPERATURE or self.top_k == 1

    @property
    def needs_penalties(self) -> bool:
        """True when any of the three penalties changes the logits."""
        return (
            self.repetition_penalty != 1.0
            or self.frequency_penalty != 0.0
            or self.presence_penalty != 0.0
        )


def _is_int(value: Any) -> bool:
    # NOTE: bool is a subclass of int; `max_tokens=True` is a caller bug, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: _is_real(v) and low <= v <= high


def _valid_seed(value: Any) -> bool:
    return value is None or (_is_int(value) and 0 <= value < _SEED_LIMIT)


def _valid_logprobs(value: Any) -> bool:
    return value is None or (_is_int(value) and 0 <= value <= MAX_TOP_LOGPROBS)


def _is_text(value: Any) -> bool:
    """A non-empty str of valid Unicode (no lone surrogate: it could never match output)."""
    if not isinstance(value, str) or value == "":
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_stop(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) <= MAX_STOP_STRINGS
        and all(_is_text(s) for s in value)
    )


def _valid_stop_ids(value: Any) -> bool:
    return isinstance(value, tuple) and all(_is_int(t) and t >= 0 for t in value)


_PENALTY = _in_range(-PENALTY_RANGE, PENALTY_RANGE)

# (field, check, what a valid value is): the checks run in this order.
_RULES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("max_tokens", lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    ("temperature", lambda v: _is_real(v) and v >= 0, "a finite number >= 0"),
    ("top_p", lambda v: _is_real(v) and 0 < v <= 1, "in (0, 1]"),
    ("top_k", lambda v: _is_int(v) and (v == -1 or v >= 1), "-1 (off) or an int >= 1"),
    ("min_p", _in_range(0.0, 1.0), "in [0, 1]"),
    ("seed", _valid_seed, "None or an int in [0, 2**64)"),
    ("stop", _valid_stop, f"a tuple of at most {MAX_STOP_STRINGS} non-empty Unicode strings"),
    ("stop_token_ids", _valid_stop_ids, "a tuple of ints >= 0"),
    ("ignore_eos", lambda v: isinstance(v, bool), "a bool"),
    ("repetition_penalty", lambda v: _is_real(v) and v > 0, "a finite number > 0"),
    ("frequency_penalty", _PENALTY, f"in [-{PENALTY_RANGE}, {PENALTY_RANGE}]"),
    ("presence_penalty", _PENALTY, f"in [-{PENALTY_RANGE}, {PENALTY_RANGE}]"),
    ("logprobs", _valid_logprobs, f"None or an int in [0, {MAX_TOP_LOGPROBS}]"),
)
