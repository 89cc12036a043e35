"""The frontend's half of a request's text: token ids from the engine in, text deltas out.

The engine process sends token ids only; this runs the same `TextStream` over the same tokens
with the same rules as the engine's stop check (output_processor.py), so the text ends exactly
where the engine stopped: a stop token id or EOS is not pushed, and a stop or length finish
flushes what was held back, unless a stop string ended it.
"""

from __future__ import annotations

from runtime.model.tokenizer import Tokenizer
from runtime.scheduler.request import FinishReason
from runtime.scheduler.sampling_params import SamplingParams
from runtime.scheduler.text_stream import TextStream


class Detokenizer:
    """One request's incremental text."""

    def __init__(self, tokenizer: Tokenizer, params: SamplingParams) -> None:
        self._stream = TextStream(tokenizer, params.stop)
        eos = () if params.ignore_eos else tokenizer.eos_token_ids
        self._stop_ids = frozenset(params.stop_token_ids) | frozenset(eos)

    def delta(self, token_ids: tuple[int, ...], finish_reason: FinishReason | None) -> str:
        """The text these new tokens add (and, on a normal finish, the held-back rest)."""
        text = ""
        for token in token_ids:
            if token not in self._stop_ids and not self._stream.stopped:
                text += self._stream.push(token)
        if finish_reason in (FinishReason.STOP, FinishReason.LENGTH):
            text += self._stream.finish()
        return text
