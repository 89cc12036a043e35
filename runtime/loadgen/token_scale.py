"""Prompt lengths in tokens of the served model, counted through its own API.

Prompts are drawn as words, but a length the user asks for is in tokens, and how many tokens a
word makes depends on the served model's tokenizer (the built-in byte-level one makes about five
per word; a BPE vocabulary about one). Before a run, two probe completions (one output token
each, see `token_probe`) report their `usage.prompt_tokens`; the line through the two points
gives tokens per word and the tokens a prompt carries besides its words (a BOS, a template).
Lengths then convert to words by that line, so they match on average; the report prints the
real counts each request came back with.
"""

from __future__ import annotations

from dataclasses import dataclass


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
