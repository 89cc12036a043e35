"""What a leak message says per pool: the signed difference of its terms, and so its kind.

Every leak form the parser reads carries some of these terms (see `telemetry.sglang_lines`):

    token_to_kv_pool_allocator memory leak detected! available_size=10, protected_size=0,
        self.max_total_num_tokens=100                          → full: 100 - 10 - 0 = 90 (leak)
    Mamba memory leak detected! mamba_available_size=3, mamba_evictable_size=1,
        self.mamba_pool.size=16                                → mamba: 16 - 3 - 1 = 12 (leak)
    [swa] total=64, available=60, evictable=1, ...             → swa: 3 (leak)
    {"event": "memory_leak", "pool": "mamba", "difference": -9, ...} → mamba: -9 (double_free)

A term's pool is its key's prefix (`mamba_`, `swa_`, ...) or else the record's pool. Per pool, a
direct figure (`difference`, `leaked`, `num_used`) wins; otherwise the total (`total`,
`capacity`, `size`, `max_total_num_tokens`, ...) minus the sum of the state terms (`available`,
`evictable`, `protected`, `session_held`, `running`, `uncached`). Positive: slots lost (`leak`);
negative: more slots free than exist (`double_free`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telemetry import catalog
from telemetry.log_record import FieldValue

# SGLang's generic messages (`token_to_kv_pool_allocator`, `KV cache pool`) are about the
# full-attention KV pool, so a message that names no pool is counted there.
DEFAULT_POOL = "full"
_DIRECT = frozenset(("difference", "leaked", "leaked_slots", "num_used"))
_TOTAL = frozenset(
    ("total", "capacity", "size", "max_total_num_tokens", "total_num_tokens", "tokens_per_layer")
)
_STATES = ("available", "evictable", "protected", "session_held", "running", "uncached")


@dataclass
class _Terms:
    """The terms of one pool found in a message."""

    direct: int | None = None
    total: int | None = None
    states: list[int] = field(default_factory=list)

    @property
    def difference(self) -> int | None:
        if self.direct is not None:
            return self.direct
        if self.total is None or not self.states:
            return None
        return self.total - sum(self.states)


@dataclass(frozen=True)
class PoolLeak:
    """One pool's share of a leak message: its kind and signed difference (None when the
    message holds no usable terms for it)."""

    pool: str
    kind: str
    difference: int | None


def pool_leaks(fields: dict[str, FieldValue]) -> list[PoolLeak]:
    """Every pool a leak record's `fields` speak of (at least one), with its kind. A message
    without usable terms keeps its own `kind` field when it has a valid one, else is a leak: the
    line says a leak was detected."""
    pool = fields.get("pool")
    own_pool = pool if isinstance(pool, str) and pool in catalog.POOLS else DEFAULT_POOL
    terms: dict[str, _Terms] = {}
    for key, value in fields.items():
        if type(value) is int:  # bools, floats and text are no slot counts
            _add(terms, *_split(key, own_pool), value)
    leaks = [
        PoolLeak(p, _kind(t.difference, fields), t.difference)
        for p, t in terms.items()
        if t.difference is not None
    ]
    return leaks or [PoolLeak(own_pool, _kind(None, fields), None)]


def _split(key: str, own_pool: str) -> tuple[str, str, str]:
    """(pool, term) of a key: `mamba_available_size` → (mamba, available_size); the term is the
    key's last dotted part (`token_to_kv_pool_allocator.size` → size)."""
    pool = own_pool
    for candidate in catalog.POOLS:
        if key.startswith((f"{candidate}_", f"{candidate}.")):
            pool, key = candidate, key[len(candidate) + 1 :]
            break
    return pool, key, key.rpartition(".")[2]


def _add(terms: dict[str, _Terms], pool: str, key: str, term: str, value: int) -> None:
    if term in _DIRECT or key in _DIRECT:
        terms.setdefault(pool, _Terms()).direct = value
    elif any(state in term for state in _STATES):
        terms.setdefault(pool, _Terms()).states.append(value)
    elif term in _TOTAL:
        terms.setdefault(pool, _Terms()).total = value


def _kind(difference: int | None, fields: dict[str, FieldValue]) -> str:
    if difference is not None:
        return "double_free" if difference < 0 else "leak"
    kind = fields.get("kind")
    return kind if isinstance(kind, str) and kind in catalog.LEAK_KINDS else "leak"
