"""What one request (or one idle streaming session) holds in the pools, and the request record.

Holdings move as a whole: a session saves a finished turn's holdings and lends them to the next
turn, and retraction resets them to a fresh record, so no field is forgotten (SWA watermark and
mamba fields included).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from runtime.memory.radix_node import CacheLock


@dataclass
class MambaHold:
    """A request's mamba slots: the working state, track snapshots, and the lazy second slot."""

    working: int | None = None
    track: list[int] = field(default_factory=list)
    last_track: int = -1  # index into `track` of the valid snapshot, -1: none yet
    track_len: int = 0  # tokens the valid snapshot covers
    boundary_target: int | None = None  # track slot the current step's snapshot goes to
    skip_cache: bool = False  # lazy: this step's boundary allocation failed; no cache at finish

    def slots(self) -> list[int]:
        held = [] if self.working is None else [self.working]
        held += self.track
        if self.boundary_target is not None and self.boundary_target not in self.track:
            held.append(self.boundary_target)
        return held

    @property
    def snapshot(self) -> int | None:
        return self.track[self.last_track] if self.last_track >= 0 else None


@dataclass
class Holdings:
    """Everything in the pools that belongs to one owner. Positions [0, protected) belong to the
    prefix cache (locked through `lock`); [protected, allocated) are the owner's own."""

    row: int = 0  # request row, 0: none
    slots: dict[str, list[int]] = field(default_factory=dict)  # KV pool -> slot per position
    allocated: int = 0  # positions with KV (tokens the model has processed)
    protected: int = 0
    lock: CacheLock | None = None
    swa_evicted: int = 0  # SWA slots of positions below this are freed (page-aligned)
    mamba: MambaHold = field(default_factory=MambaHold)
    prefill_end: int = 0  # tokens the request had when matched: its prefill runs dense
    host_backed: int = 0  # host tier: positions whose KV is copied to the host pool
    matched: int | None = None  # prefix-cache match by key (None: resumed from a session)

    def copy(self) -> Holdings:
        return Holdings(
            row=self.row, slots={k: list(v) for k, v in self.slots.items()},
            allocated=self.allocated, protected=self.protected, lock=self.lock,
            swa_evicted=self.swa_evicted, mamba=copy.deepcopy(self.mamba),
            prefill_end=self.prefill_end, host_backed=self.host_backed, matched=self.matched,
        )


@dataclass(eq=False)
class ReqMemory:
    """A request as the memory layer sees it. The caller appends generated ids to `tokens`."""

    rid: str
    tokens: list[int]
    session: SessionSlot | None = None
    held: Holdings = field(default_factory=Holdings)

    def reset(self) -> None:
        """Forgets every memory field (after a release or a hand-back to the session)."""
        self.held = Holdings()


@dataclass(eq=False)
class SessionSlot:
    """A streaming session's memory between turns. `key` is the token ids its KV covers."""

    sid: str
    key: list[int] = field(default_factory=list)
    held: Holdings = field(default_factory=Holdings)
    lent_to: ReqMemory | None = None
    closing: bool = False  # close was asked while a turn ran; done when the turn ends
    idle_since: float = 0.0  # time.monotonic() when its last turn ended (or it opened)

    @property
    def is_empty(self) -> bool:
        return self.held.row == 0

    def reset_after_close(self) -> None:
        self.held, self.key, self.lent_to, self.closing = Holdings(), [], None, False
