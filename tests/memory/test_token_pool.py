"""The paged token pool: page-aligned growth, whole-page frees, nothing lost or shared."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.memory.slot_allocator import OutOfSlotsError
from runtime.memory.token_pool import TokenPool, pages_needed


def test_growth_fills_the_last_page_before_taking_new_ones() -> None:
    """A request's second allocation continues its partially filled page."""
    pool = TokenPool("full", num_pages=8, page_size=4, device="cpu")
    first = pool.allocate(0, 0, 6)
    second = pool.allocate(6, int(first[-1]), 5)
    assert first.tolist()[:4] == [4, 5, 6, 7]
    assert second.tolist()[:2] == [first[-1].item() + 1, first[-1].item() + 2]
    assert pool.num_free_slots == pool.capacity - 12  # three whole pages taken


def test_short_pool_raises_and_takes_nothing() -> None:
    """Asking for more pages than are free raises OutOfSlotsError and leaves the pool unchanged."""
    pool = TokenPool("swa", num_pages=3, page_size=2, device="cpu")
    assert not pool.can_allocate(0, 5)
    with pytest.raises(OutOfSlotsError, match="swa"):
        pool.allocate(0, 0, 5)
    assert pool.num_free_slots == 4


def test_page_zero_is_reserved() -> None:
    """Page 0 is never handed out and cannot be freed."""
    pool = TokenPool("full", num_pages=4, page_size=2, device="cpu")
    slots = pool.allocate(0, 0, pool.capacity)
    assert slots.min() >= 2
    with pytest.raises(ValueError, match="reserved page 0"):
        pool.free_pages(torch.tensor([0, 1]))


def test_double_free_shows_as_more_available_than_capacity() -> None:
    """Freeing a page twice is not hidden: available exceeds capacity for the checker to see."""
    pool = TokenPool("full", num_pages=4, page_size=2, device="cpu")
    slots = pool.allocate(0, 0, 2)
    pool.free_pages(slots)
    pool.free_pages(slots)
    assert pool.num_free_slots == pool.capacity + 2


@pytest.mark.parametrize(
    ("cached", "new", "page", "want"), [(0, 1, 4, 1), (3, 1, 4, 0), (4, 1, 4, 1), (5, 8, 4, 2)]
)
def test_pages_needed(cached: int, new: int, page: int, want: int) -> None:
    """Pages needed count only pages beyond the partially used last one."""
    assert pages_needed(cached, new, page) == want


@settings(max_examples=60, deadline=None)
@given(
    page_size=st.sampled_from([1, 2, 4]),
    ops=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 9), st.booleans()), max_size=60),
)
def test_random_lifecycles_conserve_slots(page_size: int, ops: list[tuple[int, int, bool]]) -> None:
    """Random grow/finish sequences keep held + free == capacity with no slot owned twice."""
    pool = TokenPool("full", num_pages=16, page_size=page_size, device="cpu")
    held: dict[int, list[int]] = {}
    for req, n, finish in ops:
        slots = held.setdefault(req, [])
        if finish and slots:
            pool.free_pages(torch.tensor(held.pop(req)))
        elif pool.can_allocate(len(slots), n):
            slots.extend(pool.allocate(len(slots), slots[-1] if slots else 0, n).tolist())
        pages = [-(-len(s) // page_size) for s in held.values()]
        assert pool.num_free_slots + sum(pages) * page_size == pool.capacity
        flat = [x for s in held.values() for x in s]
        assert len(flat) == len(set(flat)) and all(x >= page_size for x in flat)
