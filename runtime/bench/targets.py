"""The targets table of one `poolscope bench` run: every target of every benchmark that ran, side
by side with its verdict (`met` / `MISSED`), printed at the end of the run and written to
`targets.json`. A missed target keeps the line its benchmark gave about what limits it.
"""

from __future__ import annotations

from typing import TextIO

from runtime.bench.report import BenchResult, print_table

# Issue 20's targets first, in its order; then the other benchmarks' in run order.
ISSUE_ORDER = ("telemetry", "scrape", "decode", "throughput")
COLUMNS = ["benchmark", "target", "value", "limit", "verdict"]


def _rank(result: BenchResult) -> int:
    name = result.name
    return ISSUE_ORDER.index(name) if name in ISSUE_ORDER else len(ISSUE_ORDER)


def targets_table(results: list[BenchResult]) -> BenchResult:
    """One row per target of `results`: its value, its limit and whether the value meets it."""
    rows = []
    for result in sorted(results, key=_rank):
        for target in result.targets:
            rows.append({
                "benchmark": result.name, "target": target.name, "value": target.value,
                "limit": f"{target.op} {target.limit:g}",
                "verdict": "met" if target.is_met else "MISSED",
                "limited by": "" if target.is_met else target.note,
            })
    missed = sum(row["verdict"] == "MISSED" for row in rows)
    details = {"benchmarks": [r.name for r in results], "num_targets": len(rows),
               "num_missed": missed}
    return BenchResult("targets", COLUMNS, rows, [], details,
                       is_quick=any(r.is_quick for r in results))


def print_targets(table: BenchResult, out: TextIO) -> None:
    """The table, then one line per missed target saying what limits it."""
    if not table.rows:
        print(f"\n## targets: none in {', '.join(table.details['benchmarks'])}", file=out)
        return
    print_table(table, out)
    for row in table.rows:
        if row["verdict"] == "MISSED" and row["limited by"]:
            print(f"MISSED {row['target']}: {row['limited by']}", file=out)
