"""The memory manager's counters are typed fields."""

from __future__ import annotations

import pytest

from runtime.memory.checker import LeakKind
from runtime.memory.counters import MemoryCounters
from runtime.memory.pool_name import PoolName
from telemetry import catalog
from tests.memory.scenarios import manager, run


def test_a_misspelt_counter_fails_to_read_and_to_count() -> None:
    """Reading or incrementing a counter name that does not exist raises instead of reading 0."""
    counters = MemoryCounters()
    with pytest.raises(AttributeError):
        _ = counters.prefix_querys  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        counters.session_eviction = 1  # type: ignore[attr-defined]
    assert counters.prefix_queries == 0


def test_pool_and_leak_kind_values_are_the_catalog_label_values() -> None:
    """PoolName and LeakKind values are exactly the catalog's `pool` and `kind` label values,
    so counters keyed by them keep every metric label as it was."""
    assert tuple(p.value for p in PoolName) == catalog.POOLS
    assert tuple(k.value for k in LeakKind) == catalog.LEAK_KINDS


def test_prefix_hits_are_counted_under_pool_names() -> None:
    """A repeated prompt's prefix hits are keyed by PoolName, and a misspelt name is refused."""
    mm = manager()
    run(mm, "a", list(range(40)), chunk=40)
    run(mm, "b", list(range(40)), chunk=40)
    assert mm.hits[PoolName.FULL] > 0 and all(isinstance(p, PoolName) for p in mm.hits)
    with pytest.raises(ValueError):
        PoolName("fulll")
