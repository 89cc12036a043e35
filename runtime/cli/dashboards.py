"""`poolscope dashboards build [--source poolscope|sglang] [--prefix P] [--out DIR] [--check]`:
generated dashboards and alert rules. `poolscope dashboards sglang-target URL... [--out FILE]`:
Prometheus file_sd targets for SGLang servers (what compose.sglang.yaml's Prometheus reads)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BUILD_HELP = """\
Without --source, writes everything dashboards/generated/ holds and the compose files mount:
poolscope's dashboard and rules, the Prometheus, Alertmanager and Grafana files, and the SGLang
dashboard, rules and Prometheus configuration under dashboards/generated/sglang/ (prefix
'sglang:').

--source sglang writes only the "SGLang serving memory" dashboard
(sglang/sglang-serving-memory.json, uid sglang-serving-memory) and its rule file
(sglang/sglang-alerts.rules.yml, group sglang-memory), built from SGLang's own metric names,
and compose.sglang.yaml's Prometheus configuration (sglang/prometheus-sglang.yml).
SGLang's code names them 'sglang:...'; if your Prometheus stores them as 'sglang_...', give
--prefix sglang_ together with --out DIR: the committed files under dashboards/generated/ keep
the default prefix, so that variant goes to DIR/sglang/ instead.

--check writes nothing and exits 1 when a file under the output folder differs from what the
build would write (CI runs it with no other option)."""

SGLANG_TARGET_HELP = """\
Writes Prometheus file-based discovery (file_sd) JSON for SGLang servers: one target group per
URL, with the scheme, the metrics path (the URL's path + /metrics) and instance (host:port, plus
that path) as labels; the scrape config that reads the file names the job. The file is replaced
atomically, so a Prometheus watching it never reads half of it. compose.sglang.yaml runs this
with $SGLANG_URL. A bad URL is one error line and exit 2.

  poolscope dashboards sglang-target http://gpu-3:30000 --out targets/sglang.json"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from telemetry.sglang.catalog import PREFIXES  # reads a small TSV; no dashboards import

    p = sub.add_parser("dashboards", help="generate Grafana dashboards and alert rules")
    verbs = p.add_subparsers(dest="dashboards_verb", required=True)
    build = verbs.add_parser(
        "build", help="write dashboards/generated/ from the catalogs", description=BUILD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument(
        "--source",
        choices=("poolscope", "sglang"),
        default=None,
        help="only poolscope's files, or only SGLang's (default: both)",
    )
    build.add_argument(
        "--prefix",
        choices=PREFIXES,
        default=None,
        help="SGLang metric prefix, with --source sglang (default: sglang:)",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: dashboards/generated/)",
    )
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 when the files are stale")
    build.set_defaults(run=run_build)
    _add_sglang_target(verbs)


def _add_sglang_target(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "sglang-target", help="write Prometheus file_sd targets for SGLang servers",
        description=SGLANG_TARGET_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("urls", nargs="+", metavar="URL",
                   help="an SGLang server's base URL: http[s]://HOST[:PORT][/PATH]")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="the file_sd JSON file to write (default: print it)")
    p.set_defaults(run=run_sglang_target)


def _usage_error(message: str) -> int:
    print(f"poolscope dashboards build: error: {message}", file=sys.stderr)
    return 2


def run_build(args: argparse.Namespace) -> int:
    from dashboards.build import GENERATED, generated_files, stale, write
    from telemetry.sglang.catalog import DEFAULT_PREFIX

    prefix = args.prefix or DEFAULT_PREFIX
    if args.prefix is not None and args.source != "sglang":
        return _usage_error("--prefix applies to --source sglang only")
    if prefix != DEFAULT_PREFIX and args.out is None:
        return _usage_error(
            f"--prefix {prefix} needs --out DIR: dashboards/generated/ holds the "
            f"{DEFAULT_PREFIX} files that compose mounts and --check compares"
        )
    out = args.out or GENERATED
    files = generated_files(args.source, prefix)
    if args.check:
        names = stale(out, files)
        for name in names:
            print(f"poolscope: stale: {out / name}", file=sys.stderr)
        if names:
            print("poolscope: run `poolscope dashboards build` with the same options and commit",
                  file=sys.stderr)
        return 1 if names else 0
    for path in write(out, files):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def run_sglang_target(args: argparse.Namespace) -> int:
    """Raises ValueError for a bad URL (the CLI's one error line, exit 2) before writing."""
    import json

    from dashboards.sglang_targets import file_sd_document, parse_url, write_file_sd

    targets = [parse_url(url) for url in args.urls]
    for target in targets:
        if target.is_loopback:
            print(f"poolscope: warning: {target.host} is the machine (or container) Prometheus "
                  "runs on; from a container, reach the host as host.docker.internal",
                  file=sys.stderr)
    if args.out is None:
        print(json.dumps(file_sd_document(targets), indent=2))
        return 0
    write_file_sd(args.out, targets)
    scraped = ", ".join(f"{t.scheme}://{t.address}{t.metrics_path}" for t in targets)
    print(f"poolscope: wrote {args.out}: {scraped}", file=sys.stderr)
    return 0
