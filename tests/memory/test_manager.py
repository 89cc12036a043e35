"""MemoryManager lifecycles: prefix reuse, SWA freeing, strategies' slots, sessions, retraction."""

from __future__ import annotations

import pytest

from runtime.memory.checker import CheckMode
from runtime.memory.holdings import ReqMemory
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import LeakPolicy, MambaStrategy, MemoryConfig
from tests.memory.driver import prefilled, run, start, step
from tests.memory.scenarios import assert_clean


def _mm(**kw: object) -> MemoryManager:
    base = dict(full_slots=256, swa_slots=128, mamba_slots=16, window=8, req_rows=8,
                check_mode=CheckMode.BUSY, on_leak=LeakPolicy.RAISE)
    base.update(kw)
    return MemoryManager(MemoryConfig(**base))  # type: ignore[arg-type]


def test_idle_after_requests_balances_and_the_prefix_is_reused() -> None:
    mm = _mm()
    run(mm, "a", list(range(20)), decode=3)
    assert_clean(mm)
    stats = mm.stats().pools
    assert stats["full"].evictable == 23 and stats["mamba"].evictable == 1
    req = ReqMemory("b", [*range(20), 7, 7, 7, 5])
    assert mm.match(req) == 23
    mm.revert(req)
    req = ReqMemory("c", [*range(20), 5])
    assert mm.match(req) == 0  # no mamba snapshot at 20 tokens: nothing to resume from
    mm.revert(req)
    assert_clean(mm)


def test_swa_slots_out_of_the_window_are_freed_during_decode() -> None:
    """With window 8 a request of 40 tokens holds at most window + 2 pages of SWA slots."""
    mm = _mm(page_size=1, window=8)
    req = start(mm, "a", list(range(40)), chunk=40)
    assert req is not None
    step(mm, req, 40)
    for _ in range(10):
        step(mm, req, 1)
        assert_clean(mm)
    running = mm.stats().pools["swa"].running
    assert running <= 8 + 2 and mm.stats().pools["full"].running == 50


@pytest.mark.parametrize(
    ("strategy", "page", "per_request"),
    [
        (MambaStrategy.NO_BUFFER, 1, 1),
        (MambaStrategy.EXTRA_BUFFER, 4, 3),
        (MambaStrategy.EXTRA_BUFFER_LAZY, 4, 2),
    ],
)
def test_mamba_slots_per_running_request_by_strategy(
    strategy: MambaStrategy, page: int, per_request: int
) -> None:
    """1 working (+ 2 track for extra_buffer, + 1 for lazy outside boundaries), from PoolStats."""
    mm = _mm(page_size=page, mamba_strategy=strategy, track_interval=8, mamba_slots=32)
    reqs = [start(mm, f"r{i}", [i] * 13, chunk=5) for i in range(3)]
    for req in reqs:
        assert req is not None
        step(mm, req, 5)  # 5 tokens: not on a boundary of 8
    assert mm.stats().pools["mamba"].running == 3 * per_request
    assert_clean(mm)


def test_extra_buffer_caches_kv_only_up_to_the_last_snapshot() -> None:
    """Boundaries at 8 and 16: a request finishing at 21 tokens caches 16 of them."""
    mm = _mm(page_size=4, mamba_strategy=MambaStrategy.EXTRA_BUFFER, track_interval=8)
    run(mm, "a", list(range(21)), chunk=8)
    assert mm.stats().pools["full"].evictable == 16
    req = ReqMemory("b", list(range(30)))
    assert mm.match(req) == 16
    mm.revert(req)
    assert_clean(mm)


def test_lazy_takes_the_second_track_slot_only_at_a_decode_boundary() -> None:
    mm = _mm(page_size=4, mamba_strategy=MambaStrategy.EXTRA_BUFFER_LAZY, track_interval=8)
    req = start(mm, "a", list(range(7)), chunk=7)
    assert req is not None
    step(mm, req, 7)
    assert mm.stats().pools["mamba"].running == 2
    req.tokens.append(7)
    mm.alloc_extend(req, 1)  # a decode step ending on the boundary at 8: the second slot now
    assert mm.stats().pools["mamba"].running == 3
    mm.after_forward(req)  # the snapshot moved to the new slot; the old one is freed
    assert mm.stats().pools["mamba"].running == 2
    assert req.held.mamba.track_len == 8 and not req.held.mamba.skip_cache
    assert_clean(mm)


def test_lazy_prefill_chunk_on_a_boundary_overwrites_its_only_track_slot() -> None:
    """Mid-prefill, no step can finish the request, so no second slot is needed (#27118)."""
    mm = _mm(page_size=4, mamba_strategy=MambaStrategy.EXTRA_BUFFER_LAZY, track_interval=8)
    req = start(mm, "a", list(range(20)), chunk=8)
    assert req is not None
    (track,) = req.held.mamba.track
    mm.alloc_extend(req, 8)  # a prefill chunk ending on the boundary at 8
    assert mm.stats().pools["mamba"].running == 2
    mm.after_forward(req)
    assert req.held.mamba.track == [track] and req.held.mamba.track_len == 8
    assert mm.counters.track_alloc_failures == 0
    assert_clean(mm)


def test_retraction_releases_everything_and_resets_the_swa_watermark() -> None:
    """Regression (#18059): a retracted request restarts with every memory field reset."""
    mm = _mm(page_size=1, window=4)
    req = start(mm, "a", list(range(30)), chunk=30)
    assert req is not None
    step(mm, req, 30)
    step(mm, req, 1)
    assert req.held.swa_evicted > 0
    mm.retract(req)
    assert req.held.swa_evicted == 0 and req.held.allocated == 0 and req.held.row == 0
    assert_clean(mm)
    assert mm.stats().pools["swa"].available == 128
    mm.match(req)  # admitted again from the prefix cache only
    mm.admit(req)
    while not prefilled(req):
        step(mm, req, 8)
    assert_clean(mm)
