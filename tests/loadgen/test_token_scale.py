"""Tests for runtime.loadgen.token_scale: prompt lengths are tokens of the served model, counted
through its API, and the report prints the real counts."""

from __future__ import annotations

import asyncio
import io

import httpx

from runtime.loadgen.client import CompletionClient, make_http_client
from runtime.loadgen.lengths import LengthSpec
from runtime.loadgen.runner import run
from runtime.loadgen.token_probe import measure
from runtime.loadgen.token_scale import TokenScale
from runtime.loadgen.workload import LoadgenConfig, Workload
from tests.loadgen.fake_server import FakeServer


def _bytes_and_bos(text: str) -> int:
    """A byte-level tokenizer that adds a BOS token, like the built-in default model's."""
    return len(text.encode()) + 1


def _measure(server: FakeServer) -> TokenScale:
    config = LoadgenConfig()

    async def go() -> TokenScale:
        async with make_http_client(config, server.transport()) as http:
            return await measure(CompletionClient(http, config))

    return asyncio.run(go())


def test_measure_finds_tokens_per_word_and_base_tokens() -> None:
    """Two probes through the API give the byte tokenizer's tokens per word (> 4) and its BOS."""
    scale = _measure(FakeServer(count_tokens=_bytes_and_bos))
    assert scale.is_measured
    assert 4.0 < scale.tokens_per_word < 7.0
    assert 0.0 <= scale.base_tokens < 6.0


def test_server_without_usage_falls_back_to_words() -> None:
    """A server whose answers carry no token counts leaves one token per word, unmeasured."""

    async def no_usage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "nope"}})

    config = LoadgenConfig()

    async def go() -> TokenScale:
        async with make_http_client(config, httpx.MockTransport(no_usage)) as http:
            return await measure(CompletionClient(http, config))

    assert asyncio.run(go()) == TokenScale()


def test_words_for_inverts_the_scale() -> None:
    """A scale of 5 tokens per word plus 1 base token asks 20 words for 101 tokens."""
    scale = TokenScale(tokens_per_word=5.0, base_tokens=1.0, is_measured=True)
    assert scale.words_for(101) == 20
    assert scale.words_for(100, is_whole_prompt=False) == 20
    assert scale.words_for(1) == 1


def test_workload_draws_prompts_of_the_asked_tokens() -> None:
    """With a byte-level scale, a workload of 200-token prompts (half with a 50-token shared
    prefix) draws prompts whose byte counts average within 10 % of what was asked."""
    server = FakeServer(count_tokens=_bytes_and_bos)
    config = LoadgenConfig(prompt_len=LengthSpec(200), shared_prefix_share=0.5,
                           shared_prefix_len=50)
    workload = Workload(config, _measure(server))
    turns = [next(workload).turns[0] for _ in range(200)]
    real = [_bytes_and_bos(t.prompt) for t in turns]
    asked = [t.target_tokens for t in turns]
    assert abs(sum(real) / sum(asked) - 1.0) < 0.1
    assert {200, 250} == set(asked)


def test_run_reports_real_prompt_token_counts() -> None:
    """A run against a byte-level server prints the measured prompt tokens near the asked 128
    (not the ~5x a word count would give) and says how they were counted."""
    server = FakeServer(count_tokens=_bytes_and_bos)
    config = LoadgenConfig(max_requests=20, prompt_len=LengthSpec(128), output_len=LengthSpec(2),
                           duration_s=600.0)
    summary = asyncio.run(run(config, transport=server.transport()))
    assert summary.prompt_tokens.count == 20
    assert summary.prompt_tokens.mean is not None
    assert 115 < summary.prompt_tokens.mean < 141
    out = io.StringIO()
    summary.print_table(out)
    assert "prompt tokens" in out.getvalue()
    assert "tokens per word, measured through the server's usage counts" in out.getvalue()
    assert summary.to_dict()["token_scale"]["is_measured"] is True
