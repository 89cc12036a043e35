"""`poolscope deploy build [--check] [--out DIR]`: the Kubernetes manifests (kustomize base and
overlays) and long-term-store configuration under deploy/k8s/, generated from the same builders
as dashboards/generated/. It imports no engine code (torch), so it runs at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

BUILD_HELP = """\
Writes deploy/k8s/: base/ (the runtime's Deployment, Service, PodMonitor), monitoring/ (the rule
file as a PrometheusRule, the dashboard as a ConfigMap for kube-prometheus-stack's Grafana
sidecar, the Alertmanager routes as an AlertmanagerConfig, the alert sink), overlays/poolscope,
gpu, otlp and sglang, kube-prometheus-stack values, and remote-write/ configuration for Mimir and
Thanos. See docs/kubernetes.md.

--check writes nothing and exits 1 when a file under the output folder differs from what the
build would write, is missing, or is no longer written (CI runs it)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy", help="generate Kubernetes manifests (deploy/k8s/)")
    verbs = p.add_subparsers(dest="deploy_verb", required=True)
    build = verbs.add_parser(
        "build", help="write deploy/k8s/ from the dashboards' builders", description=BUILD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="output folder (default: deploy/k8s/)")
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 when the files are stale")
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    from deployment.k8s_build import DEPLOY_K8S, stale, write

    out = args.out or DEPLOY_K8S
    if args.check:
        names = stale(out)
        for name in names:
            print(f"poolscope: stale: {out / name}", file=sys.stderr)
        if names:
            print("poolscope: run `poolscope deploy build` and commit", file=sys.stderr)
        return 1 if names else 0
    for path in write(out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: Sequence[str]) -> int:
    """`poolscope deploy ARGV...` on its own parser, so that no engine code (torch) is imported."""
    parser = argparse.ArgumentParser(prog="poolscope")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["deploy", *argv])
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return 2
