"""Tests for telemetry.logs.leak_terms: the signed difference of a leak message's terms, per pool,
decides leak or double_free, for every leak form the parser reads."""

from __future__ import annotations

import orjson
import pytest

from telemetry import catalog
from telemetry.logs.leak_terms import PoolLeak, pool_leaks
from telemetry.logs.parse import LineCounts, iter_records, parse_line

LEAKS = [
    pytest.param(
        "token_to_kv_pool_allocator memory leak detected! available_size=10, protected_size=0, "
        "self.max_total_num_tokens=100",
        [PoolLeak("full", "leak", 90)], id="kv-allocator",
    ),
    pytest.param(
        "[2025-03-01 12:00:00 TP0] Mamba memory leak detected! mamba_available_size=3, "
        "mamba_evictable_size=1, self.mamba_pool.size=16",
        [PoolLeak("mamba", "leak", 12)], id="mamba",
    ),
    pytest.param(
        "[swa] total=64, available=70, evictable=1, protected=0, session_held=0",
        [PoolLeak("swa", "double_free", -7)], id="per-pool-double-free",
    ),
    pytest.param(
        "token_to_kv_pool_allocator memory leak detected! full_num_used=4, swa_num_used=-2",
        [PoolLeak("full", "leak", 4), PoolLeak("swa", "double_free", -2)], id="two-pools",
    ),
    pytest.param(
        "[2026-11-21T10:00:00Z] [mamba] memory leak detected! mode=idle, kind=double_free, "
        "capacity=16, available=20, evictable=0, protected=0, session_held=0, running=0, "
        "difference=-4",
        [PoolLeak("mamba", "double_free", -4)], id="poolscope-text",
    ),
    pytest.param(
        "KV cache pool leak detected!", [PoolLeak("full", "leak", None)], id="no-terms",
    ),
]


@pytest.mark.parametrize(("line", "expected"), LEAKS)
def test_leak_line_gives_pool_kind_and_difference(line: str, expected: list[PoolLeak]) -> None:
    """Each leak form yields the pools it names, with the sign of their difference as kind."""
    record = parse_line(line)
    assert record is not None and record.event == catalog.MEMORY_LEAK.name
    assert pool_leaks(record.fields) == expected


def test_2024_pair_uses_the_warning_numbers() -> None:
    """The 2024 warning line's numbers decide the kind of the leak line after it."""
    lines = [
        "Warning: available_size=110, max_total_num_tokens=100",
        "KV cache pool leak detected!",
    ]
    (record,) = iter_records(lines, LineCounts())
    assert pool_leaks(record.fields) == [PoolLeak("full", "double_free", -10)]


def test_json_event_without_terms_keeps_its_kind() -> None:
    """Our JSON event with a kind but no usable terms keeps that kind."""
    line = orjson.dumps({"event": catalog.MEMORY_LEAK.name, "pool": "req", "kind": "double_free"})
    record = parse_line(line.decode())
    assert record is not None
    assert pool_leaks(record.fields) == [PoolLeak("req", "double_free", None)]


def test_unknown_pool_and_non_integer_terms_fall_back() -> None:
    """A pool outside the catalog counts as full; rank tags and text are no terms."""
    fields = {"pool": "gpu9", "tp_rank": 3, "available": "many", "graph": True}
    assert pool_leaks(fields) == [PoolLeak("full", "leak", None)]


def test_dotted_terms_name_their_pool_by_the_last_part_that_has_one() -> None:
    """`tree_cache.mamba_protected_size` and `req_to_token_pool.mamba_pool.size` are mamba
    terms, `req_to_token_pool.size` a request-pool term, whatever the message's own pool."""
    fields = {
        "pool": "full", "mamba_available_size": 10, "tree_cache.mamba_protected_size": 2,
        "req_to_token_pool.mamba_pool.size": 16, "req_to_token_pool.size": 8, "session_held": 0,
    }
    assert pool_leaks(fields) == [PoolLeak("mamba", "leak", 4)]


def test_a_message_whose_pools_all_add_up_counts_once_for_its_own_pool() -> None:
    """A message whose terms all add up is still one leak (the line says one was detected),
    for its own pool, with difference 0; pools that add up beside a failing one are left out."""
    fields = {"pool": "swa", "full_total": 10, "full_available": 10, "swa_total": 5,
              "swa_available": 5}
    assert pool_leaks(fields) == [PoolLeak("swa", "leak", 0)]
    fields["full_available"] = 12
    assert pool_leaks(fields) == [PoolLeak("full", "double_free", -2)]
