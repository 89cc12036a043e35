"""Parser benchmark: lines per second of `iter_records` (one process, wall time) for each layout it
reads. Targets (issue 7, issue 16): >= 200k lines/s for JSON, >= 100k lines/s for every SGLang text
form, each printed met or MISSED."""

from __future__ import annotations

import time

from runtime.bench.log_lines import FORMATS, lines
from runtime.bench.report import BenchResult, Spread, Target
from telemetry.logs.parse import LineCounts, iter_records

JSON_TARGET, TEXT_TARGET = 200_000, 100_000
SGLANG_TEXT = tuple(layout for layout in FORMATS if layout.startswith("sglang_"))


def _parse_s(layout_lines: list[str]) -> float:
    stats = LineCounts()
    start = time.perf_counter()
    for _record in iter_records(layout_lines, stats):
        pass
    seconds = time.perf_counter() - start
    if stats.num_records != len(layout_lines):  # the benchmark must time real parsing
        raise RuntimeError(f"only {stats.num_records} of {len(layout_lines)} lines parsed")
    return seconds


def run(quick: bool) -> BenchResult:
    num_lines, repeats = (2_000, 1) if quick else (100_000, 3)
    rows, rates = [], {}
    for layout in FORMATS:
        sample = lines(layout, num_lines)
        _parse_s(sample[: num_lines // 10])  # warm-up
        spread = Spread.of([num_lines / _parse_s(sample) for _ in range(repeats)])
        rates[layout] = spread.median
        rows.append({"layout": layout, "lines": num_lines, "lines/s (median)": spread.median,
                     "min": spread.min, "max": spread.max, "repeats": repeats})
    note = ("Python work per line (cProfile): one whole-line template fullmatch, int/float of "
            "each value, the dict of typed values, the timestamp, the record")
    targets = [Target("JSON lines/s", rates["poolscope_json"], ">=", JSON_TARGET)]
    targets += [
        Target(f"SGLang text lines/s ({layout})", rates[layout], ">=", TEXT_TARGET, note)
        for layout in SGLANG_TEXT
    ]
    columns = ["layout", "lines", "lines/s (median)", "min", "max", "repeats"]
    return BenchResult("parser", columns, rows, targets, is_quick=quick)
