"""The targets table of a `poolscope bench` run: verdicts from the figures it is given."""

from __future__ import annotations

import io
import json
from pathlib import Path

from runtime.bench.report import BenchResult, Target
from runtime.bench.targets import print_targets, targets_table
from runtime.cli.main import main


def _result(name: str, *targets: Target) -> BenchResult:
    return BenchResult(name, ["x"], [{"x": 1}], list(targets))


def test_table_marks_each_target_from_its_value() -> None:
    """Each target's verdict follows its own value and limit, issue 20's benchmarks come first,
    and only a missed target keeps the line about what limits it."""
    results = [
        _result("mamba", Target("peak ratio", 1.5, ">=", 1.4, "slots")),
        _result("decode", Target("host ms", 2.5, "<=", 2.0, "cProfile top: step 1 ms"),
                Target("roofline", 0.6, ">=", 0.5, "unused")),
        _result("telemetry", Target("on %", 0.9, "<=", 1.0, "unused")),
    ]
    table = targets_table(results)
    verdicts = [(r["benchmark"], r["target"], r["verdict"]) for r in table.rows]
    assert verdicts == [("telemetry", "on %", "met"), ("decode", "host ms", "MISSED"),
                        ("decode", "roofline", "met"), ("mamba", "peak ratio", "met")]
    assert [r["limited by"] for r in table.rows] == ["", "cProfile top: step 1 ms", "", ""]
    assert table.details["num_missed"] == 1 and table.details["num_targets"] == 4
    out = io.StringIO()
    print_targets(table, out)
    assert "MISSED host ms: cProfile top: step 1 ms" in out.getvalue()
    assert "| telemetry | on %" in out.getvalue()


def test_the_same_figure_flips_with_the_limit() -> None:
    """A value just over a `<=` limit is MISSED and just under it met: nothing is fixed."""
    over = targets_table([_result("scrape", Target("p50", 3.01, "<=", 3.0))])
    under = targets_table([_result("scrape", Target("p50", 2.99, "<=", 3.0))])
    assert over.rows[0]["verdict"] == "MISSED" and under.rows[0]["verdict"] == "met"


def test_a_subset_run_writes_the_targets_it_has(tmp_path: Path) -> None:
    """`poolscope bench parser --quick` ends with a targets table holding the parser's targets
    only, in targets.json, each with its verdict."""
    assert main(["bench", "parser", "--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "targets.json").read_text())
    parser = json.loads((tmp_path / "parser.json").read_text())
    assert data["details"]["benchmarks"] == ["parser"]
    assert [r["target"] for r in data["rows"]] == [t["name"] for t in parser["targets"]]
    assert [r["verdict"] == "met" for r in data["rows"]] == [t["met"] for t in parser["targets"]]
