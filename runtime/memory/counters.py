"""The memory manager's cumulative event counts, as typed fields (a misspelt name fails)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class MemoryCounters:
    """Counts since start; telemetry adds what each gained since its last sync."""

    prefix_queries: int = 0  # admissions that asked the prefix cache (session turns do not)
    track_alloc_failures: int = 0  # lazy mamba track boundaries that found no slot
    mamba_cache_skipped: int = 0  # finished requests not cached for want of a snapshot
    session_evictions: int = 0  # idle sessions handed to the prefix cache under pressure
