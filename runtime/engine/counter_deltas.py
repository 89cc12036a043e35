"""CounterDeltas: what the engine's cumulative counters gained since the last record.

The memory manager and the engine count since start (checks, leaks, prefix hits, evictions,
request outcomes); records carry only the gain since the previous record, computed here, once,
so an observer in another process adds deltas and never reads the counters themselves.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

from runtime.engine.records import CheckCount, CounterDeltas, LeakCount, PoolCount
from runtime.memory.checker import CheckMode, LeakKind
from runtime.memory.manager import MemoryManager
from runtime.memory.pool_name import PoolName
from runtime.scheduler.outcome_counts import OutcomeCounts

K = TypeVar("K", bound=Hashable)

_MEMORY_FIELDS = ("prefix_queries", "track_alloc_failures", "session_evictions")
_OUTCOME_FIELDS = ("retracted", "out_of_memory", "queue_timeouts")


class CounterTracker:
    """Remembers what it last handed out of each counter; `take` returns the gains since."""

    def __init__(self, mm: MemoryManager, outcomes: OutcomeCounts) -> None:
        self.mm, self.outcomes = mm, outcomes
        self._checks: dict[tuple[PoolName, CheckMode], int] = {}
        self._leaks: dict[tuple[PoolName, LeakKind], int] = {}
        self._hits: dict[PoolName, int] = {}
        self._evicted: dict[PoolName, int] = {}
        self._scalars: dict[str, int] = {}

    def take(self) -> CounterDeltas:
        """The gains since the previous `take` (since start for the first)."""
        mm = self.mm
        checks = [CheckCount(p, m, n) for (p, m), n in _gain(mm.check_counts, self._checks)]
        leaks = [LeakCount(p, k, n) for (p, k), n in _gain(mm.leak_counts, self._leaks)]
        hits = [PoolCount(p, n) for p, n in _gain(mm.hits, self._hits)]
        evicted = [PoolCount(p, n) for p, n in _gain(mm.cache.num_evicted, self._evicted)]
        scalars = {name: getattr(mm.counters, name) for name in _MEMORY_FIELDS}
        scalars.update({name: getattr(self.outcomes, name) for name in _OUTCOME_FIELDS})
        gains = {name: n - self._scalars.get(name, 0) for name, n in scalars.items()}
        self._scalars = scalars
        return CounterDeltas(
            checks=tuple(checks), leaks=tuple(leaks), prefix_hit_tokens=tuple(hits),
            evicted=tuple(evicted), **gains,
        )


def _gain(now: Mapping[K, int], seen: dict[K, int]) -> list[tuple[K, int]]:
    """Keys whose count moved since `seen`, with by how much; brings `seen` up to `now`."""
    moved = [(key, n - seen.get(key, 0)) for key, n in now.items() if n != seen.get(key, 0)]
    for key, _ in moved:
        seen[key] = now[key]
    return moved
