"""`poolscope dashboards build [--check]`: generated dashboards and alert rules."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboards", help="generate Grafana dashboards and alert rules")
    verbs = p.add_subparsers(dest="dashboards_verb", required=True)
    build = verbs.add_parser("build", help="write dashboards/generated/ from the catalog")
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 when the committed files are stale")  # fmt: skip
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    from dashboards.build import GENERATED, stale, write

    if args.check:
        names = stale()
        for name in names:
            print(f"poolscope: stale: {GENERATED / name}", file=sys.stderr)
        if names:
            print("poolscope: run `poolscope dashboards build` and commit", file=sys.stderr)
        return 1 if names else 0
    for path in write():
        print(f"wrote {path}", file=sys.stderr)
    return 0
