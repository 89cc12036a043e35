"""Handing holdings back: to the prefix cache (mid-flight or at the end) and to the pools.

Owns no state of its own: it moves one owner's holdings (a request's or an idle session's) into
the prefix cache and frees the rest; it counts finished requests whose mamba state was not cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from runtime.memory import mamba_tracker
from runtime.memory.counters import MemoryCounters
from runtime.memory.holdings import Holdings, ReqMemory
from runtime.memory.host_tier import HostTier
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_tensors import SWA
from runtime.memory.pools import Pools
from runtime.memory.radix_cache import RadixCache
from runtime.memory.radix_node import TreeNode
from runtime.memory.token_pool import page_floor


@dataclass
class Release:
    """Caches what an owner computed and frees what it holds beyond the prefix cache."""

    config: MemoryConfig
    pools: Pools
    cache: RadixCache
    host_tier: HostTier | None
    counters: MemoryCounters

    def cache_and_release(self, held: Holdings, tokens: list[int]) -> None:
        """Hands what `held` computed of `tokens` to the prefix cache (evictable from then on)
        and releases the rest: uncached KV, mamba slots not donated to the tree, the row."""
        length, state = self._cacheable(held, at_finish=True)
        donated = None
        if length > held.protected:
            slots = self._slot_tensors(held, length)
            result = self.cache.insert(tokens[:length], slots, swa_evicted=held.swa_evicted,
                                       mamba=state)
            self._free_kv(held, held.protected, result.already)  # the tree had these already
            held.protected = result.cached  # the tree owns [already, cached) now
            donated = state if result.mamba_taken else None
        self.release(held, keep_mamba=donated)

    def _cacheable(self, held: Holdings, at_finish: bool) -> tuple[int, int | None]:
        """How much of the request the tree can take, and the mamba state that goes with it."""
        if self.pools.mamba is None:
            return page_floor(held.allocated, self.config.page_size), None
        if at_finish and held.mamba.skip_cache:
            self.counters.mamba_cache_skipped += 1
        return mamba_tracker.cacheable(held.mamba, self.config.mamba_strategy, held.allocated)

    def _slot_tensors(self, held: Holdings, length: int) -> dict[str, torch.Tensor]:
        names = self.cache.kv_components
        return {k: torch.tensor(held.slots[k][:length], dtype=torch.int64) for k in names}

    def _free_kv(self, held: Holdings, lo: int, hi: int) -> None:
        """Frees the owner's KV at positions [lo, hi) (lo page-aligned); SWA only where live."""
        times = 2 if "kv_double_free" in self.config.faults else 1
        for name, pool in self.cache.kv_pools.items():
            start = max(lo, held.swa_evicted) if name == SWA else lo
            for _ in range(times if hi > start else 0):
                pool.free_pages(torch.tensor(held.slots[name][start:hi], dtype=torch.int64))

    def release(self, held: Holdings, keep_mamba: int | None = None) -> None:
        """Gives back everything the owner holds beyond the prefix cache, then its lock."""
        self._free_kv(held, held.protected, held.allocated)
        if self.host_tier is not None:
            self.host_tier.release(held)
        if self.pools.mamba is not None:
            slots = [s for s in held.mamba.slots() if s != keep_mamba]
            if slots:
                self.pools.mamba.free(slots)
        if held.lock is not None:
            self.cache.unlock(held.lock)
        if held.row:
            self.pools.req.free(held.row)

    def cache_unfinished(self, req: ReqMemory) -> None:
        """Caches what a request has computed so far (between prefill chunks, or a session's
        first prompt, whose lock then lives as long as the session). The request's row is
        rewritten with the tree's slots and its lock moves to the new node."""
        held = req.held
        if req.session is not None and not req.session.is_empty:
            return  # a resumed session keeps its own slots between turns
        length, source = self._cacheable(held, at_finish=False)
        if length <= held.protected:
            return
        state = None
        if source is not None:
            state = self._fork_state(source)
            if state is None:
                return  # no room for a copy of the state: cache later
        slots = self._slot_tensors(held, length)
        result = self.cache.insert(req.tokens[:length], slots,
                                   swa_evicted=held.swa_evicted, mamba=state)
        if state is not None and not result.mamba_taken:
            self.pools.mamba.free([state])  # type: ignore[union-attr]
        self._free_kv(held, held.protected, result.already)
        if result.cached > held.protected:
            self._adopt(held, result.node, result.cached)

    def _fork_state(self, source: int) -> int | None:
        mamba = self.pools.mamba
        assert mamba is not None
        if not mamba.can_allocate(1):
            self.cache.evict("mamba", 1)
        return mamba.fork(source) if mamba.can_allocate(1) else None

    def _adopt(self, held: Holdings, node: TreeNode, cached: int) -> None:
        """Points the request's row at the tree's slots for [0, cached) and moves its lock."""
        path = self.cache.path_slots(node)
        for name in self.cache.kv_components:
            held.slots[name][:cached] = path[name][:cached].tolist()
        tree_slots = {k: held.slots[k][:cached] for k in self.cache.kv_components}
        self.pools.req.table.write_lists(held.row, tree_slots, 0)
        old = held.lock
        held.lock = self.cache.lock(node)
        if old is not None:
            self.cache.unlock(old)
        held.protected = cached
