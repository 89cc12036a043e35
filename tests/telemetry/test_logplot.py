"""Tests for telemetry.logs.plot: a PNG of usage and requests, drawn in bounded memory."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from telemetry import catalog
from telemetry.logs.plot import NO_BATCH_RECORDS, Series, collect, plot
from telemetry.logs.record import LogRecord

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DECODE = catalog.DECODE_BATCH.name


def _records(num: int, *, timed: bool = True) -> list[LogRecord]:
    return [
        LogRecord(DECODE, "sglang", f"2026-11-21T10:{i // 60:02d}:{i % 60:02d}" if timed else None,
                  {"token_usage": (i % 10) / 10, "mamba_usage": 0.5, "running_req": i % 7,
                   "queue_req": i % 3})
        for i in range(num)
    ]


def test_plot_writes_a_png(tmp_path: Path) -> None:
    """plot writes a non-empty file with the PNG signature and returns the figure drawn."""
    out = tmp_path / "usage.png"
    fig = plot(iter(_records(50)), out, title="test")
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > len(PNG_SIGNATURE)
    assert fig.axes[0].get_title() == "test"


def test_no_batch_records_raise_value_error(tmp_path: Path) -> None:
    """A log without batch records raises a ValueError naming what is missing."""
    leak = LogRecord(catalog.MEMORY_LEAK.name, "sglang", None, {"pool": "full"})
    with pytest.raises(ValueError, match=NO_BATCH_RECORDS):
        plot([leak], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_x_is_time_with_timestamps_and_index_without() -> None:
    """x is epoch seconds with timestamps (naive ones as UTC), else the record index."""
    usage, requests, is_time = collect(_records(3))
    start = datetime(2026, 11, 21, 10, tzinfo=UTC).timestamp()
    assert is_time and usage["token"].points()[0] == [start, start + 1, start + 2]
    usage, requests, is_time = collect(_records(3, timed=False))
    assert not is_time and requests["queued"].points() == ([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])


def test_series_stays_bounded_and_keeps_peaks() -> None:
    """A series fed many more samples than its cap keeps at most cap points and the maximum."""
    series = Series(cap=100)
    for i in range(10_000):
        series.add(float(i), 5.0 if i == 7_777 else 1.0)
    xs, ys = series.points()
    assert len(xs) <= 100 and max(ys) == 5.0
    assert xs == sorted(xs) and xs[0] == 0.0


def test_importing_logplot_does_not_import_matplotlib() -> None:
    """Importing the module is cheap: matplotlib loads only when plot() runs."""
    code = "import sys, telemetry.logs.plot; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
