"""Request bodies of the OpenAI-compatible API (pydantic, strict types: "5" is not a number).

Beyond OpenAI's fields we accept vLLM/SGLang's sampling extensions (`top_k`, `min_p`,
`repetition_penalty`, `stop_token_ids`, `ignore_eos`), `return_token_ids` (each choice then
carries the generated ids) and `session_id` (the request continues that streaming session).
Text fields take valid Unicode only, and max_tokens / max_completion_tokens must be >= 1, on
both routes.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from runtime.scheduler.request_checks import unicode_problem
from runtime.scheduler.sampling_params import SamplingParams
from runtime.server.chat_template import ChatRole


def _unicode(text: str) -> str:
    problem = unicode_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


# Every string the API reads: valid Unicode only. JSON can carry a lone surrogate ("\ud800"),
# which no tokenizer can encode; it is refused as a 400 naming the field.
Text = Annotated[str, AfterValidator(_unicode)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    include_usage: bool = False


class _SamplingFields(BaseModel):
    """Fields shared by completions and chat completions."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: Text | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    seed: int | None = None
    stop: Text | list[Text] | None = None
    stop_token_ids: list[int] | None = None
    ignore_eos: bool = False
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    n: int = Field(default=1, ge=1, le=1, description="only n=1 is served")
    stream: bool = False
    stream_options: StreamOptions | None = None
    session_id: Text | None = None
    return_token_ids: bool = False
    user: Text | None = None

    def _params(self, max_tokens: int, logprobs: int | None) -> SamplingParams:
        stop = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        return SamplingParams(
            max_tokens=max_tokens, temperature=self.temperature, top_p=self.top_p,
            top_k=self.top_k, min_p=self.min_p, seed=self.seed, stop=tuple(stop),
            stop_token_ids=tuple(self.stop_token_ids or ()), ignore_eos=self.ignore_eos,
            repetition_penalty=self.repetition_penalty,
            frequency_penalty=self.frequency_penalty, presence_penalty=self.presence_penalty,
            logprobs=logprobs,
        )

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class CompletionRequest(_SamplingFields):
    """POST /v1/completions. `prompt` is text or token ids (a one-element list is unwrapped)."""

    prompt: Text | list[int] | list[Text] | list[list[int]]
    max_tokens: int = Field(default=16, ge=1)
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool = False

    def single_prompt(self) -> str | list[int]:
        """The one prompt; raises ValueError for a batch of prompts."""
        prompt = self.prompt
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], str | list):
            if len(prompt) != 1:
                raise ValueError("batched prompts are not supported: send one prompt per request")
            return prompt[0]  # type: ignore[return-value]
        return prompt  # type: ignore[return-value]

    def sampling_params(self, max_tokens: int) -> SamplingParams:
        return self._params(max_tokens, self.logprobs)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    role: ChatRole
    content: Text


class ChatCompletionRequest(_SamplingFields):
    """POST /v1/chat/completions. Without max_tokens the answer may fill the context."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_tokens is None else self.max_tokens

    def sampling_params(self, max_tokens: int) -> SamplingParams:
        return self._params(max_tokens, (self.top_logprobs or 0) if self.logprobs else None)
