"""Which running request gives its memory back first when decode runs out of it."""

from __future__ import annotations

from collections.abc import Iterable

from runtime.scheduler.request import Request


def victim_key(req: Request) -> tuple[bool, int, int]:
    """Least output first; ties go to the longest prompt (it frees the most memory). A session
    turn comes after every plain request: retracting it frees nothing (it hands its memory
    back to the session's slot), so it only helps once no plain request is left."""
    return (req.session_id is not None, len(req.output_ids), -req.prompt_len)


def pick_victim(candidates: Iterable[Request]) -> Request | None:
    """The first request to retract among `candidates`, or None when there is none."""
    return min(candidates, key=victim_key, default=None)


def keep_order(reqs: Iterable[Request]) -> list[Request]:
    """Requests in the order decode gives them memory: the last victim first."""
    return sorted(reqs, key=victim_key, reverse=True)
