"""Prompt lengths in tokens of the served model, counted through its own API.

Prompts are drawn as words, but a length the user asks for is in tokens, and how many tokens a
word makes depends on the served model's tokenizer (the built-in byte-level one makes about five
per word; a BPE vocabulary about one). Before a run, two probe completions (one output token
each) of `PROBE_WORDS` words report their `usage.prompt_tokens`; the line through the two points
gives tokens per word and the tokens a prompt carries besides its words (a BOS, a template).
Lengths then convert to words by that line, so they match on average; the report prints the
real counts each request came back with.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.loadgen.words import draw_words

if TYPE_CHECKING:
    from runtime.loadgen.client import CompletionClient

PROBE_WORDS = (32, 128)
PROBE_SEED = "token-probe"


@dataclass(frozen=True)
class TokenScale:
    """Tokens per prompt word and per prompt (beyond its words); `is_measured` False means
    the server gave no token counts, so a word is taken as one token."""

    tokens_per_word: float = 1.0
    base_tokens: float = 0.0
    is_measured: bool = False

    def __post_init__(self) -> None:
        if not self.tokens_per_word > 0:
            raise ValueError(f"tokens_per_word must be > 0, got {self.tokens_per_word}")

    def words_for(self, num_tokens: int, *, is_whole_prompt: bool = True) -> int:
        """Words that make about `num_tokens` tokens (at least 1); a whole prompt's base tokens
        are taken off first, a piece of a prompt (the shared prefix) carries none."""
        base = self.base_tokens if is_whole_prompt else 0.0
        return max(1, round((num_tokens - base) / self.tokens_per_word))

    def to_dict(self) -> dict[str, object]:
        return {
            "tokens_per_word": round(self.tokens_per_word, 4),
            "base_tokens": round(self.base_tokens, 2),
            "is_measured": self.is_measured,
        }


async def measure(client: CompletionClient) -> TokenScale:
    """The served model's scale from two probe requests; the unmeasured scale when either
    fails or carries no `usage`."""
    from runtime.loadgen.workload import RequestSpec

    rng = random.Random(PROBE_SEED)
    counts: list[int] = []
    for num_words in PROBE_WORDS:
        spec = RequestSpec(draw_words(rng, num_words), num_words, max_tokens=1)
        record = await client.complete(spec)
        if not record.is_ok or record.prompt_tokens is None:
            return TokenScale()
        counts.append(record.prompt_tokens)
    (w1, w2), (t1, t2) = PROBE_WORDS, counts
    slope = (t2 - t1) / (w2 - w1)
    if slope <= 0:
        return TokenScale()
    return TokenScale(tokens_per_word=slope, base_tokens=max(0.0, t1 - slope * w1),
                      is_measured=True)  # fmt: skip
