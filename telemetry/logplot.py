"""A PNG of parsed log records: usage per pool over time in one panel, running and queued
requests in a second. Constant memory: each line keeps at most MAX_POINTS points.

    plot(iter_records(read_lines("server.log"), ParseStats()), "usage.png")

matplotlib is imported inside `plot` (Agg canvas, no pyplot state), so importing this module is
cheap. The x axis is seconds since the first batch record when that record has a timestamp
(later records without one are left out), else the record index.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from telemetry import catalog
from telemetry.log_record import LogRecord, epoch_seconds
from telemetry.logsummary import HIGH_USAGE, usage_pools

MAX_POINTS = 2000
BATCH_EVENTS = frozenset((catalog.DECODE_BATCH.name, catalog.PREFILL_BATCH.name))
REQUEST_SERIES = {"running": "running_req", "queued": "queue_req"}
NO_BATCH_RECORDS = f"no {catalog.PREFILL_BATCH.name} or {catalog.DECODE_BATCH.name} records to plot"


class Series:
    """The points of one line, never more than `cap`: when full, neighbours merge pairwise (the
    first x, the larger y, so peaks survive) and every later point stands for twice as many
    samples as before (stride doubling)."""

    def __init__(self, cap: int = MAX_POINTS) -> None:
        if cap < 2 or cap % 2:
            raise ValueError(f"cap must be even and at least 2, not {cap}")
        self.cap = cap
        self.stride = 1
        self.xs: list[float] = []
        self.ys: list[float] = []
        self._open = 0  # samples in the bucket being filled
        self._x = 0.0
        self._y = 0.0

    def add(self, x: float, y: float) -> None:
        """Adds one sample (x non-decreasing)."""
        self._y = y if self._open == 0 else max(self._y, y)
        self._x = x if self._open == 0 else self._x
        self._open += 1
        if self._open == self.stride:
            self._close_bucket()

    def points(self) -> tuple[list[float], list[float]]:
        """The points so far, the partly filled bucket included (the series is not changed)."""
        if self._open == 0:
            return self.xs, self.ys
        return [*self.xs, self._x], [*self.ys, self._y]

    def _close_bucket(self) -> None:
        self.xs.append(self._x)
        self.ys.append(self._y)
        self._open = 0
        if len(self.xs) >= self.cap:
            self.xs = self.xs[::2]
            self.ys = [max(a, b) for a, b in zip(self.ys[::2], self.ys[1::2], strict=True)]
            self.stride *= 2


def collect(records: Iterable[LogRecord]) -> tuple[dict[str, Series], dict[str, Series], bool]:
    """Usage series per pool and request series (running, queued) from the batch records, and
    whether x is time. Raises ValueError when there is no batch record to plot."""
    pools = usage_pools()
    usage: dict[str, Series] = {}
    requests: dict[str, Series] = {}
    start: float | None = None
    index = -1
    for record in records:
        if record.event not in BATCH_EVENTS:
            continue
        index += 1
        time = epoch_seconds(record.timestamp)
        if index == 0:
            start = time
        if start is not None and time is None:
            continue
        x = time - start if start is not None and time is not None else float(index)
        _add(usage, pools, record, x)
        _add(requests, REQUEST_SERIES, record, x)
    if index < 0:
        raise ValueError(NO_BATCH_RECORDS)
    return usage, requests, start is not None


def _add(series: dict[str, Series], names: dict[str, str], record: LogRecord, x: float) -> None:
    for name, field in names.items():
        value = record.fields.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            series.setdefault(name, Series()).add(x, float(value))


def plot(records: Iterable[LogRecord], out_png: str | Path, *, title: str | None = None) -> None:
    """Writes the two-panel PNG to `out_png`. Raises ValueError when `records` holds no batch
    record, OSError when the file cannot be written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    usage, requests, is_time = collect(records)
    fig = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for name, series in usage.items():
        top.plot(*series.points(), label=name, linewidth=1)
    top.axhline(HIGH_USAGE, color="grey", linestyle="--", linewidth=0.8)
    top.set_ylabel("usage")
    top.set_ylim(bottom=0)
    for name, series in requests.items():
        bottom.step(*series.points(), where="post", label=name, linewidth=1)
    bottom.set_ylabel("requests")
    bottom.set_xlabel("seconds since the first batch" if is_time else "batch record")
    for axes in (top, bottom):
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="upper left", fontsize="small")
        axes.grid(True, linewidth=0.3)
    if title:
        top.set_title(title)
    fig.savefig(out_png, dpi=100)
