"""A streaming summary of parsed log records (constant memory): per pool the samples, peak and
mean usage, the time (or share of samples) above 90 %, the leaks and the double frees; request
peaks and the mean decode throughput. `poolscope logs summary` prints
`render_summary(summarise(records))`.

Each leak message counts once per pool it shows a difference for, as a leak (slots lost) or a
double free (more slots free than exist), by `telemetry.logs.leak_terms.pool_leaks`: one SGLang
hybrid message whose mamba terms leak and whose full terms add up is one mamba leak.

Pools are named by the usage fields of batch records: `token` (token_usage, the max over all
pools), `kv` (kv_token_usage), `full`, `swa`, `mamba`, `gpu`, `cpu`; only pools that appear are
reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from telemetry import catalog
from telemetry.logs.leak_terms import pool_leaks
from telemetry.logs.numeric_fields import as_number
from telemetry.logs.record import LogRecord, epoch_seconds

HIGH_USAGE = 0.9
LEAK, DOUBLE_FREE = catalog.LEAK_KINDS


def usage_pools() -> dict[str, str]:
    """Pool name → its usage field, in catalog order: token_usage → token, kv_token_usage → kv,
    full_token_usage → full, mamba_usage → mamba, ..."""
    fields = [f for f in catalog.USAGE_FIELDS if f.endswith("_usage")]
    return {f.removesuffix("_usage").removesuffix("_token") or f: f for f in fields}


@dataclass
class PoolSummary:
    """One pool's usage over the log. `seconds_above` is the summed time from each sample above
    90 % to the pool's next sample, or None when some sample had no timestamp (then read
    `share_above`, the fraction of samples above 90 %)."""

    pool: str
    num_samples: int
    peak: float
    mean: float
    share_above: float
    seconds_above: float | None
    num_leaks: int
    num_double_frees: int


@dataclass
class LogSummary:
    """The whole log: pools in catalog order, leaks and double frees per pool (pools without
    usage samples too), request peaks, the mean decode throughput (None without decode records)
    and records per event."""

    pools: list[PoolSummary]
    leaks: dict[str, int]
    double_frees: dict[str, int]
    peak_running: int | None
    peak_queued: int | None
    mean_gen_throughput: float | None
    records: dict[str, int]


@dataclass
class _PoolAcc:
    num: int = 0
    total: float = 0.0
    peak: float = 0.0
    num_above: int = 0
    seconds_above: float = 0.0
    has_all_times: bool = True
    last_time: float | None = None
    last_above: bool = False

    def add(self, usage: float, time: float | None) -> None:
        if self.last_above and self.last_time is not None and time is not None:
            self.seconds_above += max(0.0, time - self.last_time)
        self.num += 1
        self.total += usage
        self.peak = max(self.peak, usage) if self.num > 1 else usage
        self.last_above = usage > HIGH_USAGE
        self.num_above += self.last_above
        self.has_all_times = self.has_all_times and time is not None
        self.last_time = time


@dataclass
class _Acc:
    pools: dict[str, _PoolAcc] = field(default_factory=dict)
    leaks: dict[str, int] = field(default_factory=dict)
    double_frees: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    peak_running: int | None = None
    peak_queued: int | None = None
    num_decode: int = 0
    sum_throughput: float = 0.0


def summarise(records: Iterable[LogRecord]) -> LogSummary:
    """Reads `records` once, keeping only running aggregates."""
    acc = _Acc()
    pools = usage_pools()
    for record in records:
        acc.records[record.event] = acc.records.get(record.event, 0) + 1
        if record.event == catalog.MEMORY_LEAK.name:
            _add_leak(acc, record)
        else:
            _add_batch(acc, record, pools)
    return _finish(acc, pools)


def _add_leak(acc: _Acc, record: LogRecord) -> None:
    for leak in pool_leaks(record.fields):
        counts = acc.double_frees if leak.kind == DOUBLE_FREE else acc.leaks
        counts[leak.pool] = counts.get(leak.pool, 0) + 1


def _add_batch(acc: _Acc, record: LogRecord, pools: dict[str, str]) -> None:
    fields = record.fields
    time = epoch_seconds(record.timestamp)
    for pool, usage_field in pools.items():
        usage = as_number(fields.get(usage_field))
        if usage is not None:
            acc.pools.setdefault(pool, _PoolAcc()).add(usage, time)
    acc.peak_running = _max(acc.peak_running, as_number(fields.get("running_req")))
    acc.peak_queued = _max(acc.peak_queued, as_number(fields.get("queue_req")))
    throughput = as_number(fields.get("gen_throughput"))
    if record.event == catalog.DECODE_BATCH.name and throughput is not None:
        acc.num_decode += 1
        acc.sum_throughput += throughput


def _finish(acc: _Acc, pools: dict[str, str]) -> LogSummary:
    summaries = [_pool_summary(p, acc.pools[p], acc) for p in pools if p in acc.pools]
    throughput = acc.sum_throughput / acc.num_decode if acc.num_decode else None
    return LogSummary(
        summaries, dict(acc.leaks), dict(acc.double_frees), acc.peak_running, acc.peak_queued,
        throughput, acc.records,
    )


def _pool_summary(pool: str, a: _PoolAcc, acc: _Acc) -> PoolSummary:
    return PoolSummary(
        pool=pool,
        num_samples=a.num,
        peak=a.peak,
        mean=a.total / a.num,
        share_above=a.num_above / a.num,
        seconds_above=a.seconds_above if a.has_all_times else None,
        num_leaks=acc.leaks.get(pool, 0),
        num_double_frees=acc.double_frees.get(pool, 0),
    )


def _max(current: int | None, value: float | None) -> int | None:
    if value is None:
        return current
    return int(value) if current is None else max(current, int(value))


def render_summary(summary: LogSummary) -> str:
    """A plain-text table: one row per pool, then leaks and double frees of pools without usage
    samples, request peaks, the mean decode throughput and the records per event."""
    header = (
        f"{'pool':<7}{'samples':>9}{'peak':>7}{'mean':>7}{'>90%':>12}{'leaks':>7}"
        f"{'double frees':>14}"
    )
    rows = [header, "-" * len(header)]
    rows += [_pool_row(p) for p in summary.pools] or ["(no usage samples)"]
    shown = {p.pool for p in summary.pools}
    for word, counts in (("leaks", summary.leaks), ("double frees", summary.double_frees)):
        apart = sorted((pool, n) for pool, n in counts.items() if pool not in shown)
        rows += [f"{word} in {pool}: {n}" for pool, n in apart]
    throughput = summary.mean_gen_throughput
    per_event = ", ".join(f"{name} {num}" for name, num in sorted(summary.records.items()))
    rows += [
        f"peak running requests: {_text(summary.peak_running)}",
        f"peak queued requests: {_text(summary.peak_queued)}",
        f"mean decode throughput: {_text(throughput)} token/s",
        f"records: {per_event or 'none'}",
    ]
    return "\n".join(rows)


def _pool_row(p: PoolSummary) -> str:
    above = f"{p.seconds_above:.1f} s" if p.seconds_above is not None else f"{p.share_above:.1%}"
    return (
        f"{p.pool:<7}{p.num_samples:>9}{p.peak:>7.2f}{p.mean:>7.2f}{above:>12}{p.num_leaks:>7}"
        f"{p.num_double_frees:>14}"
    )


def _text(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
