"""Stress through the API on small pools: sessions, plain requests of many sizes and client
disconnects at once. Every request that fits the empty pools is answered (it may wait, it is
never aborted for memory), idle sessions are evicted to make room, and nothing leaks (the busy
checker raises on any leak; the memory is clean once the sessions close)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from tests.server.harness import served, wait_idle

pytestmark = pytest.mark.slow

FULL_TOKENS = 256
NUM_CLIENTS = 8
ACTIONS_PER_CLIENT = 8


async def _session_client(client: httpx.AsyncClient, rng: random.Random) -> list[int]:
    sid = (await client.post("/v1/sessions")).json()["id"]
    statuses = []
    for _ in range(ACTIONS_PER_CLIENT // 2):
        prompt = [rng.randrange(3, 500) for _ in range(rng.randint(10, 30))]
        body = {"prompt": prompt, "max_tokens": rng.randint(1, 8), "temperature": 0,
                "ignore_eos": True, "session_id": sid}
        response = await client.post("/v1/completions", json=body)
        statuses.append(response.status_code)
        if response.status_code == 400:  # the history outgrew the pool: start over
            await client.delete(f"/v1/sessions/{sid}")
            sid = (await client.post("/v1/sessions")).json()["id"]
    await client.delete(f"/v1/sessions/{sid}")
    return statuses


async def _plain_client(client: httpx.AsyncClient, rng: random.Random) -> list[int]:
    statuses = []
    for _ in range(ACTIONS_PER_CLIENT):
        n = rng.randint(1, 200)
        body = {"prompt": [rng.randrange(3, 500) for _ in range(n)], "temperature": 0,
                "max_tokens": rng.randint(1, FULL_TOKENS + 1 - n), "ignore_eos": True}
        if rng.random() < 0.25:  # a client that reads a little of its stream and goes away
            async with client.stream("POST", "/v1/completions",
                                     json={**body, "stream": True}) as stream:
                async for _ in stream.aiter_lines():
                    break
            continue
        response = await client.post("/v1/completions", json=body)
        statuses.append(response.status_code)
        assert response.status_code == 200, response.text
    return statuses


def test_requests_that_fit_the_empty_pools_are_never_aborted_for_memory(
    nemotron_h_dir: Path,
) -> None:
    """Many clients on a 256-token full pool, half of them in sessions: every answer is a 200
    (never a 503 out of memory), idle sessions are evicted under the pressure, and the memory
    is clean at the end."""
    with served(nemotron_h_dir, full_tokens=FULL_TOKENS, mamba_slots=24, max_sessions=8,
                session_min_idle_s=0.0, queue_timeout_s=300.0) as s:

        async def run() -> list[int]:
            async with httpx.AsyncClient(base_url=s.url, timeout=300) as client:
                clients = [
                    (_session_client if i % 2 else _plain_client)(client, random.Random(i))
                    for i in range(NUM_CLIENTS)
                ]
                return [code for codes in await asyncio.gather(*clients) for code in codes]

        statuses = asyncio.run(run())
        wait_idle(s)
        assert statuses and set(statuses) <= {200, 400}
        summary = s.summary()
        assert summary.num_out_of_memory == 0
        assert summary.num_queue_timeouts == 0
        assert summary.num_session_evictions > 0
