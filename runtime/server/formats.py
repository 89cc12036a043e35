"""Response bodies of /v1/completions and /v1/chat/completions, whole and streamed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.model.tokenizer import Tokenizer
from runtime.scheduler.request import RequestOutput
from runtime.scheduler.sampler import SampledToken


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int

    @classmethod
    def of(cls, out: RequestOutput) -> Usage:
        return cls(out.prompt_tokens, out.completion_tokens, out.cached_tokens)

    def body(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }


@dataclass(frozen=True)
class Reply:
    """What the whole response says about its one choice."""

    text: str
    token_ids: list[int]
    logprobs: list[SampledToken]
    finish_reason: str | None
    usage: Usage


class ResponseFormat:
    """The completions layout; ChatFormat overrides the choice shapes."""

    object_name = "text_completion"
    chunk_object_name = "text_completion"

    def __init__(self, tokenizer: Tokenizer, model: str, return_token_ids: bool) -> None:
        self.tokenizer, self.model, self.return_token_ids = tokenizer, model, return_token_ids

    def envelope(self, rid: str, created: int, obj: str, choices: list[dict]) -> dict:
        return {"id": rid, "object": obj, "created": created, "model": self.model,
                "choices": choices}

    def response(self, rid: str, created: int, reply: Reply) -> dict:
        choice = self.choice(reply.text, reply.logprobs, reply.finish_reason)
        if self.return_token_ids:
            choice["token_ids"] = reply.token_ids
        body = self.envelope(rid, created, self.object_name, [choice])
        body["usage"] = reply.usage.body()
        return body

    def chunk(self, rid: str, created: int, out: RequestOutput, first: bool) -> dict:
        finish = out.finish_reason.value if out.finish_reason else None
        choice = self.delta(out.text, list(out.logprobs), finish, first)
        if self.return_token_ids:
            choice["token_ids"] = list(out.token_ids)
        body = self.envelope(rid, created, self.chunk_object_name, [choice])
        body["usage"] = None
        return body

    def usage_chunk(self, rid: str, created: int, usage: Usage) -> dict:
        body = self.envelope(rid, created, self.chunk_object_name, [])
        body["usage"] = usage.body()
        return body

    def choice(self, text: str, logprobs: list[SampledToken], finish: str | None) -> dict:
        return {"index": 0, "text": text, "logprobs": self.logprobs(logprobs),
                "finish_reason": finish}

    def delta(self, text: str, logprobs: list[SampledToken], finish: str | None, first: bool
              ) -> dict:
        return self.choice(text, logprobs, finish)

    def logprobs(self, items: Sequence[SampledToken]) -> dict | None:
        if not items:
            return None
        return {
            "tokens": [self._token(t.token_id) for t in items],
            "token_logprobs": [t.logprob for t in items],
            "top_logprobs": [{self._token(i): lp for i, lp in t.top_logprobs} for t in items],
        }

    def _token(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])


class ChatFormat(ResponseFormat):
    object_name = "chat.completion"
    chunk_object_name = "chat.completion.chunk"

    def choice(self, text: str, logprobs: list[SampledToken], finish: str | None) -> dict:
        return {"index": 0, "message": {"role": "assistant", "content": text},
                "logprobs": self.logprobs(logprobs), "finish_reason": finish}

    def delta(self, text: str, logprobs: list[SampledToken], finish: str | None, first: bool
              ) -> dict:
        delta: dict = {"role": "assistant", "content": text} if first else {"content": text}
        return {"index": 0, "delta": delta, "logprobs": self.logprobs(logprobs),
                "finish_reason": finish}

    def logprobs(self, items: Sequence[SampledToken]) -> dict | None:
        if not items:
            return None
        return {"content": [self._entry(t.token_id, t.logprob, t.top_logprobs) for t in items]}

    def _entry(self, token_id: int, logprob: float | None, top: Sequence[tuple[int, float]]
               ) -> dict:
        token = self._token(token_id)
        entry = {"token": token, "logprob": logprob, "bytes": list(token.encode())}
        entry["top_logprobs"] = [
            {"token": self._token(i), "logprob": lp, "bytes": list(self._token(i).encode())}
            for i, lp in top
        ]
        return entry
