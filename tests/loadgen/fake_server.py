"""An in-memory stand-in for the OpenAI-compatible server, served through `httpx.MockTransport`.

It streams `max_tokens` one-token chunks, then a usage chunk and `[DONE]`, cut into pieces of
`piece_size` bytes so that events arrive split across network reads. It keeps what it saw
(request bodies, headers, sessions, the most requests ever in flight) for tests to assert on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable

import httpx


def sse(payload: object) -> bytes:
    """One SSE event carrying `payload` as JSON (or `[DONE]` when given that string)."""
    data = payload if payload == "[DONE]" else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


def text_chunk(text: str, finish_reason: str | None = None, usage: object = None) -> bytes:
    """A `text_completion` chunk event with one choice."""
    choice = {"index": 0, "text": text, "finish_reason": finish_reason}
    return sse({"id": "cmpl-1", "object": "text_completion", "choices": [choice], "usage": usage})


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    total = prompt_tokens + completion_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": total,
    }


def completion_stream(num_prompt_tokens: int, max_tokens: int) -> bytes:
    """The whole body the fake server answers a completion with."""
    events = [text_chunk(" tok") for _ in range(max_tokens - 1)]
    events.append(text_chunk(" end", "length"))
    body = {
        "id": "cmpl-1",
        "object": "text_completion",
        "choices": [],
        "usage": usage(num_prompt_tokens, max_tokens),
    }
    return b"".join([*events, sse(body), sse("[DONE]")])


async def pieces(body: bytes, piece_size: int) -> AsyncIterator[bytes]:
    """`body` in `piece_size`-byte pieces, yielding to the event loop between them."""
    for start in range(0, len(body), piece_size):
        await asyncio.sleep(0)
        yield body[start : start + piece_size]


class FakeServer:
    """Answers /v1/models, /v1/sessions and streamed /v1/completions; see the module docstring.

    `completion_status` other than 200 makes every completion fail with that status.
    `count_tokens` is its tokenizer: prompt text -> token count (default: one per word).
    """

    def __init__(
        self,
        *,
        piece_size: int = 7,
        completion_status: int = 200,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        self.count_tokens = count_tokens or (lambda text: len(text.split()))
        self.piece_size = piece_size
        self.completion_status = completion_status
        self.completions: list[dict[str, object]] = []
        self.headers: list[httpx.Headers] = []
        self.open_sessions: set[str] = set()
        self.num_sessions_created = 0
        self.num_in_flight = 0
        self.max_in_flight = 0
        self._ids = itertools.count()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": []})
        if path == "/v1/sessions" and method == "POST":
            session_id = f"sess-{next(self._ids)}"
            self.open_sessions.add(session_id)
            self.num_sessions_created += 1
            return httpx.Response(200, json={"id": session_id, "object": "session"})
        if path.startswith("/v1/sessions/") and method == "DELETE":
            session_id = path.rsplit("/", 1)[1]
            self.open_sessions.discard(session_id)
            return httpx.Response(
                200, json={"id": session_id, "object": "session", "deleted": True}
            )
        if path == "/v1/completions" and method == "POST":
            return self._complete(request)
        return _error(404, f"no route {method} {path}")

    def _complete(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.completions.append(body)
        self.headers.append(request.headers)
        if self.completion_status != 200:
            return _error(self.completion_status, "boom")
        session_id = body.get("session_id")
        if session_id is not None and session_id not in self.open_sessions:
            return _error(404, f"no session {session_id}")
        num_prompt_tokens = self.count_tokens(str(body["prompt"]))
        stream = completion_stream(num_prompt_tokens, int(body["max_tokens"]))
        return httpx.Response(
            200, content=self._tracked(stream), headers={"content-type": "text/event-stream"}
        )

    async def _tracked(self, body: bytes) -> AsyncIterator[bytes]:
        """`body` in pieces, counted in flight from the first piece until the last is sent.

        NOTE: the client stops reading at [DONE], so a `finally` here would only run at garbage
        collection; the count drops just before the last piece instead.
        """
        self.num_in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.num_in_flight)
        num_pieces = -(-len(body) // self.piece_size)
        index = 0
        async for piece in pieces(body, self.piece_size):
            index += 1
            if index == num_pieces:
                self.num_in_flight -= 1
            yield piece


def _error(status: int, message: str) -> httpx.Response:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": status}
    return httpx.Response(status, json={"error": error})
