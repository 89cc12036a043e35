"""Small scenarios shared by the fault-point and regression tests."""

from __future__ import annotations

from runtime.memory.checker import CheckMode
from runtime.memory.holdings import ReqMemory, SessionSlot
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import MambaStrategy, MemoryConfig
from tests.memory.driver import run, start


def assert_clean(mm: MemoryManager) -> None:
    """The checker finds every pool balanced (the idle identity when nothing runs)."""
    assert mm.check(idle=not mm.running) == []


def manager(*faults: str, **kw: object) -> MemoryManager:
    base = dict(full_slots=64, swa_slots=64, mamba_slots=8, window=4, req_rows=4,
                check_mode=CheckMode.BUSY, faults=frozenset(faults))
    base.update(kw)
    return MemoryManager(MemoryConfig(**base))  # type: ignore[arg-type]


def session_after_one_turn(
    mm: MemoryManager, prompt: int = 6, decode: int = 2
) -> tuple[SessionSlot, ReqMemory]:
    """An open session whose first turn ran to the end (its prompt cached and locked)."""
    slot = mm.open_session("s")
    req = start(mm, "t1", list(range(prompt)), chunk=prompt, session=slot)
    assert req is not None
    mm.alloc_extend(req, prompt)
    mm.after_forward(req)
    mm.cache_unfinished(req)
    for _ in range(decode):
        req.tokens.append(3)
        mm.alloc_extend(req, 1)
        mm.after_forward(req)
    req.tokens.append(4)
    mm.finish(req)
    return slot, req


def second_turn(mm: MemoryManager, slot: SessionSlot, new: int = 3) -> ReqMemory | None:
    """Starts turn 2 (restored from the slot); None when admission turned it down."""
    return start(mm, "t2", [*slot.key, 4, *([5] * new)], chunk=64, session=slot)


def lazy_manager(mamba_slots: int) -> MemoryManager:
    return manager(
        page_size=4, full_slots=64, swa_slots=0, window=None, mamba_slots=mamba_slots,
        mamba_strategy=MambaStrategy.EXTRA_BUFFER_LAZY, track_interval=8,
    )


__all__ = ["manager", "run", "second_turn", "session_after_one_turn", "lazy_manager"]
