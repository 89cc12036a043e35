"""Per-step allocation: KV slots for new tokens, out-of-window SWA freeing, track snapshots.

Owns no state of its own: it reads the running set and changes the holdings of running requests
and the pools' free lists; it counts track allocation failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.memory import mamba_tracker
from runtime.memory.counters import MemoryCounters
from runtime.memory.holdings import Holdings, ReqMemory
from runtime.memory.host_tier import HostTier
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_tensors import FULL, SWA
from runtime.memory.pools import Pools
from runtime.memory.radix_cache import RadixCache
from runtime.memory.slot_allocator import OutOfSlotsError
from runtime.memory.token_pool import TokenPool, page_floor, pages_needed


@dataclass
class StepAllocator:
    """Grows running requests one step at a time, evicting from the prefix cache when short."""

    config: MemoryConfig
    pools: Pools
    cache: RadixCache
    host_tier: HostTier | None
    running: dict[str, ReqMemory]
    counters: MemoryCounters
    # Every KV pool a step allocates from (the cache's own where it has one). NOTE: merged
    # once: neither mapping changes after start-up, and allocation runs per request per step.
    _all_kv: dict[str, TokenPool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._all_kv = {**self.pools.kv, **self.cache.kv_pools}

    def can_extend(self, req: ReqMemory, n: int) -> bool:
        """Whether KV for n more tokens can be had, counting what the cache could evict."""
        return self._shortfall(req.held, n) is not None

    def _shortfall(self, held: Holdings, n: int) -> dict[str, int] | None:
        """Slots each KV pool lacks for n more tokens (0 when its free list suffices), or None
        when even the cache's evictable slots cannot cover one of them."""
        short = {}
        evictable = self.cache.evictable
        for name, pool in self._all_kv.items():
            short[name] = max(0, self._slots_needed(held, name, n) - pool.num_free_slots)
            if short[name] > evictable.get(name, 0):
                return None
        return short

    def _slots_needed(self, held: Holdings, name: str, n: int) -> int:
        page = self.config.page_size
        need = pages_needed(held.allocated, n, page) * page
        if name == FULL and self.host_tier is not None and held.allocated < held.prefill_end:
            need += self.host_tier.pages_to_load(held) * page  # dense prefill
        return need

    def alloc_extend(self, req: ReqMemory, n: int) -> dict[str, list[int]]:
        """Slots for the request's next n tokens, per KV pool, also written into its row.
        Frees SWA slots that left the window first, and evicts from the cache when short.
        Raises OutOfSlotsError (taking nothing) when even eviction cannot make room."""
        held = req.held
        if req.rid not in self.running:
            raise RuntimeError(f"request {req.rid} is not admitted")
        if held.allocated + n > self.config.max_context:
            raise ValueError(f"request {req.rid}: {held.allocated + n} tokens exceed the "
                             f"context of {self.config.max_context}")
        self._free_out_of_window(held)
        short = self._shortfall(held, n)
        if short is None:
            raise OutOfSlotsError(f"request {req.rid}: no KV room for {n} tokens")
        pools = self._all_kv
        for name, pool in pools.items():
            if short[name]:  # NOTE: recounted: evicting from one pool may free another's slots
                need = self._slots_needed(held, name, n)
                if need > pool.num_free_slots and name in self.cache.kv_pools:
                    self.cache.evict(name, need - pool.num_free_slots)
        new = {}
        for name, pool in pools.items():
            own = held.slots.setdefault(name, [])
            last = own[held.allocated - 1] if held.allocated else 0
            new[name] = pool.allocate_list(held.allocated, last, n)
            own.extend(new[name])
        self.pools.req.table.write_lists(held.row, held.slots, held.allocated)  # new ones only
        self._prepare_track(held, held.allocated + n)
        held.allocated += n
        return new

    def alloc_decode(self, reqs: list[ReqMemory]) -> list[dict[str, list[int]]] | None:
        """`alloc_extend(req, 1)` for each request in order, with one room check for the whole
        batch and one queued table write per pool. Returns None, having changed nothing, when
        the batch might need the prefix cache to evict (or a request is not plainly decoding):
        the caller then takes the per-request path, so retraction choices stay its own."""
        if not self._decode_fits(reqs):
            return None
        page, pools, track = self.config.page_size, self._all_kv, self.pools.mamba is not None
        swa = SWA in self.pools.kv
        rows, positions, out = [], [], []
        columns: dict[str, list[int]] = {name: [] for name in pools}
        for req in reqs:
            held = req.held
            if swa:
                self._free_out_of_window(held)
            pos = held.allocated
            new = {}
            for name, pool in pools.items():
                own = held.slots.setdefault(name, [])
                # Same slot as allocate_list(pos, own[pos - 1], 1): the next one of the last
                # page, or a fresh page's first (the batch check left room for every page).
                slot = own[pos - 1] + 1 if pos % page else pool.take_page()
                own.append(slot)
                new[name] = [slot]
                columns[name].append(slot)
            rows.append(held.row)
            positions.append(pos)
            if track and held.mamba.track:
                self._prepare_track(held, pos + 1)
            held.allocated = pos + 1
            out.append(new)
        self.pools.req.table.write_cells(rows, positions, columns)
        return out

    def _decode_fits(self, reqs: list[ReqMemory]) -> bool:
        """Whether every request can take its next token from the free lists as they are now,
        without eviction: then the per-request path would never evict or fail either (SWA
        frees and mamba evictions only add free pages), so both give the same slots."""
        config, running = self.config, self.running
        for req in reqs:
            held = req.held
            if req.rid not in running or held.allocated >= config.max_context:
                return False
            if self.host_tier is not None and held.allocated < held.prefill_end:
                return False  # a dense step loads pages too: the per-request path counts them
        page = config.page_size
        new_pages = sum(1 for req in reqs if req.held.allocated % page == 0)
        return all(new_pages <= pool.num_free_pages for pool in self._all_kv.values())

    def _free_out_of_window(self, held: Holdings) -> None:
        """Frees the request's own SWA slots no step can read again: positions below
        seq_len - window - page, page-aligned, and never the prefix cache's."""
        if SWA not in self.pools.kv:
            return
        window, page = self.config.window, self.config.page_size
        assert window is not None
        start = max(held.swa_evicted, held.protected)
        target = page_floor(max(0, held.allocated - window - page), page)
        if target <= start:
            return
        own = held.slots[SWA]
        if "swa_skip_free" not in self.config.faults:
            self.pools.kv[SWA].free_pages(own[start:target])
        own[start:target] = [0] * (target - start)
        self.pools.req.table.clear(SWA, held.row, start, target)
        held.swa_evicted = target

    def _prepare_track(self, held: Holdings, new_len: int) -> None:
        pool = self.pools.mamba
        if pool is None or not held.mamba.track:
            return
        # A failed lazy boundary skips caching only for a request that finishes on that step
        # (SGLang #27118): once the request steps again, the snapshot written is exact.
        held.mamba.skip_cache = False
        if mamba_tracker.at_boundary(new_len, held.mamba, self.config.track_interval):
            mamba_tracker.prepare_boundary(
                held.mamba, self.config.mamba_strategy, pool,
                make_room=lambda: self.cache.evict("mamba", 1) > 0,
                in_prefill=new_len < held.prefill_end,
            )
            if held.mamba.skip_cache:  # every failed boundary allocation counts
                self.counters.track_alloc_failures += 1

    def after_forward(self, req: ReqMemory) -> None:
        """Call once the step that `alloc_extend` prepared has run: takes a due snapshot."""
        if self.host_tier is not None:
            self.host_tier.after_step(req.held)
        if self.pools.mamba is not None:
            mamba_tracker.after_step(
                req.held.mamba, self.config.mamba_strategy, self.pools.mamba, req.held.allocated
            )

    def after_forward_batch(self, reqs: list[ReqMemory]) -> None:
        """`after_forward` for every request of a step, skipping requests with no snapshot due
        (the common decode step: nothing to do at all without a host tier)."""
        if self.host_tier is not None:
            for req in reqs:
                self.after_forward(req)
            return
        pool = self.pools.mamba
        if pool is None:
            return
        strategy = self.config.mamba_strategy
        for req in reqs:
            hold = req.held.mamba
            if hold.boundary_target is not None:
                mamba_tracker.after_step(hold, strategy, pool, req.held.allocated)

    def next_track_boundary(self, req: ReqMemory) -> int | None:
        """Tokens until the next track boundary, so a prefill chunk can end on it (a snapshot
        is only taken when a step ends exactly there); None without track slots."""
        if self.pools.mamba is None or not req.held.mamba.track:
            return None
        interval = self.config.track_interval
        return interval - req.held.allocated % interval
