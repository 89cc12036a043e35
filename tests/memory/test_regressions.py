"""Regression scenarios from SGLang's hybrid-memory bug history, one test each."""

from __future__ import annotations

from runtime.memory.holdings import ReqMemory
from runtime.memory.memory_config import MambaStrategy
from tests.memory.driver import prefilled, start, step
from tests.memory.scenarios import (
    assert_clean,
    lazy_manager,
    manager,
    run,
    second_turn,
    session_after_one_turn,
)


def test_rejected_session_request_keeps_its_mamba_slot() -> None:
    """#23327: a turn restored, turned down by admission and restored again; then close."""
    mm = manager()
    slot, _ = session_after_one_turn(mm)
    working = slot.held.mamba.working
    assert second_turn(mm, slot, new=80) is None
    assert_clean(mm)
    assert slot.held.mamba.working == working and mm.stats().pools["mamba"].session_held == 1
    req = second_turn(mm, slot, new=3)
    assert req is not None and req.held.mamba.working == working
    while not prefilled(req):
        step(mm, req, 8)
    req.tokens.append(1)
    mm.finish(req)
    assert mm.close_session("s")
    assert_clean(mm)


def test_busy_checks_with_an_active_session_do_not_double_count() -> None:
    """#22213/#22753: while a turn runs, the slot's holdings are counted once, as running."""
    mm = manager()
    slot, _ = session_after_one_turn(mm)
    req = second_turn(mm, slot, new=3)
    assert req is not None
    for _ in range(3):
        step(mm, req, 2)
        stats = mm.stats().pools
        assert stats["req"].session_held == 0 and stats["req"].running == 1
        assert_clean(mm)


def test_idle_usage_includes_mamba() -> None:
    """#22555: at idle, token_usage is the max over pools, mamba included."""
    mm = manager(full_slots=256, swa_slots=256, mamba_slots=4)
    slot, _ = session_after_one_turn(mm)
    stats = mm.stats()  # the cached prompt's snapshot (protected) + the session's working slot
    assert stats.pools["mamba"].usage == 0.5 and stats.pools["full"].usage < 0.5
    assert stats.token_usage == 0.5 and stats.bottleneck == "mamba"


def test_closing_a_session_returns_its_mamba_slots() -> None:
    """#23496: close frees the working and track slots; the idle check counts held ones."""
    mm = manager(page_size=2, mamba_strategy=MambaStrategy.EXTRA_BUFFER, track_interval=2)
    slot, _ = session_after_one_turn(mm)
    assert mm.stats().pools["mamba"].session_held == 3
    assert_clean(mm)
    mm.close_session("s")
    assert_clean(mm)
    mamba = mm.stats().pools["mamba"]
    assert mamba.session_held == 0 and mamba.available + mamba.evictable == mamba.capacity


def test_close_while_a_turn_runs_is_deferred_to_the_turns_end() -> None:
    mm = manager()
    slot, _ = session_after_one_turn(mm)
    req = second_turn(mm, slot)
    assert req is not None
    assert not mm.close_session("s")
    assert_clean(mm)
    while not prefilled(req):
        step(mm, req, 8)
    req.tokens.append(1)
    mm.finish(req)
    assert "s" not in mm.sessions
    assert_clean(mm)
    assert all(p.session_held == 0 for p in mm.stats().pools.values())


def test_lazy_boundary_allocation_failure_skips_caching_and_leaks_nothing() -> None:
    """Two mamba slots, both held by the request: the boundary at 8 cannot get a second."""
    mm = lazy_manager(mamba_slots=2)
    req = start(mm, "a", list(range(8)), chunk=4)
    assert req is not None
    step(mm, req, 4)
    step(mm, req, 4)  # ends on the boundary; the only track slot is overwritten
    assert_clean(mm)
    req.tokens.append(1)
    mm.finish(req)
    assert mm.counters.mamba_cache_skipped == 1
    stats = mm.stats().pools
    assert stats["mamba"].evictable == 0 and stats["full"].evictable == 0
    assert_clean(mm)


def test_lazy_boundary_allocation_failure_skips_only_a_finish_on_that_step() -> None:
    """A request that steps past its failed boundary caches the snapshot written there."""
    mm = lazy_manager(mamba_slots=2)
    req = start(mm, "a", list(range(8)), chunk=4)
    assert req is not None
    step(mm, req, 4)
    step(mm, req, 4)  # the boundary at 8 cannot get a second slot: the only one is overwritten
    step(mm, req, 4)  # one decode token past it
    req.tokens.append(1)
    mm.finish(req)
    assert mm.counters.track_alloc_failures == 1 and mm.counters.mamba_cache_skipped == 0
    stats = mm.stats().pools
    assert stats["mamba"].evictable == 1 and stats["full"].evictable == 8
    assert_clean(mm)
    turn_2 = ReqMemory("b", list(range(8)) + [7, 5])
    assert mm.match(turn_2) == 8  # the next turn resumes from that snapshot
    mm.revert(turn_2)
    assert_clean(mm)


def test_lazy_boundary_with_room_caches_the_snapshot() -> None:
    mm = lazy_manager(mamba_slots=3)
    run(mm, "a", list(range(8)), chunk=4)
    assert mm.counters.mamba_cache_skipped == 0
    assert mm.stats().pools["mamba"].evictable == 1 and mm.stats().pools["full"].evictable == 8
    assert_clean(mm)


def test_a_rejected_request_returns_its_copy_on_write_slot() -> None:
    """#16067/#21404: a prefix hit copies the cached state; a turn-down gives the copy back."""
    mm = manager(full_slots=32)
    run(mm, "a", list(range(10)), chunk=10)
    req = start(mm, "b", [*range(10), 9, *([1] * 40)], chunk=64)
    assert req is None
    assert_clean(mm)
    assert mm.stats().pools["mamba"].available == mm.stats().pools["mamba"].capacity - 1
