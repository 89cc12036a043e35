"""The record of one completion request, and the builder that times it as its stream arrives.

Time to first token is measured to the first chunk with non-empty text. Inter-token latency:
a chunk may carry several tokens. When a content chunk and the content chunk before it both
carry `usage` (continuous usage stats), the gap between them is divided evenly over the
completion tokens the later one added; otherwise each content chunk counts as one token and
each gap between content chunks is one inter-token latency.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.loadgen.sse import StreamChunk, Usage


@dataclass(frozen=True)
class RequestRecord:
    """What happened to one completion request. Latencies in seconds; None when never reached.

    `start_time` is the wall-clock (epoch) time the request was sent. Token counts come from
    the server's `usage` and are None when it sent none. `error` is set exactly when not `is_ok`.
    `is_connect_error` marks a failure where the server could not be reached or dropped the
    connection (no HTTP answer), as opposed to an HTTP error status or a bad stream.
    """

    start_time: float
    ttft_s: float | None
    itl_s: tuple[float, ...]
    e2e_s: float
    prompt_tokens: int | None
    completion_tokens: int | None
    is_ok: bool
    error: str | None = None
    is_session: bool = False
    is_connect_error: bool = False

    def __post_init__(self) -> None:
        if self.is_ok == (self.error is not None):
            raise ValueError("a record has an error message exactly when it is not ok")


class RecordBuilder:
    """Accumulates one request's timings and usage, chunk by chunk, into a RequestRecord.

    `start_time` is wall-clock (for the record); `start` and every `now` are monotonic seconds
    (`time.perf_counter()`), from which all latencies are taken.
    """

    def __init__(self, start_time: float, start: float) -> None:
        self._start_time, self._start = start_time, start
        self._ttft: float | None = None
        self._itl: list[float] = []
        self._last_content: float | None = None
        self._last_tokens: int | None = None  # usage.completion_tokens on the last content chunk
        self._usage: Usage | None = None
        self._error: str | None = None
        self._is_connect_error = False

    def take(self, chunk: StreamChunk, now: float) -> None:
        """Records the usage and, if it has text, the timing of `chunk`, seen at `now`."""
        if chunk.usage is not None:
            self._usage = chunk.usage
        if not chunk.text:
            return
        tokens = None if chunk.usage is None else chunk.usage.completion_tokens
        if self._last_content is None:
            self._ttft = now - self._start
        else:
            carried = 1
            if tokens is not None and self._last_tokens is not None:
                carried = max(1, tokens - self._last_tokens)
            gap = now - self._last_content
            self._itl.extend([gap / carried] * carried)
        self._last_content, self._last_tokens = now, tokens

    def fail(self, message: str, *, is_connect_error: bool = False) -> None:
        """Marks the request failed with `message` (the last call wins)."""
        self._error, self._is_connect_error = message, is_connect_error

    def build(self, end: float, *, is_session: bool = False) -> RequestRecord:
        """The record of the request, ended at monotonic time `end`."""
        usage = self._usage
        return RequestRecord(
            start_time=self._start_time,
            ttft_s=self._ttft,
            itl_s=tuple(self._itl),
            e2e_s=end - self._start,
            prompt_tokens=None if usage is None else usage.prompt_tokens,
            completion_tokens=None if usage is None else usage.completion_tokens,
            is_ok=self._error is None,
            error=self._error,
            is_session=is_session,
            is_connect_error=self._error is not None and self._is_connect_error,
        )
