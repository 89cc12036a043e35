"""Admission: prefix match (with copy-on-write of the mamba snapshot), admit, revert.

Owns the prefix-cache hit counts; adds admitted requests to the running set (which the manager
owns) and counts prefix queries. A session turn is matched by the session store instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from runtime.memory.counters import MemoryCounters
from runtime.memory.holdings import ReqMemory
from runtime.memory.host_tier import HostTier
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_name import PoolName
from runtime.memory.pool_tensors import FULL
from runtime.memory.pools import Pools
from runtime.memory.radix_cache import RadixCache
from runtime.memory.radix_node import TreeNode
from runtime.memory.sessions import SessionStore
from runtime.memory.steps import StepAllocator


@dataclass
class Admission:
    """Decides whether a request fits now, and commits or undoes its admission."""

    config: MemoryConfig
    pools: Pools
    cache: RadixCache
    host_tier: HostTier | None
    running: dict[str, ReqMemory]
    counters: MemoryCounters
    sessions: SessionStore
    steps: StepAllocator  # can_extend: admission needs room for the first chunk too
    hits: Counter[PoolName]  # prefix-cache hit tokens per component

    def match(self, req: ReqMemory) -> int:
        """Finds the request's reusable prefix and returns its length. A session turn resumes
        from its slot; others resume from the prefix cache. At least one token is left to
        compute (the last prompt token's logits are needed). Call `admit` or `revert` next."""
        if req.held.row or req.held.lock is not None or req.held.allocated:
            raise RuntimeError(f"request {req.rid} already holds memory; match it only once")
        if req.session is not None and not req.session.is_empty:
            return self.sessions.restore(req)
        match = self.cache.match_prefix(req.tokens[: len(req.tokens) - 1])
        node = match.node
        held = req.held
        if self.pools.mamba is not None and node is not self.cache.root:
            held.mamba.working = self._fork_snapshot(node)
            if held.mamba.working is None:
                node = self.cache.root  # no slot for the state: recompute from scratch
        if node is not self.cache.root:
            held.lock = self.cache.lock(node)
        held.protected = held.allocated = held.host_backed = node.end
        held.prefill_end = len(req.tokens)
        held.matched = match.walked
        held.slots = {k: match.slots[k][: node.end].tolist() for k in self.cache.kv_components}
        if self.host_tier is not None:
            held.slots[FULL] = [0] * node.end  # loaded from host at admission
        return node.end

    def _count_hits(self, walked: int, resumed: int) -> None:
        """Prefix-cache hits per component: KV components found `walked` tokens by key; the
        mamba component covers only `resumed` (the deepest node with a state) — the request
        resumes from the shorter, so a gap between them is hit rate lost to state snapshots."""
        self.counters.prefix_queries += 1
        for name in self.cache.kv_components:
            self.hits[PoolName(name)] += walked
        if self.pools.mamba is not None:
            self.hits[PoolName.MAMBA] += resumed

    def _fork_snapshot(self, node: TreeNode) -> int | None:
        """Copies a cached snapshot into a new slot, evicting one other state if the pool is
        empty (the node is locked meanwhile so its own state stays); None if that fails."""
        mamba = self.pools.mamba
        assert mamba is not None and node.mamba is not None
        if not mamba.can_allocate(1):
            handle = self.cache.lock(node)
            self.cache.evict("mamba", 1)
            self.cache.unlock(handle)
        return mamba.fork(node.mamba) if mamba.can_allocate(1) else None

    def _mamba_needed(self, req: ReqMemory) -> int:
        if self.pools.mamba is None:
            return 0
        hold = req.held.mamba
        working = 0 if hold.working is not None else 1
        return working + max(0, self.config.track_slots - len(hold.track))

    def can_admit(self, req: ReqMemory, extend: int) -> bool:
        """Whether a row, the mamba slots the strategy needs, and KV for `extend` new tokens
        can be had now (counting what the prefix cache could evict). Takes nothing."""
        if not req.held.row and not self.pools.req.can_allocate(1):
            return False
        need = self._mamba_needed(req)
        if need and self.pools.mamba.num_free_slots + self.cache.evictable["mamba"] < need:  # type: ignore[union-attr]
            return False
        return self.steps.can_extend(req, extend)

    def admit(self, req: ReqMemory) -> None:
        """Commits admission: a row holding the prefix's slots, and the mamba slots."""
        held = req.held
        need = self._mamba_needed(req)
        mamba = self.pools.mamba
        if need:
            assert mamba is not None
            if mamba.num_free_slots < need:
                self.cache.evict("mamba", need - mamba.num_free_slots)
            slots = mamba.allocate(need)
            if held.mamba.working is None:
                held.mamba.working = slots.pop(0)
            held.mamba.track.extend(slots)
        if held.matched is not None:  # counted on admission: a waiting request re-matches
            self._count_hits(held.matched, held.protected)
        if not held.row:
            held.row = self.pools.req.allocate()
            self.pools.req.table.write_lists(held.row, held.slots, 0)
        if self.host_tier is not None:
            self.host_tier.load_all(held)
        if req.session is not None:
            req.session.lent_to = req
        self.running[req.rid] = req

    def revert(self, req: ReqMemory) -> None:
        """Undoes `match` for a request admission turned down. A session's restored slots stay
        the session's; a copy-on-write mamba slot and the prefix lock are given back."""
        session = req.session
        if session is not None:
            session.lent_to = None
        if session is not None and not session.is_empty:
            if "session_mamba_revert_free" in self.config.faults and req.held.mamba.working:
                self.pools.mamba.free([req.held.mamba.working])  # type: ignore[union-attr]
            req.reset()
            return
        if req.held.mamba.working is not None:
            self.pools.mamba.free([req.held.mamba.working])  # type: ignore[union-attr]
        if req.held.lock is not None:
            self.cache.unlock(req.held.lock)
        req.reset()
