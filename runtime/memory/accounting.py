"""PoolStats from the live state, and the invariant check on them.

The same figures feed telemetry and the checker, so a dashboard never disagrees with a leak
report. Each running request's own (uncached) slots are counted once; a session slot lent to a
running request counts as running, not session-held.

Owns the check and leak counts (keyed by PoolName and CheckMode / LeakKind), the last check's
leaked slots per pool and the leaks it newly counted; reads everything else.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from runtime.memory.checker import (
    CheckMode,
    LeakDetected,
    LeakKind,
    LeakReport,
    check_stats,
    is_new_leak,
)
from runtime.memory.counters import MemoryCounters
from runtime.memory.holdings import Holdings, ReqMemory, SessionSlot
from runtime.memory.host_tier import HostTier
from runtime.memory.memory_config import LeakPolicy, MemoryConfig
from runtime.memory.pool_name import PoolName
from runtime.memory.pool_tensors import FULL, SWA
from runtime.memory.pools import Pools
from runtime.memory.radix_cache import RadixCache
from runtime.memory.token_pool import page_ceil
from telemetry.pool_stats import PoolPartition, PoolStats

log = logging.getLogger(__name__)


@dataclass
class Accounting:
    """Partitions every pool by owner and checks the partition against its capacity."""

    config: MemoryConfig
    pools: Pools
    cache: RadixCache
    host_tier: HostTier | None
    running: dict[str, ReqMemory]
    sessions: dict[str, SessionSlot]
    counters: MemoryCounters
    leak_counts: Counter[tuple[PoolName, LeakKind]] = field(default_factory=Counter)
    check_counts: Counter[tuple[PoolName, CheckMode]] = field(default_factory=Counter)
    leaked_slots: dict[str, int] = field(default_factory=dict)
    new_leaks: list[LeakReport] = field(default_factory=list)  # what the last check counted

    def own_slots(self, held: Holdings) -> dict[str, int]:
        """Slots an owner holds outside the prefix cache, per pool (whole pages for KV)."""
        owned: dict[str, int] = {}
        end = page_ceil(held.allocated, self.config.page_size)
        for name in self.cache.kv_components:
            start = max(held.protected, held.swa_evicted) if name == SWA else held.protected
            owned[name] = max(0, end - start)
        if self.host_tier is not None:  # device pages are all the request's own
            owned[FULL] = len(self.host_tier.resident_pages(held)) * self.config.page_size
        if self.pools.mamba is not None:
            owned["mamba"] = len(held.mamba.slots())
        owned["req"] = 1 if held.row else 0
        return owned

    def _sum_owned(self, holdings: list[Holdings]) -> Counter[str]:
        """The sum of `own_slots` over `holdings`, summed per pool without a dict per owner
        (it runs every step over every running request)."""
        page = self.config.page_size
        ends = [page_ceil(held.allocated, page) for held in holdings]
        total: Counter[str] = Counter()
        for name in self.cache.kv_components:
            if name == SWA:
                total[name] = sum(max(0, end - max(held.protected, held.swa_evicted))
                                  for end, held in zip(ends, holdings, strict=True))
            else:
                total[name] = sum(max(0, end - held.protected)
                                  for end, held in zip(ends, holdings, strict=True))
        if self.host_tier is not None:
            resident = self.host_tier.resident_pages
            total[FULL] = sum(len(resident(held)) for held in holdings) * page
        if self.pools.mamba is not None:
            total["mamba"] = sum(len(held.mamba.slots()) for held in holdings)
        total["req"] = sum(1 for held in holdings if held.row)
        return total

    def stats(self) -> PoolStats:
        """Every pool's partition now: available / evictable / protected / session_held /
        running (the same figures the checker tests)."""
        running = self._sum_owned([r.held for r in self.running.values()])
        active_rows = {r.held.row for r in self.running.values() if r.held.row}
        idle = [
            s.held
            for s in self.sessions.values()
            if s.held.row not in active_rows or "session_double_count" in self.config.faults
        ]
        session = self._sum_owned([h for h in idle if h.row])
        pools = {}
        for name, pool in self.pools.by_name().items():
            tree = self.cache.size_info(name) if name in self.cache.components else {}
            pools[name] = PoolPartition(
                capacity=pool.capacity, available=pool.num_free_slots,
                evictable=tree.get("evictable", 0), protected=tree.get("protected", 0),
                session_held=session[name], running=running[name],
            )
        extra = {"mamba_cache_skipped": float(self.counters.mamba_cache_skipped)}
        if self.host_tier is not None:
            extra.update(self._host_tier_tokens())
        return PoolStats(pools=pools, extra=extra)

    def check(self, *, idle: bool) -> list[LeakReport]:
        """Runs the identity when the mode asks for it (idle points always unless `off`; after
        each step only in `busy`) and returns every pool that fails it now. Counts, tells
        listeners about, and warns or raises (if configured to) only the new leaks: see
        `is_new_leak`, so one unchanged leak is counted once however often it is checked.
        Those new leaks stay in `new_leaks` until the next check."""
        self.new_leaks = []
        configured = self.config.check_mode
        if configured is CheckMode.OFF or (not idle and configured is not CheckMode.BUSY):
            return []
        stats = self.stats()
        mode = CheckMode.IDLE if idle else CheckMode.BUSY
        self.check_counts.update((PoolName(name), mode) for name in stats.pools)
        reports = check_stats(stats, mode)
        previous = self.leaked_slots
        self.leaked_slots = {name: part.leaked for name, part in stats.pools.items()}
        new = [r for r in reports if is_new_leak(previous.get(r.pool, 0), r.difference)]
        if not new:
            return reports
        for report in new:
            self.leak_counts[(PoolName(report.pool), report.leak_kind)] += 1
        self.new_leaks = new
        if self.config.on_leak is LeakPolicy.WARN:
            log.warning("memory invariant broken: %s", LeakDetected(new))
        elif self.config.on_leak is LeakPolicy.RAISE:
            raise LeakDetected(new)
        return reports

    def _host_tier_tokens(self) -> dict[str, float]:
        """Host tier: tokens of running requests resident on the device, and kept on host."""
        assert self.host_tier is not None
        device = host = 0
        for req in self.running.values():
            held = req.held
            device += sum(1 for s in held.slots.get(FULL, [])[: held.allocated] if s)
            host += held.allocated
        return {"host_tier_device_tokens": float(device), "host_tier_host_tokens": float(host)}
