"""Named fault points: off by default, each reproduces a real bug class so that the checker,
the leak counters and the alerts can be shown to fire."""

from __future__ import annotations

# name -> the bug it reproduces
FAULT_POINTS: dict[str, str] = {
    "session_mamba_revert_free": "an admission revert frees a session's restored mamba slot",
    "session_double_count": "a lent session slot is counted as both session-held and running",
    "session_close_leaks_mamba": "closing a session does not free its mamba slots",
    "swa_skip_free": "the SWA watermark advances without freeing the out-of-window slots",
    "kv_double_free": "KV pages a request gives back (duplicates or uncached) are freed twice",
}


def parse_faults(names: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """Validates fault names; raises ValueError naming the unknown ones and the known ones."""
    unknown = sorted(set(names) - set(FAULT_POINTS))
    if unknown:
        raise ValueError(
            f"unknown fault point(s) {', '.join(unknown)}; known: {', '.join(FAULT_POINTS)}"
        )
    return frozenset(names)
