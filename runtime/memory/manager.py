"""MemoryManager: the serving memory as request lifecycles see it.

The scheduler calls, per request: `match` (prefix hit, or a session restore), `can_admit` then
`admit` (or `revert` when admission says no), `can_extend` then `alloc_extend` before each
forward (prefill chunk or decode token; `alloc_decode` for a whole decode batch when it fits),
`after_forward` (or `after_forward_batch`) after it, `cache_unfinished` between
prefill chunks, and `finish`, `abort` or `retract` at the end. `stats` and `check` give the
partition of every pool and the invariant check on it.

A façade: it owns the pools, the prefix cache, the running requests, the session slots and the
counters, and hands each collaborator the parts it works on (admission, step allocation,
release, sessions, accounting). Collaborators never import this module.
"""

from __future__ import annotations

from collections import Counter

from runtime.memory.accounting import Accounting
from runtime.memory.admission import Admission
from runtime.memory.checker import CheckMode, LeakKind, LeakReport
from runtime.memory.counters import MemoryCounters
from runtime.memory.holdings import Holdings, ReqMemory, SessionSlot
from runtime.memory.host_tier import HOST, HostTier
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_name import PoolName
from runtime.memory.pool_tensors import FULL, PoolTensors
from runtime.memory.pools import Pools
from runtime.memory.radix_cache import RadixCache
from runtime.memory.release import Release
from runtime.memory.sessions import SessionEviction, SessionStore
from runtime.memory.steps import StepAllocator
from telemetry.pool_stats import PoolStats


class MemoryManager:
    """Owns the pools, the prefix cache, the running requests and the session slots."""

    def __init__(self, config: MemoryConfig, tensors: PoolTensors | None = None) -> None:
        self.config = config
        self.pools = Pools.build(config, tensors)
        self.host_tier = _host_tier(config, self.pools, tensors)
        tree_kv = dict(self.pools.kv)
        if self.host_tier is not None:  # the tree caches the host copy, not device pages
            assert self.pools.host is not None
            tree_kv = {HOST: self.pools.host, **{k: p for k, p in tree_kv.items() if k != FULL}}
        self.cache = RadixCache(
            tree_kv, self.pools.mamba, page_size=config.page_size, window=config.window
        )
        self.running: dict[str, ReqMemory] = {}
        self.sessions: dict[str, SessionSlot] = {}
        self.counters = MemoryCounters()
        self.hits: Counter[PoolName] = Counter()  # prefix-cache hit tokens per component
        self.faults = config.faults
        self._build_collaborators()

    def _build_collaborators(self) -> None:
        parts = dict(config=self.config, pools=self.pools, cache=self.cache,
                     host_tier=self.host_tier)
        self.steps = StepAllocator(**parts, running=self.running, counters=self.counters)
        self.release = Release(**parts, counters=self.counters)
        self.session_store = SessionStore(self.sessions, self.running, self.release,
                                          self.counters, self.faults)
        self.admission = Admission(**parts, running=self.running, counters=self.counters,
                                   sessions=self.session_store, steps=self.steps,
                                   hits=self.hits)
        self.accounting = Accounting(**parts, running=self.running, sessions=self.sessions,
                                     counters=self.counters)

    @property
    def page_size(self) -> int:
        return self.config.page_size

    # admission
    def match(self, req: ReqMemory) -> int:
        return self.admission.match(req)

    def can_admit(self, req: ReqMemory, extend: int) -> bool:
        return self.admission.can_admit(req, extend)

    def admit(self, req: ReqMemory) -> None:
        self.admission.admit(req)

    def revert(self, req: ReqMemory) -> None:
        self.admission.revert(req)

    # steps
    def can_extend(self, req: ReqMemory, n: int) -> bool:
        return self.steps.can_extend(req, n)

    def alloc_extend(self, req: ReqMemory, n: int) -> dict[str, list[int]]:
        return self.steps.alloc_extend(req, n)

    def alloc_decode(self, reqs: list[ReqMemory]) -> list[dict[str, list[int]]] | None:
        return self.steps.alloc_decode(reqs)

    def after_forward(self, req: ReqMemory) -> None:
        self.steps.after_forward(req)

    def after_forward_batch(self, reqs: list[ReqMemory]) -> None:
        self.steps.after_forward_batch(reqs)

    def next_track_boundary(self, req: ReqMemory) -> int | None:
        return self.steps.next_track_boundary(req)

    # ends of a request's life
    def cache_unfinished(self, req: ReqMemory) -> None:
        self.release.cache_unfinished(req)

    def finish(self, req: ReqMemory) -> None:
        """A finished request caches its prefix (a session turn saves into its slot instead)
        and releases the rest: uncached KV, mamba slots not donated to the tree, the row."""
        self.running.pop(req.rid, None)
        if req.session is not None:
            self.session_store.save(req)
            return
        self.release.cache_and_release(req.held, req.tokens)
        req.reset()

    def abort(self, req: ReqMemory) -> None:
        """Releases an admitted request without caching (a session turn hands back instead)."""
        self.retract(req)

    def retract(self, req: ReqMemory) -> None:
        """Releases everything the request holds, or hands it back to its session slot, and
        resets every memory field so the request can be admitted again from scratch."""
        self.running.pop(req.rid, None)
        if req.session is not None:
            self.session_store.save(req)
            return
        self.release.release(req.held)
        req.reset()

    # sessions
    def open_session(self, sid: str) -> SessionSlot:
        return self.session_store.open(sid)

    def close_session(self, sid: str) -> bool:
        return self.session_store.close(sid)

    def has_idle_session_memory(self) -> bool:
        return self.session_store.has_idle_memory()

    def evict_idle_session(self, min_idle_s: float,
                           now: float | None = None) -> SessionEviction | None:
        return self.session_store.evict_idle(min_idle_s, now)

    # accounting
    def own_slots(self, held: Holdings) -> dict[str, int]:
        return self.accounting.own_slots(held)

    def stats(self) -> PoolStats:
        return self.accounting.stats()

    def check(self, *, idle: bool) -> list[LeakReport]:
        return self.accounting.check(idle=idle)

    @property
    def leak_counts(self) -> Counter[tuple[PoolName, LeakKind]]:
        return self.accounting.leak_counts

    @property
    def check_counts(self) -> Counter[tuple[PoolName, CheckMode]]:
        return self.accounting.check_counts

    @property
    def leaked_slots(self) -> dict[str, int]:
        return self.accounting.leaked_slots

    @property
    def new_leaks(self) -> list[LeakReport]:
        """The leaks the last check counted (see `Accounting.check`)."""
        return self.accounting.new_leaks


def _host_tier(config: MemoryConfig, pools: Pools, tensors: PoolTensors | None) -> HostTier | None:
    if config.host_tier is None:
        return None
    assert pools.host is not None
    return HostTier(config.host_tier, pools.kv[FULL], pools.host, pools.req.table, tensors)
