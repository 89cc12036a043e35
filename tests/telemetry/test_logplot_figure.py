"""Tests for the figure `telemetry.logs.plot` draws, read from its matplotlib lines (not pixels):
clock-time x axis, lines broken at idle gaps, and equal series kept visible."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from matplotlib.lines import Line2D

from telemetry import catalog
from telemetry.logs.plot import Series, collect, figure
from telemetry.logs.record import LogRecord

DECODE = catalog.DECODE_BATCH.name
START = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def _record(at: datetime | None, usage: float, running: int, zone: bool = False) -> LogRecord:
    stamp = None if at is None else at.isoformat() if zone else at.replace(tzinfo=None).isoformat()
    fields = {"token_usage": usage, "full_token_usage": usage, "swa_token_usage": usage,
              "mamba_usage": 0.0, "running_req": running, "queue_req": running}
    return LogRecord(DECODE, "sglang", stamp, fields)


def _burst(first: datetime, num: int, every_s: float = 1.0) -> list[LogRecord]:
    return [_record(first + timedelta(seconds=i * every_s), 0.5, 7) for i in range(num)]


def _lines(records: list[LogRecord]) -> dict[str, Line2D]:
    fig = figure(records)
    return {str(line.get_label()): line for ax in fig.axes for line in ax.get_lines()
            if not str(line.get_label()).startswith("_")}


def _nan_at(line: Line2D) -> list[int]:
    return [i for i, y in enumerate(line.get_ydata()) if math.isnan(float(y))]


def test_x_axis_is_clock_time() -> None:
    """With timestamps every line's x data are UTC datetimes equal to the log's clock times."""
    records = _burst(START, 5)
    for line in _lines(records).values():
        xs = list(line.get_xdata())
        assert xs[0] == START and xs[-1] == START + timedelta(seconds=4)
        assert all(isinstance(x, datetime) and x.tzinfo is not None for x in xs)


def test_zoned_and_naive_timestamps_give_the_same_clock_time() -> None:
    """A timestamp with a zone and one without (taken as UTC) land on the same x."""
    zoned = [_record(START + timedelta(seconds=i), 0.5, 1, zone=True) for i in range(3)]
    assert list(_lines(zoned)["token"].get_xdata()) == list(_lines(_burst(START, 3))["token"]
                                                           .get_xdata())


def test_every_line_breaks_at_an_idle_gap_and_holds_one_interval_only() -> None:
    """Ten idle minutes between two bursts put one NaN in every line, one log interval after
    the last record before the gap, so no line (running included) crosses the idle time."""
    before, after = _burst(START, 20), _burst(START + timedelta(minutes=10), 20)
    lines = _lines(before + after)
    assert set(lines) >= {"token", "full", "swa", "mamba", "running", "queued"}
    for name, line in lines.items():
        (gap,) = _nan_at(line)
        xs = list(line.get_xdata())
        assert xs[gap - 1] == START + timedelta(seconds=19), name
        assert xs[gap] == START + timedelta(seconds=20), name  # held one interval (1 s)
        assert xs[gap + 1] == START + timedelta(minutes=10), name
    assert lines["running"].get_drawstyle() == "steps-post"


def test_steady_slow_logs_and_second_resolution_bursts_do_not_break() -> None:
    """A log line every 12 s throughout, or many lines sharing one-second timestamps with
    short pauses, is one unbroken line."""
    slow = _burst(START, 30, every_s=12.0)
    assert not any(_nan_at(line) for line in _lines(slow).values())
    coarse = [_record(START + timedelta(seconds=i // 5 * 2), 0.5, 3) for i in range(100)]
    assert not any(_nan_at(line) for line in _lines(coarse).values())


def test_records_without_timestamps_use_the_index_and_never_break() -> None:
    """Without timestamps x is the record index and there is nothing to call a gap."""
    records = [_record(None, 0.5, 2) for _ in range(10)]
    line = _lines(records)["running"]
    assert list(line.get_xdata()) == [float(i) for i in range(10)] and not _nan_at(line)


def test_equal_series_stay_visible() -> None:
    """Series with equal values (token, full and swa usage; running and queued) are drawn with
    distinct line style and marker pairs, each later one no wider and above the earlier."""
    fig = figure(_burst(START, 30))
    for ax in fig.axes:
        lines = [line for line in ax.get_lines() if not str(line.get_label()).startswith("_")]
        assert len(lines) >= 2
        styles = {(line.get_linestyle(), line.get_marker()) for line in lines}
        assert len(styles) == len(lines)
        for earlier, later in zip(lines, lines[1:], strict=False):
            assert later.get_linewidth() <= earlier.get_linewidth()
            assert later.get_zorder() > earlier.get_zorder()
        assert ax.get_ylim()[0] < 0  # a line at 0 is not drawn on the frame


def test_breaks_survive_downsampling() -> None:
    """A series past its cap keeps every break whose idle time a merged point does not hide."""
    series = Series(cap=8)
    for burst in range(3):
        for i in range(10):
            series.add(burst * 1000.0 + i, float(i))
        series.mark_gap()
    xs, ys = series.line(hold=1.0)
    assert len(series.xs) <= 8
    breaks = [x for x, y in zip(xs, ys, strict=True) if math.isnan(y)]
    assert len(breaks) == 2 and breaks[0] < 1000 < breaks[1] < 2000


def test_collect_marks_the_gap_in_every_series() -> None:
    """collect flags the point before the idle time in the usage and the request series."""
    usage, requests, _ = collect(_burst(START, 10) + _burst(START + timedelta(hours=1), 10))
    for series in (*usage.values(), *requests.values()):
        assert series.breaks.count(True) == 1 and series.breaks.index(True) == 9
