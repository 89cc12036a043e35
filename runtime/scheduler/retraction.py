"""Which running request gives its memory back first when decode runs out of it."""

from __future__ import annotations

from collections.abc import Iterable

from runtime.scheduler.request import Request


def victim_key(req: Request) -> tuple[int, int]:
    """Least output first; ties go to the longest prompt (it frees the most memory)."""
    return (len(req.output_ids), -req.prompt_len)


def pick_victim(candidates: Iterable[Request]) -> Request | None:
    """The first request to retract among `candidates`, or None when there is none."""
    return min(candidates, key=victim_key, default=None)


def keep_order(reqs: Iterable[Request]) -> list[Request]:
    """Requests in the order decode gives them memory: the last victim first."""
    return sorted(reqs, key=victim_key, reverse=True)
