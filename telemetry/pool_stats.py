"""PoolStats: one snapshot per scheduler step of every pool's slot partition, for telemetry."""

from __future__ import annotations

from dataclasses import dataclass, field

from telemetry.catalog import KV_USAGE_POOLS, TOKEN_USAGE_POOLS


@dataclass(frozen=True)
class PoolPartition:
    """One pool's slots split into the five states. A correct runtime's states sum to capacity."""

    capacity: int
    available: int = 0
    evictable: int = 0
    protected: int = 0
    session_held: int = 0
    running: int = 0

    @property
    def accounted(self) -> int:
        return self.available + self.evictable + self.protected + self.session_held + self.running

    @property
    def leaked(self) -> int:
        """Signed: > 0 slots are lost (a leak), < 0 slots are counted free twice (double free)."""
        return self.capacity - self.accounted

    @property
    def used(self) -> int:
        """Neither free nor evictable: what is really taken, protected and session-held included."""
        return self.capacity - self.available - self.evictable

    @property
    def usage(self) -> float:
        return self.used / self.capacity if self.capacity else 0.0

    def state(self, name: str) -> int:
        return int(getattr(self, name))


@dataclass(frozen=True)
class PoolStats:
    """Every live pool's partition at one moment (request counts travel beside it, in the
    runtime's snapshot), plus extra figures a runtime reports (host-tier tokens...)."""

    pools: dict[str, PoolPartition]
    extra: dict[str, float] = field(default_factory=dict)

    def _max_usage(self, names: tuple[str, ...]) -> float:
        return max((self.pools[n].usage for n in names if n in self.pools), default=0.0)

    @property
    def token_usage(self) -> float:
        """FIXME(compat): max usage over full, swa and mamba, not only KV; named as in SGLang."""
        return self._max_usage(TOKEN_USAGE_POOLS)

    @property
    def kv_token_usage(self) -> float:
        """max(full, swa) usage: the KV-only figure users expect from the name `token_usage`."""
        return self._max_usage(KV_USAGE_POOLS)

    @property
    def bottleneck(self) -> str | None:
        """The pool with the highest usage, or None when no pool is live."""
        return max(self.pools, key=lambda n: self.pools[n].usage, default=None)
