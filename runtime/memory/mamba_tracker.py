"""Mamba track strategies: which slots a running request holds and when snapshots are taken.

`no_buffer`: only the working slot; the tree receives the working state itself at finish (or a
fork of it after a chunk). `extra_buffer`: 1 working + 2 track slots; at every track boundary
(seq_len % track_interval == 0) the working state is copied into the track slot not holding the
valid snapshot (ping-pong), so the snapshot being cached is never the one a step writes.
`extra_buffer_lazy`: 1 track slot; at a decode boundary a second is taken (evicting one cached
state if the pool is empty) and the old one is freed after the step; if that fails the only slot
is overwritten and the request's state is not cached should it finish on that step (SGLang
#27118); once it steps again, the overwritten slot is the valid snapshot of the boundary.
A prefill chunk ending on a boundary overwrites the only slot: the request cannot finish on a
mid-prefill step, and the snapshot is forked into the tree before the next step runs, so no
in-flight step ever writes a snapshot being cached (the reason for the second slot, SGLang #27118).
"""

from __future__ import annotations

from collections.abc import Callable

from runtime.memory.holdings import MambaHold
from runtime.memory.mamba_pool import MambaPool
from runtime.memory.memory_config import MambaStrategy


def at_boundary(new_len: int, hold: MambaHold, interval: int) -> bool:
    return new_len % interval == 0 and new_len > hold.track_len


def prepare_boundary(
    hold: MambaHold,
    strategy: MambaStrategy,
    pool: MambaPool,
    make_room: Callable[[], bool],
    in_prefill: bool,
) -> None:
    """Chooses the slot this step's snapshot goes to (called when the step ends on a boundary);
    `in_prefill`: the step is a prefill chunk."""
    if strategy is MambaStrategy.EXTRA_BUFFER:
        hold.boundary_target = hold.track[(hold.last_track + 1) % len(hold.track)]
    elif strategy is MambaStrategy.EXTRA_BUFFER_LAZY:
        if in_prefill:  # the snapshot taken after this step is exact: cacheable again
            hold.boundary_target, hold.skip_cache = hold.track[0], False
        elif pool.can_allocate(1) or make_room():
            (hold.boundary_target,) = pool.allocate(1)
        else:
            hold.boundary_target = hold.track[0]
            hold.skip_cache = True


def after_step(hold: MambaHold, strategy: MambaStrategy, pool: MambaPool, length: int) -> None:
    """Takes the snapshot chosen by `prepare_boundary`, once the step wrote the working state."""
    target = hold.boundary_target
    if target is None or hold.working is None:
        return
    pool.copy(hold.working, target)
    if strategy is MambaStrategy.EXTRA_BUFFER_LAZY and target not in hold.track:
        pool.free(hold.track)
        hold.track, hold.skip_cache = [target], False
    hold.last_track = hold.track.index(target)
    hold.track_len, hold.boundary_target = length, None


def cacheable(hold: MambaHold, strategy: MambaStrategy, allocated: int) -> tuple[int, int | None]:
    """The longest prefix whose state the request can offer the tree, and that state's slot."""
    if strategy is MambaStrategy.NO_BUFFER:
        return allocated, hold.working
    if hold.skip_cache or hold.snapshot is None:
        return 0, None
    return hold.track_len, hold.snapshot
