"""The invariant checker: every pool's five states must add up to its capacity."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from telemetry.pool_stats import PoolPartition, PoolStats


class CheckMode(Enum):
    """`idle` checks when nothing runs; `busy` also after every step; `off` never."""

    IDLE = "idle"
    BUSY = "busy"
    OFF = "off"


LEAK = "leak"
DOUBLE_FREE = "double_free"


@dataclass(frozen=True)
class LeakReport:
    """One failed identity: which pool, when, which way, by how much, and every term."""

    pool: str
    mode: CheckMode
    difference: int  # capacity - sum of states; > 0 leak, < 0 double free
    terms: PoolPartition

    @property
    def kind(self) -> str:
        return LEAK if self.difference > 0 else DOUBLE_FREE


class LeakDetected(RuntimeError):
    """Raised only when the runtime is configured to raise on a leak (`--on-leak raise`)."""

    def __init__(self, reports: list[LeakReport]) -> None:
        detail = "; ".join(
            f"{r.pool}: {r.kind} of {abs(r.difference)} slots ({r.terms})" for r in reports
        )
        super().__init__(f"memory invariant broken: {detail}")
        self.reports = reports


def check_stats(stats: PoolStats, mode: CheckMode) -> list[LeakReport]:
    """The identity for every pool in `stats`; empty when all pools balance."""
    return [
        LeakReport(pool=name, mode=mode, difference=part.leaked, terms=part)
        for name, part in stats.pools.items()
        if part.leaked != 0
    ]
