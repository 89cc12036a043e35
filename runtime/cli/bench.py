"""`poolscope bench [NAME ...] [--quick] [--out DIR]`: run benchmarks, print tables, write JSON.

Benchmarks report; they never fail on a missed target (the table says MISSED and why) unless
`--strict` is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from runtime.bench.registry import BENCHES

DEFAULT_OUT = Path("bench/results")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run benchmarks: print tables, write JSON")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"benchmarks to run (default: all): {', '.join(BENCHES)}")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, one repeat: checks that it runs, not speed")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"folder for <name>.json (default: {DEFAULT_OUT})")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from runtime.bench.registry import runner
    from runtime.bench.report import Machine, print_table, write_json
    from runtime.bench.targets import print_targets, targets_table

    names = args.names or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"poolscope: error: unknown benchmark(s) {', '.join(unknown)}; known: "
              f"{', '.join(BENCHES)}", file=sys.stderr)
        return 2
    machine, results = Machine.here(), []
    print(f"machine: {machine}", file=sys.stdout)
    run_start = time.perf_counter()
    for name in names:
        start = time.perf_counter()
        result = runner(name)(args.quick)
        seconds = time.perf_counter() - start
        print_table(result, sys.stdout)
        path = write_json(result, machine, seconds, args.out)
        print(f"({seconds:.1f} s; wrote {path})", file=sys.stdout, flush=True)
        results.append(result)
    table = targets_table(results)  # every target of this run side by side
    print_targets(table, sys.stdout)
    path = write_json(table, machine, time.perf_counter() - run_start, args.out)
    print(f"(wrote {path})", file=sys.stdout, flush=True)
    return 1 if args.strict and table.details["num_missed"] else 0
