"""Streaming sessions: a slot keeps a conversation's row, KV and mamba state between turns.

Restoring lends the slot's holdings to the turn's request (the slot stays intact, so a restored
request can be turned down by admission and restored again); finishing or retracting the turn
saves them back; closing frees everything the slot holds, mamba slots included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.memory.holdings import ReqMemory, SessionSlot

if TYPE_CHECKING:
    from runtime.memory.manager import MemoryManager


class SessionError(ValueError):
    """A session request that cannot be served as asked (unknown, busy, or history mismatch)."""


class Sessions:
    """Mixin for MemoryManager."""

    def open_session(self: MemoryManager, sid: str) -> SessionSlot:
        if sid in self.sessions:
            raise SessionError(f"session {sid!r} is already open")
        slot = self.sessions[sid] = SessionSlot(sid)
        return slot

    def _restore(self: MemoryManager, req: ReqMemory) -> int:
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

    def _save_to_session(self: MemoryManager, req: ReqMemory) -> None:
        slot = req.session
        assert slot is not None
        slot.held, slot.key = req.held, list(req.tokens[: req.held.allocated])
        slot.lent_to = None
        req.reset()
        if slot.closing:
            self._release_session(slot)

    def close_session(self: MemoryManager, sid: str) -> bool:
        """Frees all the session holds; deferred to the turn's end while a turn runs. Returns
        whether it was released now."""
        slot = self.sessions.get(sid)
        if slot is None:
            raise SessionError(f"session {sid!r} is not open")
        if slot.lent_to is not None and slot.lent_to.rid in self.running:
            slot.closing = True
            return False
        self._release_session(slot)
        return True

    def _release_session(self: MemoryManager, slot: SessionSlot) -> None:
        held = slot.held
        if "session_close_leaks_mamba" in self.faults:
            held.mamba.working, held.mamba.track = None, []
        self._release(held)
        slot.reset_after_close()
        del self.sessions[slot.sid]
