"""The benchmark report: spreads, target verdicts, the printed table and the JSON file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from runtime.bench.report import BenchResult, Machine, Spread, Target, print_table, write_json


def test_spread_is_median_min_max() -> None:
    """Spread keeps the median, the extremes and the count; relative spread is the half-range."""
    spread = Spread.of([3.0, 1.0, 2.0, 10.0])
    assert (spread.median, spread.min, spread.max, spread.n) == (2.5, 1.0, 10.0, 4)
    assert spread.rel_spread == pytest.approx(4.5 / 2.5)
    with pytest.raises(ValueError):
        Spread.of([])


def test_targets_say_met_or_missed_with_the_note() -> None:
    """A target compares its value both ways and names what limits it only when missed."""
    assert Target("a", 2.0, ">=", 1.0).is_met and not Target("a", 2.0, "<=", 1.0).is_met
    assert Target("b", 0.5, ">=", 1.0, "python").line() == "MISSED b: 0.5 >= 1 (python)"
    assert Target("c", 1.5, ">=", 1.0, "python").line() == "met    c: 1.5 >= 1"


def test_table_and_json_carry_rows_targets_and_machine(tmp_path: Path) -> None:
    """The table lists every row under its columns and every target; the JSON file holds the
    machine, rows, targets with their verdict, and details."""
    result = BenchResult("demo", ["name", "rate"], [{"name": "x", "rate": 123456.7}],
                         [Target("rate", 123456.7, ">=", 1e6, "slow")], {"k": 1})
    out = io.StringIO()
    print_table(result, out)
    text = out.getvalue()
    assert "| x    | 123,457 |" in text and "MISSED rate" in text
    path = write_json(result, Machine.here(), 1.234, tmp_path)
    data = json.loads(path.read_text())
    assert data["bench"] == "demo" and data["machine"]["cores"] >= 1
    assert data["targets"][0]["met"] is False and data["details"] == {"k": 1}
    assert data["seconds"] == 1.23
