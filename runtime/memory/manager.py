"""MemoryManager: the serving memory as request lifecycles see it.

The scheduler calls, per request: `match` (prefix hit, or a session restore), `can_admit` then
`admit` (or `revert` when admission says no), `can_extend` then `alloc_extend` before each
forward (prefill chunk or decode token), `after_forward` after it, `cache_unfinished` between
prefill chunks, and `finish`, `abort` or `retract` at the end. `stats` and `check` give the
partition of every pool and the invariant check on it.
"""

from __future__ import annotations

from collections import Counter

from runtime.memory.accounting import Accounting
from runtime.memory.admission import Admission
from runtime.memory.holdings import ReqMemory, SessionSlot
from runtime.memory.host_tier import HOST, HostTier
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_tensors import FULL, PoolTensors
from runtime.memory.pools import Pools
from runtime.memory.radix_cache import RadixCache
from runtime.memory.release import Release
from runtime.memory.sessions import Sessions
from runtime.memory.steps import Steps


class MemoryManager(Admission, Steps, Release, Sessions, Accounting):
    """Owns the pools, the prefix cache, the running requests and the session slots."""

    def __init__(self, config: MemoryConfig, tensors: PoolTensors | None = None) -> None:
        self.config = config
        self.pools = Pools.build(config, tensors)
        tree_kv = dict(self.pools.kv)
        self.host_tier: HostTier | None = None
        if config.host_tier is not None:  # the tree caches the host copy, not device pages
            assert self.pools.host is not None
            tree_kv = {HOST: self.pools.host, **{k: p for k, p in tree_kv.items() if k != FULL}}
            self.host_tier = HostTier(config.host_tier, self.pools.kv[FULL], self.pools.host,
                                      self.pools.req.table, tensors)  # fmt: skip
        self.cache = RadixCache(
            tree_kv, self.pools.mamba, page_size=config.page_size, window=config.window
        )
        self.running: dict[str, ReqMemory] = {}
        self.sessions: dict[str, SessionSlot] = {}
        self.counters: Counter[str] = Counter()  # prefix_queries, track_alloc_failures, ...
        self.hits: Counter[str] = Counter()  # prefix-cache hit tokens per component
        self.faults = config.faults
        self._init_accounting()

    @property
    def page_size(self) -> int:
        return self.config.page_size

    def _aligned(self, n: int) -> int:
        return n - n % self.page_size

    def _page_end(self, n: int) -> int:
        """Slots a request holding n positions took: whole pages."""
        return -(-n // self.page_size) * self.page_size
