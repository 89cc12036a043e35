"""What the observable gauges read at scrape time: the latest snapshot the runtime handed over.

The runtime replaces `GaugeSnapshot` after each step (one reference swap, so a scrape on another
thread sees either the old or the new snapshot, never a half-written one); nothing is pushed to
the instruments from the decode loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from telemetry import catalog
from telemetry.catalog import MetricSpec
from telemetry.pool_stats import PoolStats

Labels = dict[str, str]
Reading = tuple[float, Labels]


@dataclass(frozen=True)
class GaugeSnapshot:
    """The figures every gauge reads: pool partitions, the checker's signed leaked slots,
    queue sizes, open sessions and the generation throughput."""

    stats: PoolStats
    leaked_slots: Mapping[str, int] = field(default_factory=dict)
    num_running: int = 0
    num_queued: int = 0
    num_sessions: int = 0
    gen_throughput: float = 0.0


def _pool_slots(s: GaugeSnapshot) -> Iterator[Reading]:
    for pool, part in s.stats.pools.items():
        for state in catalog.STATES:
            yield float(part.state(state)), {"pool": pool, "state": state}


def _per_pool(value: Callable[[GaugeSnapshot, str], float]) -> Callable[..., Iterator[Reading]]:
    def read(s: GaugeSnapshot) -> Iterator[Reading]:
        for pool in s.stats.pools:
            yield value(s, pool), {"pool": pool}

    return read


def _single(value: Callable[[GaugeSnapshot], float]) -> Callable[..., Iterator[Reading]]:
    def read(s: GaugeSnapshot) -> Iterator[Reading]:
        yield float(value(s)), {}

    return read


READERS: dict[MetricSpec, Callable[[GaugeSnapshot], Iterator[Reading]]] = {
    catalog.POOL_SLOTS: _pool_slots,
    catalog.POOL_CAPACITY: _per_pool(lambda s, p: float(s.stats.pools[p].capacity)),
    catalog.POOL_USAGE: _per_pool(lambda s, p: s.stats.pools[p].usage),
    catalog.POOL_LEAKED_SLOTS: _per_pool(lambda s, p: float(s.leaked_slots.get(p, 0))),
    catalog.TOKEN_USAGE: _single(lambda s: s.stats.token_usage),
    catalog.KV_TOKEN_USAGE: _single(lambda s: s.stats.kv_token_usage),
    catalog.REQUESTS_RUNNING: _single(lambda s: s.num_running),
    catalog.REQUESTS_QUEUED: _single(lambda s: s.num_queued),
    catalog.SESSIONS_OPEN: _single(lambda s: s.num_sessions),
    catalog.GENERATION_THROUGHPUT: _single(lambda s: s.gen_throughput),
}
