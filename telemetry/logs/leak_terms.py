"""What a leak message says per pool: the signed difference of its terms, and so its kind.

Every leak form the parser reads carries some of these terms (see `telemetry.sglang.lines`):

    token_to_kv_pool_allocator memory leak detected! available_size=10, protected_size=0,
        self.max_total_num_tokens=100                          → full: 100 - 10 - 0 = 90 (leak)
    Mamba memory leak detected! mamba_available_size=3, mamba_evictable_size=1,
        self.mamba_pool.size=16                                → mamba: 16 - 3 - 1 = 12 (leak)
    [swa] total=64, available=60, evictable=1, ...             → swa: 3 (leak)
    {"event": "memory_leak", "pool": "mamba", "difference": -9, ...} → mamba: -9 (double_free)

A term's pool is named by its key: the pool prefix of its last dotted part that has one
(`mamba_available_size`, `self.tree_cache.mamba_protected_size()`,
`self.req_to_token_pool.mamba_pool.size` → mamba; `req_to_token_pool.size` → req), else the
record's pool. Per pool, a direct figure (`difference`, `diff`, `leaked`, `num_used`) wins;
otherwise the capacity (`size`, `max_total_num_tokens`, `tokens_per_layer`, `total_size`, ...;
a bare `total` when nothing stronger is given) minus the sum of the state terms (`available`,
`evictable`, `protected`, `session_held`, `running`, `uncached`), or minus the accounted sum
when only that is given (`total_tokens=95 vs self.max_total_num_tokens=100`; `full_total=.. vs
self.full_tokens_per_layer=..`). Positive: slots lost (`leak`); negative: more slots free than
exist (`double_free`). SGLang's hybrid messages list every pool once one leaks: a pool whose
difference is 0 is no leak, and a message whose pools all come to 0 counts once for its own pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telemetry import catalog
from telemetry.logs.record import FieldValue

# SGLang's generic messages (`token_to_kv_pool_allocator`, `KV cache pool`) are about the
# full-attention KV pool, so a message that names no pool is counted there.
DEFAULT_POOL = "full"
_DIRECT = frozenset(("difference", "diff", "leaked", "leaked_slots", "num_used"))
_CAPACITY = frozenset(
    ("capacity", "size", "total_size", "total_slots", "max_total_num_tokens",
     "max_total_num_token", "total_num_tokens", "tokens_per_layer")
)
_WEAK_TOTAL = "total"  # a capacity, or the accounted sum beside a stronger capacity
_ACCOUNTED = frozenset(("total_tokens", "total_accounted", "accounted"))
_STATES = ("available", "evictable", "protected", "session_held", "running", "uncached")
_POOL_PREFIXES = tuple((pool, f"{pool}_") for pool in catalog.POOLS)


@dataclass
class _Terms:
    """The terms of one pool found in a message."""

    direct: int | None = None
    capacity: int | None = None
    total: int | None = None
    accounted: int | None = None
    states: list[int] = field(default_factory=list)

    @property
    def difference(self) -> int | None:
        if self.direct is not None:
            return self.direct
        capacity = self.capacity if self.capacity is not None else self.total
        if capacity is None:
            return None
        if self.states:
            return capacity - sum(self.states)
        accounted = self.accounted
        if accounted is None and self.capacity is not None:
            accounted = self.total  # `full_total=95 vs full_tokens_per_layer=100`
        return None if accounted is None else capacity - accounted


@dataclass(frozen=True)
class PoolLeak:
    """One pool's share of a leak message: its kind and signed difference (None when the
    message holds no usable terms for it)."""

    pool: str
    kind: str
    difference: int | None


def pool_leaks(fields: dict[str, FieldValue]) -> list[PoolLeak]:
    """Every pool a leak record's `fields` show a nonzero difference for, with its kind; at
    least one: a message without usable terms, or whose pools all come to 0, is one entry for
    its own pool (its `kind` field when valid, else a leak: the line says a leak was
    detected)."""
    pool = fields.get("pool")
    own_pool = pool if isinstance(pool, str) and pool in catalog.POOLS else DEFAULT_POOL
    terms: dict[str, _Terms] = {}
    for key, value in fields.items():
        if type(value) is int:  # bools, floats and text are no slot counts
            _add(terms, *_split(key, own_pool), value)
    differences = {p: t.difference for p, t in terms.items() if t.difference is not None}
    leaks = [PoolLeak(p, _kind(d, fields), d) for p, d in differences.items() if d != 0]
    if leaks:
        return leaks
    difference = differences.get(own_pool, 0 if differences else None)
    return [PoolLeak(own_pool, _kind(None if not difference else difference, fields), difference)]


def _split(key: str, own_pool: str) -> tuple[str, str]:
    """(pool, term) of a key: `mamba_available_size` → (mamba, available_size),
    `req_to_token_pool.mamba_pool.size` → (mamba, size), `tree_cache.full_protected_size` →
    (full, protected_size); the term is the key's last dotted part, without its pool prefix."""
    parts = key.split(".")
    term = parts[-1]
    for index in range(len(parts) - 1, -1, -1):
        part = parts[index]
        for pool, prefix in _POOL_PREFIXES:
            if part.startswith(prefix) or part == pool:
                if index == len(parts) - 1:
                    term = part[len(prefix) :]
                return pool, term
    return own_pool, term


def _add(terms: dict[str, _Terms], pool: str, term: str, value: int) -> None:
    pool_terms = terms.setdefault(pool, _Terms())
    if term in _DIRECT:
        pool_terms.direct = value
    elif term in _ACCOUNTED:
        pool_terms.accounted = value
    elif term == _WEAK_TOTAL:
        pool_terms.total = value
    elif term in _CAPACITY:
        pool_terms.capacity = value
    elif any(state in term for state in _STATES):
        pool_terms.states.append(value)


def _kind(difference: int | None, fields: dict[str, FieldValue]) -> str:
    if difference is not None:
        return "double_free" if difference < 0 else "leak"
    kind = fields.get("kind")
    return kind if isinstance(kind, str) and kind in catalog.LEAK_KINDS else "leak"
