"""The invariant checker: every pool's five states must add up to its capacity.

Counting rule (`is_new_leak`): a failed identity is counted, logged and alerted on only when it
is news. A pool's leak is its signed difference; the checker remembers what the previous check
saw and counts the current difference when it appeared (the previous was 0), changed kind (leak
<-> double free) or grew. An unchanged leak that persists is counted once, however many checks
see it; a leak that shrinks is not counted (no slot was newly lost), but the smaller size is the
one to grow from; a pool back at 0 forgets its leak, so a recurrence counts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from telemetry import catalog
from telemetry.pool_stats import PoolPartition, PoolStats


class CheckMode(Enum):
    """`idle` checks when nothing runs; `busy` also after every step; `off` never."""

    IDLE = "idle"
    BUSY = "busy"
    OFF = "off"


class LeakKind(Enum):
    """Which way an identity fails; the values are the catalog's `kind` label values."""

    LEAK = catalog.LEAK_KINDS[0]  # slots lost: capacity > sum of states
    DOUBLE_FREE = catalog.LEAK_KINDS[1]  # slots counted free twice: capacity < sum of states


@dataclass(frozen=True)
class LeakReport:
    """One failed identity: which pool, when, which way, by how much, and every term."""

    pool: str
    mode: CheckMode
    difference: int  # capacity - sum of states; > 0 leak, < 0 double free
    terms: PoolPartition

    @property
    def leak_kind(self) -> LeakKind:
        return LeakKind.LEAK if self.difference > 0 else LeakKind.DOUBLE_FREE


class LeakDetected(RuntimeError):
    """Raised only when the runtime is configured to raise on a leak (`--on-leak raise`)."""

    def __init__(self, reports: list[LeakReport]) -> None:
        detail = "; ".join(
            f"{r.pool}: {r.leak_kind.value} of {abs(r.difference)} slots ({r.terms})"
            for r in reports
        )
        super().__init__(f"memory invariant broken: {detail}")
        self.reports = reports


def is_new_leak(previous: int, current: int) -> bool:
    """Whether a pool whose last check found `previous` (signed difference) and whose check now
    finds `current` has a leak to count: new, of the other kind, or grown."""
    if current == 0:
        return False
    if previous == 0 or (previous > 0) != (current > 0):
        return True
    return abs(current) > abs(previous)


def check_stats(stats: PoolStats, mode: CheckMode) -> list[LeakReport]:
    """The identity for every pool in `stats`; empty when all pools balance."""
    return [
        LeakReport(pool=name, mode=mode, difference=part.leaked, terms=part)
        for name, part in stats.pools.items()
        if part.leaked != 0
    ]
