"""Streaming sessions: a slot keeps a conversation's row, KV and mamba state between turns.

Restoring lends the slot's holdings to the turn's request (the slot stays intact, so a restored
request can be turned down by admission and restored again); finishing or retracting the turn
saves them back; closing frees everything the slot holds, mamba slots included.

Under memory pressure an idle slot can be evicted (least recently used first, once it has been
idle `min_idle_s`): its KV and state go to the prefix cache, where they are evictable like any
finished request's, and the slot is left empty but open. The next turn then matches the prefix
cache like a new request (a hit if the cache kept it, a recompute if not).

Owns the open session slots (the dict it is given); reads the running set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from runtime.memory.counters import MemoryCounters
from runtime.memory.holdings import Holdings, ReqMemory, SessionSlot
from runtime.memory.release import Release


class SessionError(ValueError):
    """A session request that cannot be served as asked (unknown, busy, or history mismatch)."""


@dataclass(frozen=True)
class SessionEviction:
    """An idle session whose memory was handed to the prefix cache under pressure."""

    sid: str
    idle_s: float  # how long it had been idle
    num_tokens: int  # tokens of KV it held


@dataclass
class SessionStore:
    """Opens, lends, saves back, evicts and closes session slots."""

    slots: dict[str, SessionSlot]
    running: dict[str, ReqMemory]
    release: Release
    counters: MemoryCounters
    faults: frozenset[str]

    def open(self, sid: str) -> SessionSlot:
        if sid in self.slots:
            raise SessionError(f"session {sid!r} is already open")
        slot = self.slots[sid] = SessionSlot(sid, idle_since=time.monotonic())
        return slot

    def restore(self, req: ReqMemory) -> int:
        """Lends the session's holdings to its turn; returns the tokens they cover."""
        slot = req.session
        assert slot is not None
        if slot.lent_to is not None and slot.lent_to is not req:
            raise SessionError(f"session {slot.sid!r} already runs request {slot.lent_to.rid}")
        length = slot.held.allocated
        if req.tokens[:length] != slot.key[:length] or len(req.tokens) <= length:
            raise SessionError(
                f"request {req.rid} does not continue session {slot.sid!r}: its tokens must "
                f"start with the session's {length} and add at least one"
            )
        req.held = slot.held.copy()
        req.held.prefill_end = len(req.tokens)
        slot.lent_to = req
        return length

    def save(self, req: ReqMemory) -> None:
        """Takes a turn's holdings back into its slot (and closes it if a close waited)."""
        slot = req.session
        assert slot is not None
        slot.held, slot.key = req.held, list(req.tokens[: req.held.allocated])
        slot.lent_to, slot.idle_since = None, time.monotonic()
        req.reset()
        if slot.closing:
            self._release_slot(slot)

    def close(self, sid: str) -> bool:
        """Frees all the session holds; deferred to the turn's end while a turn runs. Returns
        whether it was released now."""
        slot = self.slots.get(sid)
        if slot is None:
            raise SessionError(f"session {sid!r} is not open")
        if slot.lent_to is not None and slot.lent_to.rid in self.running:
            slot.closing = True
            return False
        self._release_slot(slot)
        return True

    def _release_slot(self, slot: SessionSlot) -> None:
        held = slot.held
        if "session_close_leaks_mamba" in self.faults:
            held.mamba.working, held.mamba.track = None, []
        self.release.release(held)
        slot.reset_after_close()
        del self.slots[slot.sid]

    def has_idle_memory(self) -> bool:
        """Whether an idle session holds memory (that it would give up once evictable)."""
        return any(s.lent_to is None and not s.is_empty for s in self.slots.values())

    def evict_idle(self, min_idle_s: float, now: float | None = None) -> SessionEviction | None:
        """Hands the least recently used idle session's memory to the prefix cache, if one has
        been idle at least `min_idle_s`; the slot stays open and empty. None if none can go."""
        now = time.monotonic() if now is None else now
        idle = [s for s in self.slots.values() if s.lent_to is None and not s.is_empty
                and now - s.idle_since >= min_idle_s]
        if not idle:
            return None
        slot = min(idle, key=lambda s: s.idle_since)
        eviction = SessionEviction(slot.sid, now - slot.idle_since, slot.held.allocated)
        self.release.cache_and_release(slot.held, slot.key)
        slot.held, slot.key = Holdings(), []
        self.counters.session_evictions += 1
        return eviction
