"""How `telemetry.logs.plot` draws its lines: a distinct style per line so that equal series stay
visible, and a clock-time x axis. Imported by `logplot.figure` only (it imports matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("", "o", "s", "^", "v", "D")
WIDEST = 3.0
NARROWEST = 0.8
MARKS_PER_LINE = 12  # markers are sparse: they name a line, they are not samples
TIME_LABEL = "time (UTC; a log time without a zone is taken as UTC)"
INDEX_LABEL = "batch record"

Line = tuple[Sequence[float], Sequence[float]]


def line_style(index: int, num_lines: int) -> dict[str, object]:
    """The style of the index-th of num_lines lines: each (line style, marker) pair differs, and
    a later line is never wider than an earlier one and is drawn above it, so a line that equals
    an earlier one shows on top of it instead of hiding it."""
    step = (WIDEST - NARROWEST) / max(num_lines - 1, 1)
    marker = MARKERS[(index // len(LINE_STYLES)) % len(MARKERS)]
    return {
        "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
        "linewidth": WIDEST - step * index,
        "marker": marker,
        "markevery": 1 / MARKS_PER_LINE if marker else None,
        "markersize": 4,
        "zorder": 2 + index,
    }


def draw_lines(axes: Axes, lines: Mapping[str, Line], is_time: bool, step: bool = False) -> None:
    """Draws each named line (x in epoch seconds when `is_time`), with a legend and a grid."""
    for index, (name, (xs, ys)) in enumerate(lines.items()):
        x = [datetime.fromtimestamp(v, UTC) for v in xs] if is_time else list(xs)
        style = line_style(index, len(lines))
        if step:
            style["drawstyle"] = "steps-post"
        axes.plot(x, list(ys), label=name, **style)
    if lines:
        axes.legend(loc="best", fontsize="small")  # never over a line if avoidable
    axes.grid(True, linewidth=0.3)


def format_time_axis(axes: Axes, is_time: bool) -> None:
    """Clock time with concise labels (dates only where they change), or the record index."""
    if not is_time:
        axes.set_xlabel(INDEX_LABEL)
        return
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=UTC))
    axes.set_xlabel(TIME_LABEL)
