"""Greedy tokens through the HTTP server equal transformers' greedy generate() on the same tiny
checkpoints, for concurrent requests of different lengths, under every scheduling and memory
mode. Each server runs the checker in busy mode (raising) and ends with a clean idle check."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from runtime.memory.memory_config import MambaStrategy
from tests.server.harness import complete_all, greedy_body, hf_greedy, served

pytestmark = pytest.mark.slow

LENGTHS = (7, 19, 33, 50)
NEW_TOKENS = 12


def _prompts(seed: int, lengths: tuple[int, ...] = LENGTHS) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(3, 500) for _ in range(n)] for n in lengths]


def _check(url: str, model_type: str, prompts: list[list[int]]) -> list[dict]:
    answers = complete_all(url, [greedy_body(p, NEW_TOKENS) for p in prompts])
    for prompt, answer in zip(prompts, answers, strict=True):
        assert answer["choices"][0]["token_ids"] == hf_greedy(model_type, prompt, NEW_TOKENS)
        assert answer["choices"][0]["finish_reason"] == "length"
    return answers


FIXTURES = {"nemotron_h": "nemotron_h_dir", "gemma3_text": "gemma3_dir"}
MODES: dict[str, dict] = {
    "plain": {},
    "chunked": {"chunked_prefill_size": 8},
    "host_tier_full_budget": {"host_tier": True, "host_sink_tokens": 16,
                              "host_recent_tokens": 128, "host_top_k_pages": 64},
}


@pytest.mark.parametrize("model_type", ["nemotron_h", "gemma3_text"])
@pytest.mark.parametrize("mode", list(MODES))
def test_greedy_matches_transformers(
    model_type: str, mode: str, request: pytest.FixtureRequest
) -> None:
    """Four concurrent requests of 7..50 prompt tokens give transformers' greedy tokens."""
    model_dir: Path = request.getfixturevalue(FIXTURES[model_type])
    with served(model_dir, **MODES[mode]) as s:
        _check(s.url, model_type, _prompts(1))


@pytest.mark.parametrize("model_type", ["nemotron_h", "gemma3_text"])
def test_greedy_matches_under_retraction(model_type: str, request: pytest.FixtureRequest) -> None:
    """A full pool too small for all four requests forces retractions; outputs still match."""
    model_dir: Path = request.getfixturevalue(FIXTURES[model_type])
    with served(model_dir, full_tokens=96, chunked_prefill_size=16) as s:
        _check(s.url, model_type, _prompts(2))
        assert s.summary().num_retracted > 0


@pytest.mark.parametrize("strategy", list(MambaStrategy))
def test_greedy_matches_with_each_mamba_strategy(strategy: MambaStrategy, nemotron_h_dir: Path
                                                  ) -> None:
    """Each track strategy (page 4, snapshots every 8 tokens for the buffered ones) gives the
    same tokens, and a second wave sharing a prefix with the first hits the prefix cache."""
    paging = {} if strategy is MambaStrategy.NO_BUFFER else {"page_size": 4, "track_interval": 8}
    with served(nemotron_h_dir, mamba_strategy=strategy, chunked_prefill_size=16, **paging) as s:
        first = _prompts(3)
        _check(s.url, "nemotron_h", first)
        second = [p[:24] + q for p, q in zip(first[2:], _prompts(4, (5, 9)), strict=True)]
        answers = _check(s.url, "nemotron_h", second)
        cached = [a["usage"]["prompt_tokens_details"]["cached_tokens"] for a in answers]
        if strategy is not MambaStrategy.NO_BUFFER:  # no_buffer caches only whole requests
            assert min(cached) >= 16


def test_greedy_matches_with_prefix_hits(gemma3_dir: Path) -> None:
    """Requests sharing a prefix with finished ones reuse it (cached_tokens > 0) and match."""
    with served(gemma3_dir) as s:
        base = _prompts(5, (20,))[0]
        _check(s.url, "gemma3_text", [base])
        followers = [base + tail for tail in _prompts(6, (3, 8, 12))]
        answers = _check(s.url, "gemma3_text", followers)
        assert all(a["usage"]["prompt_tokens_details"]["cached_tokens"] >= 19 for a in answers)
