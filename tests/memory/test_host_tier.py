"""The host tier through the model: exact with a budget covering the sequence, bounded device
residency below it, and both token counts reported."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runtime.memory.memory_config import HostTierConfig, MambaStrategy, MemoryConfig
from runtime.model.loader import load_model
from tests.memory.model_driver import manager_for, serve

PROMPT = [(7 * i + 3) % 500 for i in range(45)]


def _config(model: str, host_tier: HostTierConfig | None) -> MemoryConfig:
    mamba = dict(mamba_slots=8, mamba_strategy=MambaStrategy.EXTRA_BUFFER, track_interval=8)
    extra = mamba if model == "nemotron_h" else dict(swa_slots=256, window=32)
    host = dict(host_slots=256, host_tier=host_tier) if host_tier else {}
    return MemoryConfig(full_slots=256, page_size=4, req_rows=2, max_context=128,
                        **extra, **host)  # type: ignore[arg-type]


@pytest.fixture(params=["nemotron_h", "gemma3"])
def model(request: pytest.FixtureRequest) -> tuple[str, object]:
    path: Path = request.getfixturevalue(f"{request.param}_dir")
    return request.param, load_model(path)


def test_budget_covering_the_sequence_equals_dense_attention(model: tuple[str, object]) -> None:
    """Sinks 4 + recent 16 + 20 pages of 4 >= 45 + 25 tokens: logits bit-identical."""
    name, lm = model
    dense, _ = serve(lm, manager_for(lm, _config(name, None)), PROMPT, decode=25)
    budget = HostTierConfig(sink_tokens=4, recent_tokens=16, top_k_pages=20)
    tiered, stats = serve(lm, manager_for(lm, _config(name, budget)), PROMPT, decode=25)
    for a, b in zip(dense, tiered, strict=True):
        assert torch.equal(a, b)
    assert stats[-1].extra["host_tier_device_tokens"] == stats[-1].extra["host_tier_host_tokens"]


def test_small_budget_bounds_device_residency(model: tuple[str, object]) -> None:
    """Sinks 4 + recent 8 + 2 pages of 4: at most 20 device tokens per request after the
    prefill; the host keeps all of them; output stays finite and the checker stays clean."""
    name, lm = model
    budget = HostTierConfig(sink_tokens=4, recent_tokens=8, top_k_pages=2)
    mm = manager_for(lm, _config(name, budget))
    logits, stats = serve(lm, mm, PROMPT, decode=20)
    for i, step in enumerate(stats[1:], start=1):
        assert step.extra["host_tier_device_tokens"] <= 20
        assert step.extra["host_tier_host_tokens"] == len(PROMPT) + i
        assert step.pools["full"].running <= 20 and step.pools["host"].running >= 45
    assert all(torch.isfinite(x).all() for x in logits)
    dense, _ = serve(lm, manager_for(lm, _config(name, None)), PROMPT, decode=20)
    assert torch.equal(dense[0], logits[0])  # the prefill itself is dense
    assert not torch.equal(dense[-1], logits[-1])  # sparse decode really drops pages


def test_prefix_hit_loads_pages_from_host(model: tuple[str, object]) -> None:
    """A second identical prompt resumes from the cached host copy, loaded back to the
    device for its prefill, and gets the same first logits."""
    name, lm = model
    mm = manager_for(lm, _config(name, HostTierConfig(4, 16, 20)))
    first, _ = serve(lm, mm, PROMPT, decode=3)
    assert mm.stats().pools["host"].evictable >= 40 and mm.stats().pools["full"].evictable == 0
    again, _ = serve(lm, mm, PROMPT, decode=3)
    assert torch.allclose(first[0], again[0], atol=1e-5)
