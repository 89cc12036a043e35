"""The radix prefix cache: page-aligned matching, lock accounting, LRU eviction, nothing lost."""

from __future__ import annotations

import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runtime.memory.mamba_pool import MambaPool
from runtime.memory.radix_cache import RadixCache
from runtime.memory.token_pool import TokenPool


def _cache(pages: int = 32, page_size: int = 2) -> RadixCache:
    pool = TokenPool("full", num_pages=pages, page_size=page_size, device="cpu")
    return RadixCache({"full": pool}, page_size=page_size)


def _finish(cache: RadixCache, tokens: list[int]) -> torch.Tensor:
    """A request that computed `tokens` from scratch and hands its KV to the cache."""
    pool = cache.kv_pools["full"]
    slots = pool.allocate(0, 0, len(tokens))
    result = cache.insert(tokens, {"full": slots})
    pool.free_pages(slots[: result.already])  # duplicates of what the tree already holds
    pool.free_pages(slots[result.cached :])  # the unaligned tail is not cached
    return slots


def _total(cache: RadixCache, component: str) -> int:
    info = cache.size_info(component)
    return info["evictable"] + info["protected"]


def test_match_returns_the_page_aligned_shared_prefix() -> None:
    """A second key sharing 5 tokens with a cached one matches 4 of them at page size 2."""
    cache = _cache()
    slots = _finish(cache, [1, 2, 3, 4, 5, 6, 7, 8])
    match = cache.match_prefix([1, 2, 3, 4, 5, 9, 9, 9])
    assert match.length == 4 and torch.equal(match.slots["full"], slots[:4])


def test_locking_moves_the_path_between_evictable_and_protected() -> None:
    """lock protects the matched path; unlock makes it evictable again."""
    cache = _cache()
    _finish(cache, [1, 2, 3, 4, 5, 6])
    handle = cache.lock(cache.match_prefix([1, 2, 3, 4]).node)
    assert cache.size_info("full") == {"evictable": 2, "protected": 4}
    assert cache.evict("full", 100) == 2  # only the unlocked suffix can go
    cache.unlock(handle)
    assert cache.size_info("full") == {"evictable": 4, "protected": 0}


def test_eviction_takes_the_least_recently_used_leaf_first() -> None:
    """After touching key A, evicting one page's worth removes key B."""
    cache = _cache()
    _finish(cache, [1, 1, 1, 1])
    _finish(cache, [2, 2, 2, 2])
    cache.match_prefix([1, 1, 1, 1])
    cache.evict("full", 1)
    assert cache.match_prefix([1, 1, 1, 1]).length == 4
    assert cache.match_prefix([2, 2, 2, 2]).length == 0


def _hybrid(window: int = 4, pages: int = 64, mamba_slots: int = 16) -> RadixCache:
    pools = {kind: TokenPool(kind, num_pages=pages, page_size=1, device="cpu")
             for kind in ("full", "swa")}
    return RadixCache(pools, MambaPool(mamba_slots), page_size=1, window=window)


def _finish_hybrid(cache: RadixCache, tokens: list[int], swa_evicted: int = 0) -> None:
    """A request of `tokens` whose SWA slots below `swa_evicted` already left the window."""
    n = len(tokens)
    slots = {kind: pool.allocate(0, 0, n) for kind, pool in cache.kv_pools.items()}
    cache.kv_pools["swa"].free_pages(slots["swa"][:swa_evicted])
    (state,) = cache.mamba_pool.allocate(1)
    result = cache.insert(tokens, slots, swa_evicted=swa_evicted, mamba=state)
    for kind, pool in cache.kv_pools.items():
        own_from = swa_evicted if kind == "swa" else 0
        pool.free_pages(slots[kind][own_from : result.already])  # duplicates
        pool.free_pages(slots[kind][max(own_from, result.cached) :])  # not cached
    if not result.mamba_taken:
        cache.mamba_pool.free([state])
    for kind, pool in cache.kv_pools.items():
        assert pool.num_free_slots + _total(cache, kind) == pool.capacity


def test_swa_tombstones_make_a_prefix_unusable_without_a_full_window() -> None:
    """A key inserted with its first 6 SWA tokens already freed matches in full (the window of 4
    before position 10 is live); a key diverging at 7 cannot resume there and gets nothing."""
    cache = _hybrid(window=4)
    _finish_hybrid(cache, list(range(10)), swa_evicted=6)
    assert cache.match_prefix(list(range(10))).length == 10
    assert cache.size_info("swa") == {"evictable": 4, "protected": 0}
    miss = cache.match_prefix([*range(7), 99, 99])
    assert miss.length == 0 and miss.walked == 7


def test_match_stops_at_the_deepest_mamba_snapshot() -> None:
    """Evicting the leaf's snapshot deletes it; an internal node left without one is skipped."""
    cache = _hybrid(window=2)
    _finish_hybrid(cache, [1, 2, 3, 4])
    _finish_hybrid(cache, [1, 2, 3, 4, 5, 6])
    _finish_hybrid(cache, [1, 2, 7, 7])  # splits [1 2 3 4] into [1 2] (no snapshot) + [3 4]
    assert cache.match_prefix([1, 2, 3, 4, 5, 6]).length == 6
    assert cache.match_prefix([1, 2, 9]).length == 0
    assert cache.evict("mamba", 3) == 3
    assert cache.size_info("mamba") == {"evictable": 0, "protected": 0}
    assert _total(cache, "full") == 0 and not cache.root.children


def test_swa_and_mamba_locks_cover_only_what_resuming_needs() -> None:
    """Locking a node at 8 with window 3 protects all 8 full tokens, SWA tokens of the nodes
    reaching back to position 5, and one snapshot."""
    cache = _hybrid(window=3)
    _finish_hybrid(cache, [1, 2, 3, 4])
    _finish_hybrid(cache, [1, 2, 3, 4, 5, 6, 7, 8])
    handle = cache.lock(cache.match_prefix([1, 2, 3, 4, 5, 6, 7, 8]).node)
    assert cache.size_info("full")["protected"] == 8
    assert cache.size_info("swa") == {"evictable": 4, "protected": 4}
    assert cache.size_info("mamba") == {"evictable": 1, "protected": 1}
    assert cache.evict("swa", 100) == 4  # the upper node becomes a tombstone
    assert cache.match_prefix([1, 2, 3, 4, 5, 6, 7, 8]).length == 8
    cache.unlock(handle)
    assert cache.audit() == {"evictable": cache.evictable, "protected": cache.protected}
    assert cache.size_info("swa") == {"evictable": 4, "protected": 0}


@settings(max_examples=120, deadline=None)
@example(page_size=1, window=None, ops=[([1, 1, 2, 2], 0, 0), ([1, 1, 3, 3], 0, 0)])
# a split leaves a stateless node between two snapshots: pruning it must expose its parent
@example(page_size=1, window=None, ops=[([0], 0, "full"), ([0, 0, 0], 0, "full"),
                                        ([0, 0, 1], 0, "full")])
@given(
    page_size=st.sampled_from([1, 2, 4]),
    window=st.sampled_from([None, 2, 5]),
    ops=st.lists(
        st.tuples(
            st.lists(st.integers(0, 2), min_size=1, max_size=12),
            st.integers(0, 8),
            st.sampled_from(["full", "swa", "mamba"]),
        ),
        max_size=40,
    ),
)
def test_random_requests_conserve_slots(
    page_size: int, window: int | None, ops: list[tuple[list[int], int, str]]
) -> None:
    """Requests that match, lock, extend, insert, unlock, with random evictions of every
    component in between, keep free + evictable + protected == capacity in every pool, and the
    running size counters equal to a recount of the tree."""
    kinds = ("full", "swa") if window else ("full",)
    pools = {k: TokenPool(k, num_pages=64, page_size=page_size, device="cpu") for k in kinds}
    mamba = MambaPool(24)
    cache = RadixCache(pools, mamba, page_size=page_size, window=window)
    for tokens, evict, component in ops:
        match = cache.match_prefix(tokens)
        handle = cache.lock(match.node)
        own_len = len(tokens) - match.length
        if not all(p.can_allocate(match.length, own_len) for p in pools.values()):
            cache.evict("full", own_len + page_size)
        if all(p.can_allocate(match.length, own_len) for p in pools.values()) and (
            mamba.can_allocate(1) or cache.evict("mamba", 1)
        ):
            own = {k: p.allocate(match.length, 0, own_len) for k, p in pools.items()}
            (state,) = mamba.allocate(1)
            full = {k: torch.cat([match.slots[k], own[k]]) for k in kinds}
            result = cache.insert(tokens, full, mamba=state)
            for k, p in pools.items():
                p.free_pages(own[k][: max(0, result.already - match.length)])
                p.free_pages(own[k][max(result.cached, match.length) - match.length :])
            if not result.mamba_taken:
                mamba.free([state])
        cache.unlock(handle)
        if component in cache.components:
            cache.evict(component, evict)
        assert cache.audit() == {"evictable": cache.evictable, "protected": cache.protected}
        for k, p in pools.items():
            assert p.num_free_slots + _total(cache, k) == p.capacity
        assert mamba.num_free_slots + _total(cache, "mamba") == mamba.capacity
    cache.evict("full", 10_000)
    assert not cache.root.children
    assert all(p.num_free_slots == p.capacity for p in pools.values())
    assert mamba.num_free_slots == mamba.capacity
