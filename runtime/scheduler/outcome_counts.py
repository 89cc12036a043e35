"""How requests have ended (or been set back) since the engine started, as typed fields.

The engine adds to them as its scheduler's batches end; the server's stopped event, the bench
reports and tests read them. Fields, not string keys: a misspelt name fails instead of reading 0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class OutcomeCounts:
    """Cumulative request outcomes of one engine."""

    finished: int = 0  # requests that ended normally (stop, length)
    cached_tokens: int = 0  # prompt tokens the finished requests found cached
    retracted: int = 0  # running requests sent back to the queue to free memory
    out_of_memory: int = 0  # requests aborted because even retraction found no room
    queue_timeouts: int = 0  # requests that waited longer than the queue timeout
