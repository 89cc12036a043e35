"""SGLang's leak messages of every era, as its checker source wrote them (idle and busy checks;
full, SWA, mamba and hybrid pools; HiCache's radix check; plain logger lines, Python
`UserWarning`s and exception tracebacks), read into one record each, continuation lines
included, with each pool's signed difference."""

from __future__ import annotations

import pytest

from telemetry import catalog
from telemetry.logs.leak_terms import PoolLeak, pool_leaks
from telemetry.logs.parse import LineCounts, iter_records

LEAK = catalog.MEMORY_LEAK.name
TS = "[2025-10-01 10:00:00 TP0] "
MAMBA_FULL_OK = (
    "token_to_kv_pool_allocator memory leak detected! full_available_size=1000, "
    "full_evictable_size=0, self.token_to_kv_pool_allocator.size=1000, "
    "self.tree_cache.full_protected_size()=0"
)
MAMBA_LEAKED = (
    "mamba_available_size=60, mamba_evictable_size=2, self.req_to_token_pool.mamba_pool.size=64, "
    "self.tree_cache.mamba_protected_size()=0, leaked_full_pages=None, leaked_mamba_pages={3, 17}"
)
TRACEBACK = [
    f"{TS}Scheduler hit an exception: Traceback (most recent call last):",
    '  File "/sgl/python/sglang/srt/managers/scheduler.py", line 2521, in run_scheduler_process',
    "    scheduler.event_loop_overlap()",
    '  File "/sgl/python/sglang/srt/managers/scheduler_runtime_checker_mixin.py", line 203, '
    "in check_memory",
    "    raise ValueError(msg)",
]
FORMS = [
    pytest.param(
        ["/sgl/python/sglang/srt/managers/router/model_rpc.py:227: UserWarning: Warning: "
         "available_size=75821, max_total_num_token=75833",
         "KV cache pool leak detected!", "  warnings.warn("],
        [PoolLeak("full", "leak", 12)], id="2024-warning-pair-user-warning",
    ),
    pytest.param(
        ["Warning: available req slots=3, total slots=64", "Memory pool leak detected!"],
        [PoolLeak("req", "leak", 61)], id="2024-request-pool-pair",
    ),
    pytest.param(
        [f"{TS}KV cache pool leak detected!available_size=90, self.max_total_num_tokens=100", ""],
        [PoolLeak("full", "leak", 10)], id="2024-kv-one-line",
    ),
    pytest.param(
        ["Memory pool leak detected!available_size=66, total_size=64", ""],
        [PoolLeak("req", "double_free", -2)], id="2024-request-pool-one-line",
    ),
    pytest.param(
        [f"{TS}token_to_kv_pool_allocator memory leak detected! self.max_total_num_tokens=1000, "
         "available_size=900, evictable_size=50, protected_size=0", ""],
        [PoolLeak("full", "leak", 50)], id="2025-radix-idle",
    ),
    pytest.param(
        [f"{TS}token_to_kv_pool_allocator memory leak detected! self.max_total_num_tokens=1000, "
         "available_size=900, evictable_size=50, protected_size=40", ""],
        [PoolLeak("full", "leak", 10)], id="2025-hicache-radix-protected",
    ),
    pytest.param(
        [f"{TS}token_to_kv_pool_allocator memory leak detected! self.max_total_num_tokens=1000, "
         "available_size=900, evictable_size=0, protected_size=0, diff=100, tolerance=32", ""],
        [PoolLeak("full", "leak", 100)], id="2025-radix-diff-tolerance",
    ),
    pytest.param(
        [f"{TS}token_to_kv_pool_allocator memory leak detected! self.full_tokens_per_layer=1000, "
         "full_available_size=990, full_evictable_size=0, self.tree_cache.full_protected_size()=0",
         "self.swa_tokens_per_layer=500, swa_available_size=480, swa_evictable_size=0, "
         "self.tree_cache.swa_protected_size()=0", ""],
        [PoolLeak("full", "leak", 10), PoolLeak("swa", "leak", 20)], id="2025-swa-hybrid-idle",
    ),
    pytest.param(
        ["token_to_kv_pool_allocator memory leak detected! self.full_tokens_per_layer=1000, "
         "full_available_size=1000, full_evictable_size=0, full_protected=0 (used=0)",
         "self.swa_tokens_per_layer=500, swa_available_size=510, swa_evictable_size=0, "
         "swa_protected=0 (used=-10)", ""],
        [PoolLeak("swa", "double_free", -10)], id="2025-swa-hybrid-used",
    ),
    pytest.param(
        [TS + MAMBA_FULL_OK, MAMBA_LEAKED, ""],
        [PoolLeak("mamba", "leak", 2)], id="2025-mamba-hybrid-logger",
    ),
    pytest.param(
        ["/sgl/python/sglang/srt/mem_cache/mamba_radix_cache.py:88: UserWarning: "
         + MAMBA_FULL_OK.replace("=1000, full_ev", "=990, full_ev"),
         "mamba_available_size=64, mamba_evictable_size=0, "
         "self.req_to_token_pool.mamba_pool.size=64, self.tree_cache.mamba_protected_size()=0",
         "", "  warnings.warn(msg)"],
        [PoolLeak("full", "leak", 10)], id="2025-mamba-hybrid-user-warning",
    ),
    pytest.param(
        [*TRACEBACK, "ValueError: " + MAMBA_FULL_OK, MAMBA_LEAKED.replace("=60,", "=66,"), ""],
        [PoolLeak("mamba", "double_free", -4)], id="2025-mamba-hybrid-traceback",
    ),
    pytest.param(
        [f"{TS}pool memory leak detected! [full] total=1000, available=1000, evictable=0, "
         "protected=0, session_held=0, uncached=0",
         "[swa] total=500, available=500, evictable=0, protected=0, session_held=0, uncached=0",
         "[mamba] total=64, available=60, evictable=0, protected=0, session_held=0, uncached=0, "
         "leaked_full_pages=None, leaked_mamba_pages={5, 6, 7, 8}", ""],
        [PoolLeak("mamba", "leak", 4)], id="2026-pool-sections",
    ),
    pytest.param(
        [f"{TS}req_to_token_pool memory leak detected!available_size=60, session_held=2, "
         "total_size=64", ""],
        [PoolLeak("req", "leak", 2)], id="2026-request-pool-session",
    ),
    pytest.param(
        [*TRACEBACK[:3], "AssertionError: Mem Leak Detected! total_tokens=990 vs "
         "self.max_total_num_tokens=1000"],
        [PoolLeak("full", "leak", 10)], id="2025-busy-total-vs-max",
    ),
    pytest.param(
        ["AssertionError: Full Pool Mem Leak Detected! [full] total=1000, available=900, "
         "evictable=50, protected=40, session_held=0, uncached=20"],
        [PoolLeak("full", "double_free", -10)], id="2026-busy-full",
    ),
    pytest.param(
        ["AssertionError: SWA Pool Mem Leak Detected! [swa] total=500, available=490, "
         "evictable=0, protected=0, session_held=0, uncached=0"],
        [PoolLeak("swa", "leak", 10)], id="2026-busy-swa",
    ),
    pytest.param(
        ["AssertionError: Full Pool Mem Leak Detected! full_total=990 vs "
         "self.full_tokens_per_layer=1000, full_available=900, full_evictable=50, "
         "full_protected=40, full_uncached=0, full_session_held=0"],
        [PoolLeak("full", "leak", 10)], id="busy-swa-sums",
    ),
]


@pytest.mark.parametrize(("lines", "expected"), FORMS)
def test_each_leak_form_is_one_record_with_each_pools_difference(
    lines: list[str], expected: list[PoolLeak]
) -> None:
    """Every form reads as exactly one leak record, its continuation lines folded in, and each
    pool whose terms do not add up counts with its signed difference."""
    counts = LineCounts()
    records = list(iter_records(lines, counts))
    assert [r.event for r in records] == [LEAK]
    assert pool_leaks(records[0].fields) == expected


def test_mamba_terms_on_the_second_line_are_kept() -> None:
    """The hybrid message's second line lends its mamba terms to the record (issue 16)."""
    (record,) = iter_records([TS + MAMBA_FULL_OK, MAMBA_LEAKED], LineCounts())
    fields = record.fields
    assert fields["pool"] == "full" and fields["tp_rank"] == 0
    assert (fields["mamba_available_size"], fields["req_to_token_pool.mamba_pool.size"]) == (60, 64)
    assert fields["leaked_mamba_pages"] == "{3, 17}"


def test_continuation_after_a_later_read_joins_until_the_file_is_quiet() -> None:
    """A continuation that comes a few empty reads later still joins its message; after
    enough empty reads the message is complete and a later key=value line stands alone."""
    from telemetry.logs.parse import IDLE_READS_TO_FLUSH

    counts = LineCounts()
    joined = list(iter_records([TS + MAMBA_FULL_OK, None, None, MAMBA_LEAKED], counts))
    assert [pool_leaks(r.fields) for r in joined] == [[PoolLeak("mamba", "leak", 2)]]
    quiet = [None] * IDLE_READS_TO_FLUSH
    counts = LineCounts()
    apart = iter_records([TS + MAMBA_FULL_OK, *quiet, MAMBA_LEAKED], counts)
    first = next(apart)  # let out after the quiet reads, before the next line is read
    assert counts.num_lines == 1 and pool_leaks(first.fields) == [PoolLeak("full", "leak", 0)]
    assert list(apart) == [] and counts.num_skipped == 1


def test_busy_check_trace_lines_are_no_leaks() -> None:
    """SGLang's `[Mem Check (BUSY)]` trace lines report a check's figures, not a leak; a pool
    line whose terms add up is no leak either."""
    lines = [
        f"{TS}[Mem Check (BUSY)] available_size=900, evictable_size=50, protected_size=40, "
        "uncached_size=10",
        f"{TS}[Mem Check (BUSY)] [full] total=1000, available=900, evictable=50, protected=40, "
        "session_held=0, uncached=10",
        "[swa] total=500, available=500, evictable=0, protected=0, session_held=0, uncached=0",
    ]
    counts = LineCounts()
    assert list(iter_records(lines, counts)) == []
    assert counts.num_other == 3


def test_a_new_message_ends_the_one_before() -> None:
    """Two messages in a row are two records; a timestamped line is never a continuation."""
    lines = [TS + MAMBA_FULL_OK, TS + MAMBA_FULL_OK, MAMBA_LEAKED,
             f"{TS}Decode batch, #running-req: 1, #token: 5, token usage: 0.01, "
             "#queue-req: 0, "]
    counts = LineCounts()
    records = list(iter_records(lines, counts))
    assert [r.event for r in records] == [LEAK, LEAK, catalog.DECODE_BATCH.name]
    assert "mamba_available_size" not in records[0].fields
    assert records[1].fields["mamba_available_size"] == 60
    assert counts.num_merged == 1
