"""The counting rule: one unchanged leak is counted once; a leak that grows, changes kind or
comes back after a clean check is counted again."""

from __future__ import annotations

import pytest

from runtime.memory.checker import LeakKind, LeakReport, is_new_leak
from runtime.memory.manager import MemoryManager
from runtime.memory.pool_name import PoolName
from tests.memory.driver import start, step
from tests.memory.scenarios import manager, session_after_one_turn


@pytest.mark.parametrize(
    ("previous", "current", "counted"),
    [
        (0, 0, False),  # clean
        (0, 2, True),  # a new leak
        (0, -1, True),  # a new double free
        (2, 2, False),  # the same leak, seen again
        (-3, -3, False),  # the same double free, seen again
        (2, 3, True),  # grew
        (-1, -2, True),  # grew (more slots freed twice)
        (3, 2, False),  # shrank: no slot newly lost
        (2, -1, True),  # changed kind
        (-1, 2, True),  # changed kind
        (2, 0, False),  # cleared
    ],
)
def test_is_new_leak_follows_the_counting_rule(previous: int, current: int, counted: bool) -> None:
    """A difference counts when it is new, of the other kind, or larger than the last check's."""
    assert is_new_leak(previous, current) is counted


def _leaky_session(mm: MemoryManager) -> None:
    session_after_one_turn(mm)
    mm.close_session("s")  # with session_close_leaks_mamba: one mamba slot lost


def test_an_unchanged_leak_is_counted_once_however_often_it_is_checked() -> None:
    """Repeated checks of one persisting leak report it every time but count and tell it once."""
    mm = manager("session_close_leaks_mamba")
    told: list[LeakReport] = []
    _leaky_session(mm)
    for _ in range(4):
        assert [(r.pool, r.difference) for r in mm.check(idle=True)] == [("mamba", 1)]
        told.extend(mm.new_leaks)
    assert mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 1}
    assert [(r.pool, r.difference) for r in told] == [("mamba", 1)]
    assert mm.leaked_slots["mamba"] == 1
    assert sum(n for (pool, _), n in mm.check_counts.items() if pool is PoolName.MAMBA) == 4


def test_a_leak_that_grows_is_counted_again() -> None:
    """A second lost slot on the same pool is a new count; checks in between do not add any."""
    mm = manager("session_close_leaks_mamba")
    _leaky_session(mm)
    mm.check(idle=True)
    mm.check(idle=True)
    _leaky_session(mm)  # a second session, closed the same leaky way
    assert [(r.pool, r.difference) for r in mm.check(idle=True)] == [("mamba", 2)]
    mm.check(idle=True)
    assert mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 2}


def test_a_leak_that_changes_kind_is_counted_under_the_new_kind() -> None:
    """A pool that goes from slots lost to slots freed twice counts a double free as well."""
    mm = manager()
    pool = mm.pools.mamba
    assert pool is not None
    (slot,) = pool.allocate(1)  # taken behind the manager's back: a leak of 1
    mm.check(idle=True)
    pool.free([slot])
    pool.free([slot])  # and given back twice: a double free of 1
    mm.check(idle=True)
    mm.check(idle=True)
    assert mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 1,
                              (PoolName.MAMBA, LeakKind.DOUBLE_FREE): 1}


def test_a_leak_that_shrinks_is_not_counted_but_regrowth_is() -> None:
    """Slots coming back do not count; losing them again after that does."""
    mm = manager()
    pool = mm.pools.mamba
    assert pool is not None
    taken = pool.allocate(3)
    mm.check(idle=True)
    pool.free(taken[:1])  # 3 -> 2 lost
    mm.check(idle=True)
    assert mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 1}
    pool.allocate(1)  # 2 -> 3 lost: a slot lost again
    mm.check(idle=True)
    assert mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 2}


def test_a_leak_that_clears_and_recurs_is_counted_again() -> None:
    """A clean check in between makes the same size of leak a new one."""
    mm = manager()
    pool = mm.pools.mamba
    assert pool is not None
    for _ in range(2):
        taken = pool.allocate(1)
        mm.check(idle=True)
        mm.check(idle=True)
        pool.free(taken)
        assert mm.check(idle=True) == []
    assert mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 2}
    assert mm.leaked_slots["mamba"] == 0


def test_busy_checks_count_a_persisting_leak_once_per_growth() -> None:
    """After every step in busy mode, a skipped SWA free counts only on the steps it grows."""
    mm = manager("swa_skip_free", mamba_slots=0)
    req = start(mm, "a", list(range(20)), chunk=20)
    assert req is not None
    step(mm, req, 20)
    step(mm, req, 1)  # the watermark moves: 15 SWA slots lost
    mm.check(idle=False)
    mm.check(idle=False)
    assert mm.leak_counts == {(PoolName.SWA, LeakKind.LEAK): 1}
    step(mm, req, 1)  # one more slot leaves the window, unfreed
    mm.check(idle=False)
    assert mm.leak_counts == {(PoolName.SWA, LeakKind.LEAK): 2}
