"""A scheduler stand-in for memory tests: drives request lifecycles through MemoryManager the
way the scheduler does (match, admit or revert, chunked extend, decode, finish)."""

from __future__ import annotations

from runtime.memory.holdings import ReqMemory, SessionSlot
from runtime.memory.manager import MemoryManager


def start(
    mm: MemoryManager, rid: str, tokens: list[int], chunk: int, session: SessionSlot | None = None
) -> ReqMemory | None:
    """Matches and admits a request for its first chunk; None (nothing held) if it cannot."""
    req = ReqMemory(rid, list(tokens), session)
    mm.match(req)
    if not mm.can_admit(req, min(chunk, len(tokens) - req.held.allocated)):
        mm.revert(req)
        return None
    mm.admit(req)
    return req


def prefilled(req: ReqMemory) -> bool:
    return req.held.allocated >= len(req.tokens)


def step(mm: MemoryManager, req: ReqMemory, chunk: int, next_token: int = 7) -> bool:
    """One forward for the request: its next prefill chunk, or one decode token (sampling
    `next_token` first). False, with nothing taken, when the pools cannot hold it."""
    if prefilled(req):
        req.tokens.append(next_token)
    n = min(chunk, len(req.tokens) - req.held.allocated)
    if not mm.can_extend(req, n):
        if prefilled(req):
            req.tokens.pop()
        return False
    mm.alloc_extend(req, n)
    mm.after_forward(req)
    return True


def run(mm: MemoryManager, rid: str, tokens: list[int], *, chunk: int = 4, decode: int = 0,
        session: SessionSlot | None = None) -> ReqMemory:
    """Admits, prefills, decodes `decode` tokens and finishes one request; asserts it fits."""
    req = start(mm, rid, tokens, chunk, session)
    assert req is not None, "request did not fit"
    while not prefilled(req):
        assert step(mm, req, chunk)
    for _ in range(decode):
        assert step(mm, req, chunk)
    req.tokens.append(9)  # the last sampled token, never fed to the model
    mm.finish(req)
    return req
