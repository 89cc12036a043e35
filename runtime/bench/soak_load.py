"""The soak benchmark's load: clients in a child process doing a mix of what real clients do
(whole and streamed completions, streams dropped midway, session turns and closes, bad
bodies), counting actions and answers by class in shared counters."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized

import httpx

VOCAB_LOW = 3  # below: special ids


@dataclass(frozen=True)
class LoadShape:
    num_clients: int
    max_prompt: int  # tokens; a prompt is 8..max_prompt
    max_tokens: int  # generated per request, 1..max_tokens
    vocab_size: int


class Counts:
    """Shared counters: actions done, answers by status class, streams dropped, transport
    failures (no answer at all)."""

    def __init__(self, context: multiprocessing.context.SpawnContext) -> None:
        names = ("actions", "ok", "4xx", "5xx", "dropped", "failed")
        self.values = {name: context.Value("q", 0) for name in names}

    def add(self, name: str) -> None:
        value: Synchronized = self.values[name]
        with value.get_lock():
            value.value += 1

    def read(self) -> dict[str, int]:
        return {name: int(v.value) for name, v in self.values.items()}


class SoakLoad:
    """Runs `shape.num_clients` clients against `url` until `close`."""

    def __init__(self, url: str, shape: LoadShape) -> None:
        context = multiprocessing.get_context("spawn")
        self.counts = Counts(context)
        self._process = context.Process(target=_main, args=(url, shape, self.counts),
                                        name="soak-load", daemon=True)
        self._process.start()

    def close(self) -> None:
        self._process.terminate()
        self._process.join(30)


def _main(url: str, shape: LoadShape, counts: Counts) -> None:
    asyncio.run(_clients(url, shape, counts))


async def _clients(url: str, shape: LoadShape, counts: Counts) -> None:
    limits = httpx.Limits(max_connections=shape.num_clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        await asyncio.gather(*(_Client(client, shape, counts, i).run()
                               for i in range(shape.num_clients)))


class _Client:
    def __init__(self, client: httpx.AsyncClient, shape: LoadShape, counts: Counts, seed: int):
        self.client, self.shape, self.counts = client, shape, counts
        self.rng = random.Random(seed)
        self.sid: str | None = None

    async def run(self) -> None:
        actions = (self._whole, self._stream, self._turn, self._turn, self._bad)
        while True:
            try:
                await self.rng.choice(actions)()
            except httpx.TransportError:  # the server went away (a stop under load)
                self.counts.add("failed")
                await asyncio.sleep(0.1)
            self.counts.add("actions")

    def _body(self) -> dict:
        n = self.rng.randint(8, self.shape.max_prompt)
        return {"prompt": [self.rng.randrange(VOCAB_LOW, self.shape.vocab_size) for _ in range(n)],
                "max_tokens": self.rng.randint(1, self.shape.max_tokens),
                "temperature": self.rng.choice([0.0, 0.7]), "ignore_eos": True}

    def _count(self, status: int) -> None:
        self.counts.add("ok" if status < 400 else "4xx" if status < 500 else "5xx")

    async def _whole(self) -> None:
        self._count((await self.client.post("/v1/completions", json=self._body())).status_code)

    async def _stream(self) -> None:
        """A stream, dropped after a few chunks half of the time."""
        keep = self.rng.choice([2, 5, None])
        body = {**self._body(), "stream": True}
        async with self.client.stream("POST", "/v1/completions", json=body) as response:
            self._count(response.status_code)
            seen = 0
            async for _line in response.aiter_lines():
                seen += 1
                if keep is not None and seen >= keep:
                    self.counts.add("dropped")
                    return

    async def _turn(self) -> None:
        """A turn in this client's session (opened when needed), closed now and then."""
        if self.sid is None:
            opened = await self.client.post("/v1/sessions")
            self._count(opened.status_code)
            if opened.status_code != 200:
                return
            self.sid = opened.json()["id"]
        body = {**self._body(), "session_id": self.sid}
        body["prompt"] = body["prompt"][: self.rng.randint(4, 24)]
        answer = await self.client.post("/v1/completions", json=body)
        self._count(answer.status_code)
        if answer.status_code != 200 or self.rng.random() < 0.2:
            closed = await self.client.delete(f"/v1/sessions/{self.sid}")
            self._count(closed.status_code)
            self.sid = None

    async def _bad(self) -> None:
        """A client mistake: each must be a 4xx."""
        body = self.rng.choice([{"prompt": "x", "max_tokens": 0}, {"prompt": 5},
                                {"messages": []}, {"prompt": "x", "temperature": -1}])
        self._count((await self.client.post("/v1/completions", json=body)).status_code)
