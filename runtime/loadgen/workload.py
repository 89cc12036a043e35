"""What `poolscope loadgen` sends: its configuration and the seeded stream of conversations.

A conversation is one plain completion request, or a streaming session of `session_turns`
requests sent one after another on the same server-side session.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runtime.loadgen.lengths import LengthSpec
from runtime.loadgen.token_scale import TokenScale
from runtime.loadgen.words import draw_words

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class LoadgenConfig:
    """One load-generation run. Raises ValueError, naming the field, on any invalid value.

    Closed loop (`request_rate` None): `concurrency` workers each send a request as soon as their
    previous one ends. Open loop: conversations arrive as a Poisson process of `request_rate`
    per second, and `concurrency`, when set, caps the requests in flight (None: no cap).
    No new request starts after `duration_s` or once `max_requests` have started; requests in
    flight then get up to `timeout_s` to finish. A fraction `shared_prefix_share` of the
    conversations start with one common prefix of `shared_prefix_len` words, prepended to the
    sampled prompt. A fraction `session_share` run as sessions of `session_turns` turns.
    Lengths (`prompt_len`, `shared_prefix_len`) are in tokens of the served model, converted to
    words by a TokenScale the runner measures first unless `is_token_scale_measured` is False.
    The run stops early after `max_connect_errors` requests in a row found no server; the CLI
    fails a run whose share of failed requests is above `max_failure_rate`.
    `json_path` None (the default) writes no report file.
    """

    url: str = DEFAULT_URL
    model: str | None = None
    concurrency: int | None = 4
    request_rate: float | None = None
    duration_s: float = 30.0
    max_requests: int | None = None
    prompt_len: LengthSpec = field(default_factory=lambda: LengthSpec(64))
    output_len: LengthSpec = field(default_factory=lambda: LengthSpec(32))
    shared_prefix_share: float = 0.0
    shared_prefix_len: int = 32
    session_share: float = 0.0
    session_turns: int = 3
    seed: int = 0
    api_key: str | None = None
    timeout_s: float = 60.0
    json_path: Path | None = None
    max_failure_rate: float = 0.01
    max_connect_errors: int = 10
    is_token_scale_measured: bool = True

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        if self.model is not None and not self.model:
            raise ValueError("model must be a non-empty name or None (the server's default)")
        _check_positive_int("concurrency", self.concurrency, allow_none=self.is_open_loop)
        _check_positive_float("request_rate", self.request_rate, allow_none=True)
        _check_positive_float("duration_s", self.duration_s)
        _check_positive_int("max_requests", self.max_requests, allow_none=True)
        _check_share("shared_prefix_share", self.shared_prefix_share)
        _check_positive_int("shared_prefix_len", self.shared_prefix_len)
        _check_share("session_share", self.session_share)
        _check_positive_int("session_turns", self.session_turns)
        _check_positive_float("timeout_s", self.timeout_s)
        _check_share("max_failure_rate", self.max_failure_rate)
        _check_positive_int("max_connect_errors", self.max_connect_errors)

    @property
    def is_open_loop(self) -> bool:
        """True when requests arrive at `request_rate` rather than from a fixed set of workers."""
        return self.request_rate is not None

    @property
    def base_url(self) -> str:
        """`url` without a trailing slash, ready for `/v1/...` to be appended."""
        return self.url.rstrip("/")

    def to_dict(self) -> dict[str, object]:
        """The JSON form, with the api key replaced by "***" so reports never carry it."""
        return {
            "url": self.url,
            "model": self.model,
            "concurrency": self.concurrency,
            "request_rate": self.request_rate,
            "duration_s": self.duration_s,
            "max_requests": self.max_requests,
            "prompt_len": self.prompt_len.to_dict(),
            "output_len": self.output_len.to_dict(),
            "shared_prefix_share": self.shared_prefix_share,
            "shared_prefix_len": self.shared_prefix_len,
            "session_share": self.session_share,
            "session_turns": self.session_turns,
            "seed": self.seed,
            "api_key": None if self.api_key is None else "***",
            "timeout_s": self.timeout_s,
            "max_failure_rate": self.max_failure_rate,
            "max_connect_errors": self.max_connect_errors,
        }


def _check_positive_int(name: str, value: int | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _check_positive_float(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_share(name: str, value: float) -> None:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class RequestSpec:
    """One completion request: its prompt text (`num_words` words, drawn for about
    `target_tokens` tokens; None: not drawn for a length), and `max_tokens`."""

    prompt: str
    num_words: int
    max_tokens: int
    is_shared_prefix: bool = False
    target_tokens: int | None = None


@dataclass(frozen=True)
class Conversation:
    """One unit of work: a single request, or (`is_session`) turns sent in order on one session.

    A session turn's prompt is only that turn's new text; the server keeps the history.
    """

    conversation_id: int
    turns: tuple[RequestSpec, ...]
    is_session: bool

    def __post_init__(self) -> None:
        if not self.turns or (not self.is_session and len(self.turns) != 1):
            raise ValueError("a conversation has one turn, or >= 1 turns when it is a session")


class Workload:
    """An endless, seeded stream of conversations: the same config gives the same stream.

    Whether a conversation is a session, and whether it carries the shared prefix (on its first
    turn only), are drawn per conversation. Arrival gaps for the open loop come from their own
    generator, so they never shift the conversations drawn.
    """

    def __init__(self, config: LoadgenConfig, scale: TokenScale | None = None) -> None:
        self._config = config
        self._scale = scale or TokenScale()
        self._rng = random.Random(config.seed)
        self._arrival_rng = random.Random(f"arrivals-{config.seed}")
        prefix_rng = random.Random(f"prefix-{config.seed}")
        self._num_prefix_words = self._scale.words_for(config.shared_prefix_len,
                                                       is_whole_prompt=False)
        self.shared_prefix = draw_words(prefix_rng, self._num_prefix_words)
        self._num_drawn = 0

    def __iter__(self) -> Iterator[Conversation]:
        return self

    def __next__(self) -> Conversation:
        return self.next_conversation()

    def next_conversation(self) -> Conversation:
        """The next conversation of the stream; mutates the generator state."""
        config, rng = self._config, self._rng
        is_session = rng.random() < config.session_share
        is_shared = rng.random() < config.shared_prefix_share
        num_turns = config.session_turns if is_session else 1
        turns = tuple(self._turn(is_shared and i == 0) for i in range(num_turns))
        self._num_drawn += 1
        return Conversation(self._num_drawn - 1, turns, is_session)

    def next_arrival_gap_s(self) -> float:
        """Seconds until the next open-loop arrival (exponential, mean 1 / request_rate)."""
        if self._config.request_rate is None:
            raise ValueError("arrival gaps need a request_rate (open loop)")
        return self._arrival_rng.expovariate(self._config.request_rate)

    def _turn(self, is_shared: bool) -> RequestSpec:
        config = self._config
        num_tokens = config.prompt_len.sample(self._rng)
        num_words = self._scale.words_for(num_tokens)
        text = draw_words(self._rng, num_words)
        if is_shared:
            text = f"{self.shared_prefix} {text}"
            num_words += self._num_prefix_words
            num_tokens += config.shared_prefix_len
        max_tokens = config.output_len.sample(self._rng)
        return RequestSpec(text, num_words, max_tokens, is_shared, target_tokens=num_tokens)
