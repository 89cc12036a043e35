"""The wire format of a streamed completion: Server-Sent Events carrying JSON chunks.

`SSEDecoder` turns bytes, however the network splits them, into event data strings;
`parse_chunk` turns one data string into a `StreamChunk` (or the end-of-stream marker).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

DONE = "[DONE]"


class SSEDecoder:
    """Incremental SSE decoder: feed it byte pieces, get back the data of each complete event.

    Lines end in LF, CRLF or CR; an event ends at a blank line; its `data:` lines are joined
    with LF (one space after the colon is dropped). Comment lines (`:`), other fields and events
    without data are skipped. Mutates only its own buffers; never raises on odd input.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data_lines: list[str] = []

    def feed(self, piece: bytes) -> list[str]:
        """The data of every event that `piece` completes, in order."""
        buffer = self._buffer + piece
        # NOTE: a CR at the end may be the first half of a CRLF split across reads: hold it back.
        held = b"\r" if buffer.endswith(b"\r") else b""
        if held:
            buffer = buffer[:-1]
        lines = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = lines.pop() + held
        events: list[str] = []
        for line in lines:
            event = self._take_line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[str]:
        """At end of stream: the data of a last event that lacked its closing blank line.

        The SSE spec drops such an event; keeping it is more forgiving of servers that end
        with `data: [DONE]\\n` alone.
        """
        events = self.feed(b"\n\n") if self._buffer.strip() or self._data_lines else []
        self._buffer = b""
        return events

    def _take_line(self, line: str) -> str | None:
        if not line:
            if not self._data_lines:
                return None
            data, self._data_lines = "\n".join(self._data_lines), []
            return data
        name, _, value = line.partition(":")
        if name == "data":
            self._data_lines.append(value[1:] if value.startswith(" ") else value)
        return None


@dataclass(frozen=True)
class Usage:
    """Token counts the server reports for one request (so far, or in total at the end)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class StreamChunk:
    """One parsed SSE data payload of a completion stream.

    `is_done` marks `[DONE]`; `error` is the server's message for an error chunk; otherwise
    `text` and `finish_reason` come from the first choice and `usage` from the chunk, if any.
    """

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    error: str | None = None
    is_done: bool = False


def parse_chunk(data: str) -> StreamChunk:
    """Parses one event's data. Raises ValueError when it is neither [DONE] nor a JSON object."""
    if data.strip() == DONE:
        return StreamChunk(is_done=True)
    try:
        body = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"stream chunk is not JSON: {data[:80]!r}") from exc
    if not isinstance(body, dict):
        raise ValueError(f"stream chunk is not a JSON object: {data[:80]!r}")
    if body.get("error") is not None:
        return StreamChunk(error=error_message(body))
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    return StreamChunk(
        text=choice.get("text") or "",
        finish_reason=choice.get("finish_reason"),
        usage=_usage(body.get("usage")),
    )


def error_message(body: object) -> str:
    """The message of an OpenAI-style `{"error": {...}}` body, or the body itself, shortened."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
    return str(body)[:200]


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    try:
        return Usage(int(raw["prompt_tokens"]), int(raw["completion_tokens"]))
    except (KeyError, TypeError, ValueError):
        return None
