"""The radix prefix cache: page-aligned matching, lock accounting, LRU eviction, nothing lost."""

from __future__ import annotations

import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runtime.memory.radix_cache import RadixCache
from runtime.memory.token_pool import TokenPool


def _cache(pages: int = 32, page_size: int = 2) -> RadixCache:
    return RadixCache(TokenPool("full", num_pages=pages, page_size=page_size, device="cpu"))


def _finish(cache: RadixCache, tokens: list[int]) -> torch.Tensor:
    """A request that computed `tokens` from scratch and hands its KV to the cache."""
    slots = cache.pool.allocate(0, 0, len(tokens))
    done = cache.insert(tokens, slots)
    cache.pool.free_pages(slots[:done])  # duplicates of what the tree already holds
    tail = cache._aligned(len(tokens))
    cache.pool.free_pages(slots[tail:])  # the unaligned tail is not cached
    return slots


def test_match_returns_the_page_aligned_shared_prefix() -> None:
    """A second key sharing 5 tokens with a cached one matches 4 of them at page size 2."""
    cache = _cache()
    slots = _finish(cache, [1, 2, 3, 4, 5, 6, 7, 8])
    match = cache.match_prefix([1, 2, 3, 4, 5, 9, 9, 9])
    assert match.length == 4 and torch.equal(match.slots, slots[:4])


def test_locking_moves_the_path_between_evictable_and_protected() -> None:
    """inc_lock protects the matched path; dec_lock makes it evictable again."""
    cache = _cache()
    _finish(cache, [1, 2, 3, 4, 5, 6])
    match = cache.match_prefix([1, 2, 3, 4])
    cache.inc_lock(match.node)
    assert cache.size_info() == {"evictable": 2, "protected": 4}
    assert cache.evict(100) == 2  # only the unlocked suffix can go
    cache.dec_lock(match.node)
    assert cache.size_info() == {"evictable": 4, "protected": 0}


def test_eviction_takes_the_least_recently_used_leaf_first() -> None:
    """After touching key A, evicting one page's worth removes key B."""
    cache = _cache()
    _finish(cache, [1, 1, 1, 1])
    _finish(cache, [2, 2, 2, 2])
    cache.match_prefix([1, 1, 1, 1])
    cache.evict(1)
    assert cache.match_prefix([1, 1, 1, 1]).length == 4
    assert cache.match_prefix([2, 2, 2, 2]).length == 0


@settings(max_examples=150, deadline=None)
@example(page_size=1, ops=[([1, 1, 2, 2], 0), ([1, 1, 3, 3], 0)])  # a split parent left as a leaf
@given(
    page_size=st.sampled_from([1, 2, 4]),
    ops=st.lists(
        st.tuples(st.lists(st.integers(0, 2), min_size=1, max_size=12), st.integers(0, 8)),
        max_size=40,
    ),
)
def test_random_requests_conserve_slots(page_size: int, ops: list[tuple[list[int], int]]) -> None:
    """Requests that match, lock, extend, insert, unlock, with random evictions in between, keep
    available + evictable + protected == capacity and the tree's own count equal to its sizes."""
    cache = _cache(pages=64, page_size=page_size)
    pool = cache.pool
    for tokens, evict in ops:
        match = cache.match_prefix(tokens)
        cache.inc_lock(match.node)
        new = len(tokens) - match.length
        if not pool.can_allocate(match.length, new):
            cache.evict(new + page_size)
        if pool.can_allocate(match.length, new):
            own = pool.allocate(match.length, 0, new) if new else torch.empty(0, dtype=torch.int64)
            done = cache.insert(tokens, torch.cat([match.slots, own]))
            pool.free_pages(own[: max(0, done - match.length)])
            pool.free_pages(own[max(done, cache._aligned(len(tokens))) - match.length :])
        cache.dec_lock(match.node)
        cache.evict(evict)
        info = cache.size_info()
        assert info["evictable"] + info["protected"] == cache.total_size()
        assert pool.num_free_slots + cache.total_size() == pool.capacity
    assert cache.evict(pool.capacity) >= 0 and cache.total_size() == 0  # nothing locked: all goes
    assert pool.num_free_slots == pool.capacity
