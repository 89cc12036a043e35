"""A PNG of parsed log records: usage per pool over time in one panel, running and queued
requests in a second. Constant memory: each line keeps at most MAX_POINTS points.

    plot(iter_records(read_lines("server.log"), LineCounts()), "usage.png")

matplotlib is imported inside `figure` (Agg canvas, no pyplot state), so importing this module is
cheap. The x axis is clock time (UTC; a log time without a zone is taken as UTC) when the first
batch record has a timestamp (later records without one are left out), else the record index.

Idle time is not drawn as data: when the time between two batch records exceeds GAP_FACTOR times
the median of the last RECENT intervals (and MIN_GAP_S), every line breaks there. The value
before a break is held for one typical interval, not through the idle time, so a running count
is never shown as lasting while nothing was logged. Lines are told apart by style and width
(later ones thinner and dashed, drawn on top), so series with equal values stay visible.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from telemetry import catalog
from telemetry.extras import require_extra
from telemetry.logs.record import LogRecord, epoch_seconds
from telemetry.logs.summary import HIGH_USAGE, usage_pools

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_POINTS = 2000
GAP_FACTOR = 5.0  # an interval this many times the typical one is idle time, not a slow step
MIN_GAP_S = 5.0  # ... and at least this long (text logs have one-second timestamps)
RECENT = 16  # intervals the typical one is the median of
BATCH_EVENTS = frozenset((catalog.DECODE_BATCH.name, catalog.PREFILL_BATCH.name))
REQUEST_SERIES = {"running": "running_req", "queued": "queue_req"}
NO_BATCH_RECORDS = f"no {catalog.PREFILL_BATCH.name} or {catalog.DECODE_BATCH.name} records to plot"


class Series:
    """The points of one line, never more than `cap`: when full, neighbours merge pairwise (the
    first x, the larger y, so peaks survive; a break after either stays after the pair) and
    every later point stands for twice as many samples as before (stride doubling)."""

    def __init__(self, cap: int = MAX_POINTS) -> None:
        if cap < 2 or cap % 2:
            raise ValueError(f"cap must be even and at least 2, not {cap}")
        self.cap = cap
        self.stride = 1
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.breaks: list[bool] = []  # breaks[i]: the line breaks after point i (idle time)
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

    def mark_gap(self) -> None:
        """Breaks the line after the last sample: the bucket being filled closes early so that
        no later sample joins it."""
        if self._open:
            self._close_bucket(is_break=True)
        elif self.breaks:
            self.breaks[-1] = True

    def points(self) -> tuple[list[float], list[float]]:
        """The points so far, the partly filled bucket included (the series is not changed)."""
        if self._open == 0:
            return self.xs, self.ys
        return [*self.xs, self._x], [*self.ys, self._y]

    def line(self, hold: float) -> tuple[list[float], list[float]]:
        """The points with a NaN after each break, `hold` after the point before it (at most
        half way to the next point), so a plotted line stops there instead of crossing the gap."""
        xs, ys = self.points()
        breaks = [*self.breaks, False][: len(xs)]
        out_x: list[float] = []
        out_y: list[float] = []
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            out_x.append(x)
            out_y.append(y)
            if breaks[i] and i + 1 < len(xs):
                out_x.append(x + min(hold, (xs[i + 1] - x) / 2))
                out_y.append(math.nan)
        return out_x, out_y

    def _close_bucket(self, is_break: bool = False) -> None:
        self.xs.append(self._x)
        self.ys.append(self._y)
        self.breaks.append(is_break)
        self._open = 0
        if len(self.xs) >= self.cap:
            self.xs = self.xs[::2]
            self.ys = [max(a, b) for a, b in zip(self.ys[::2], self.ys[1::2], strict=True)]
            self.breaks = [a or b for a, b in zip(self.breaks[::2], self.breaks[1::2], strict=True)]
            self.stride *= 2


class _Gaps:
    """Tells idle gaps from ordinary intervals between batch records, in constant memory."""

    def __init__(self) -> None:
        self.recent: deque[float] = deque(maxlen=RECENT)

    def is_gap(self, interval: float) -> bool:
        self.recent.append(interval)
        typical = statistics.median(self.recent)
        return interval > max(MIN_GAP_S, GAP_FACTOR * typical)


def collect(records: Iterable[LogRecord]) -> tuple[dict[str, Series], dict[str, Series], bool]:
    """Usage series per pool and request series (running, queued) from the batch records, and
    whether x is time (seconds since the epoch). Lines break at idle gaps. Raises ValueError
    when there is no batch record to plot."""
    pools = usage_pools()
    usage: dict[str, Series] = {}
    requests: dict[str, Series] = {}
    gaps = _Gaps()
    is_time: bool | None = None
    last: float | None = None
    for index, record in enumerate(r for r in records if r.event in BATCH_EVENTS):
        time = epoch_seconds(record.timestamp)
        is_time = time is not None if is_time is None else is_time
        if is_time and time is None:
            continue
        x = time if is_time and time is not None else float(index)
        if is_time and last is not None and gaps.is_gap(x - last):
            for series in (*usage.values(), *requests.values()):
                series.mark_gap()
        last = x
        _add(usage, pools, record, x)
        _add(requests, REQUEST_SERIES, record, x)
    if is_time is None:
        raise ValueError(NO_BATCH_RECORDS)
    return usage, requests, is_time


def _add(series: dict[str, Series], names: dict[str, str], record: LogRecord, x: float) -> None:
    for name, field in names.items():
        value = record.fields.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            series.setdefault(name, Series()).add(x, float(value))


def typical_interval(series: Iterable[Series]) -> float:
    """The median interval between consecutive points of a line that do not span a break (0
    when there is none): how long a value before a break is held."""
    intervals = [
        b - a
        for s in series
        for a, b, is_break in zip(s.xs, s.xs[1:], s.breaks, strict=False)
        if not is_break
    ]
    return statistics.median(intervals) if intervals else 0.0


def figure(records: Iterable[LogRecord], *, title: str | None = None) -> Figure:
    """The two-panel figure (usage per pool above, requests below). Raises ValueError when
    `records` holds no batch record, MissingExtra without matplotlib."""
    require_extra("matplotlib", "plot", "poolscope logs plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from telemetry.logs.plot_style import draw_lines, format_time_axis

    usage, requests, is_time = collect(records)
    hold = typical_interval((*usage.values(), *requests.values()))
    fig = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    draw_lines(top, {name: s.line(hold) for name, s in usage.items()}, is_time)
    top.axhline(HIGH_USAGE, color="grey", linestyle="--", linewidth=0.8)
    top.set_ylabel("usage")
    top.set_ylim(-0.03, 1.03)  # a line at 0 or 1 is not hidden by the frame
    draw_lines(bottom, {name: s.line(hold) for name, s in requests.items()}, is_time, step=True)
    bottom.set_ylabel("requests")
    bottom.set_ylim(bottom=-0.5)
    format_time_axis(bottom, is_time)
    if title:
        top.set_title(title)
    return fig


def plot(records: Iterable[LogRecord], out_png: str | Path, *, title: str | None = None) -> Figure:
    """Writes the two-panel PNG to `out_png` and returns its figure. Raises ValueError when
    `records` holds no batch record, OSError when the file cannot be written."""
    fig = figure(records, title=title)
    fig.savefig(out_png, dpi=100)
    return fig
