"""A real two-process server (uvicorn on loopback, port 0; the engine in its own process)
with the busy checker raising."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import torch

from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.observability import ObservabilitySettings
from runtime.engine.process.client import EngineClient
from runtime.engine.process.messages import EngineSummary
from runtime.memory.checker import CheckMode
from runtime.memory.memory_config import LeakPolicy
from runtime.server.app import ServerSettings
from runtime.server.serve import RunningServer
from tests.support import wait_until

_HF_MODELS: dict[str, torch.nn.Module] = {}


@dataclass
class Served:
    url: str
    server: RunningServer
    final: EngineSummary | None = None  # read (with an idle check) just before the stop

    @property
    def engine(self) -> EngineClient:
        return self.server.engine

    def summary(self, run_check: bool = False) -> EngineSummary:
        """The engine process's counters and pools now, asked over the channel."""
        return asyncio.run(self.engine.inspect(run_check))


def assert_memory_clean(engine: Engine) -> None:
    """The idle check passes and every slot is free or only cached (no session is open)."""
    assert engine.mm.check(idle=True) == []
    for name, part in engine.mm.stats().pools.items():
        assert part.available + part.evictable == part.capacity, (name, part)


def assert_served_memory_clean(s: Served) -> None:
    """The same for a served engine, asked over the channel (or as read before its stop)."""
    summary = s.final if s.final is not None else s.summary(run_check=True)
    assert summary.num_check_failures == 0, summary
    for name, part in summary.stats.pools.items():
        assert part.available + part.evictable == part.capacity, (name, part)


@contextmanager
def served(
    model: Path | str,
    api_key: str | None = None,
    observability: ObservabilitySettings | None = None,
    **overrides: object,
) -> Iterator[Served]:
    """Serves `model` (the engine in its own process) with the checker in busy mode raising on
    any leak; on exit, runs the idle check, stops the server, and asserts the engine never
    failed, finished every request and, with no session open, left its memory clean."""
    settings = {"mem_check": CheckMode.BUSY, "on_leak": LeakPolicy.RAISE, **overrides}
    config = EngineConfig(model=str(model), **settings)  # type: ignore[arg-type]
    server = RunningServer(config, ServerSettings(port=0, api_key=api_key), observability)
    s = Served(server.start(), server)
    try:
        yield s
        if server.engine.is_running:
            wait_idle(s)
            s.final = s.summary(run_check=True)
    finally:
        server.stop()
    assert server.engine.error is None, server.engine.error
    assert s.final is not None and s.final.num_requests == 0
    if not s.final.num_sessions:
        assert_served_memory_clean(s)


def wait_idle(s: Served) -> None:
    """Until no request is left and the engine has run its idle check."""
    wait_until(lambda: _is_idle(s.summary()))


def _is_idle(summary: EngineSummary) -> bool:
    return summary.num_requests == 0 and summary.is_idle


def hf_greedy(model_type: str, prompt: list[int], n: int) -> list[int]:
    """transformers' greedy generate() on the same tiny checkpoint (EOS off)."""
    from tests.checkpoints import build_hf_model

    if model_type not in _HF_MODELS:
        _HF_MODELS[model_type] = build_hf_model(model_type)
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = _HF_MODELS[model_type].generate(ids, max_new_tokens=n, do_sample=False,
                                              eos_token_id=None, pad_token_id=0)
    return out[0, len(prompt) :].tolist()


async def _complete(client: httpx.AsyncClient, body: dict) -> dict:
    response = await client.post("/v1/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def complete_all(url: str, bodies: list[dict]) -> list[dict]:
    """Sends the bodies concurrently; returns the JSON answers in order."""

    async def run() -> list[dict]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            return await asyncio.gather(*(_complete(client, b) for b in bodies))

    return asyncio.run(run())


def greedy_body(prompt: list[int], n: int, **extra: object) -> dict:
    return {"prompt": prompt, "max_tokens": n, "temperature": 0, "ignore_eos": True,
            "return_token_ids": True, **extra}
