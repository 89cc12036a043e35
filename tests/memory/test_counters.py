"""The memory manager's counters are typed fields."""

from __future__ import annotations

import pytest

from runtime.memory.counters import MemoryCounters


def test_a_misspelt_counter_fails_to_read_and_to_count() -> None:
    """Reading or incrementing a counter name that does not exist raises instead of reading 0."""
    counters = MemoryCounters()
    with pytest.raises(AttributeError):
        _ = counters.prefix_querys  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        counters.session_eviction = 1  # type: ignore[attr-defined]
    assert counters.prefix_queries == 0
