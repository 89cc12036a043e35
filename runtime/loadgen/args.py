"""The `poolscope loadgen` verb: its flags, their mapping onto LoadgenConfig, and its entry point.

poolscope loadgen --url http://127.0.0.1:8000 --concurrency 8 --duration 60 --prompt-len 512

Only light modules are imported at the top, so registering the verb keeps `--help` instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.loadgen.lengths import LengthDist, LengthSpec
from runtime.loadgen.workload import DEFAULT_URL, LoadgenConfig

if TYPE_CHECKING:
    from runtime.loadgen.report import Summary

DEFAULT_CONCURRENCY = 4  # closed loop only; with --request-rate the default is no cap


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


@dataclass(frozen=True)
class _Flag:
    """One flag that maps straight onto the LoadgenConfig field `field`."""

    flag: str
    field: str
    type: Callable[[str], object]
    default: object
    help: str


_FLAGS: tuple[_Flag, ...] = (
    _Flag("--url", "url", str, DEFAULT_URL, "server base URL"),
    _Flag("--model", "model", str, None, "model name to send (default: the server's default)"),
    _Flag("--concurrency", "concurrency", int, None,
          f"closed loop: workers (default {DEFAULT_CONCURRENCY}); "
          "with --request-rate: cap on requests in flight (default none)"),
    _Flag("--request-rate", "request_rate", float, None,
          "open loop: Poisson arrivals, conversations per second (default: closed loop)"),
    _Flag("--duration", "duration_s", float, 30.0, "seconds to issue new requests for"),
    _Flag("--max-requests", "max_requests", int, None, "stop after this many requests"),
    _Flag("--shared-prefix-share", "shared_prefix_share", float, 0.0,
          "fraction of conversations whose prompt starts with one common prefix"),
    _Flag("--shared-prefix-len", "shared_prefix_len", int, 32,
          "tokens in the common prefix (prepended to the sampled prompt)"),
    _Flag("--session-share", "session_share", float, 0.0,
          "fraction of conversations run as streaming sessions"),
    _Flag("--session-turns", "session_turns", int, 3, "requests per session, sent in order"),
    _Flag("--seed", "seed", int, 0, "seed of the workload (prompts, lengths, arrivals)"),
    _Flag("--api-key", "api_key", str, None, "sent as 'Authorization: Bearer KEY'"),
    _Flag("--timeout", "timeout_s", float, 60.0,
          "seconds one request may take; also the wait for requests in flight at the end"),
    _Flag("--json", "json_path", _optional_path, None,
          "write the JSON report to this file (default: none)"),
    _Flag("--max-failure-rate", "max_failure_rate", float, 0.01,
          "exit 1 when more than this share of the requests failed"),
    _Flag("--max-connect-errors", "max_connect_errors", int, 10,
          "stop the run after this many connection errors in a row (server gone)"),
)

_LENGTHS = (
    ("prompt", 64, "tokens of the served model (counted through its API before the run)"),
    ("output", 32, "tokens"),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the `loadgen` verb, with `run=run_loadgen`, to the CLI's subparsers."""
    p = sub.add_parser(
        "loadgen",
        help="HTTP load generator for the OpenAI-compatible server",
        description="Streams completions at the server, closed or open loop, and reports "
        "throughput and TTFT / ITL / E2E latency percentiles.",
    )
    for flag in _FLAGS:
        shown = "" if flag.default is None else f" (default: {flag.default})"
        metavar = flag.flag.removeprefix("--").upper().replace("-", "_")
        p.add_argument(flag.flag, dest=flag.field, type=flag.type, default=flag.default,
                       metavar=metavar, help=flag.help + shown)
    for name, mean, unit in _LENGTHS:
        p.add_argument(f"--{name}-len", type=int, default=mean, metavar="N",
                       help=f"mean {name} length, {unit} (default: {mean})")
        p.add_argument(
            f"--{name}-len-dist",
            default="fixed",
            choices=[d.value for d in LengthDist],
            help=f"{name} length distribution (default: fixed)",
        )
        p.add_argument(
            f"--{name}-len-spread",
            type=float,
            default=0.5,
            metavar="RATIO",
            help=f"uniform only: {name} lengths span mean * (1 ± RATIO) (default: 0.5)",
        )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run_loadgen)


def config_from_args(args: argparse.Namespace) -> LoadgenConfig:
    """The LoadgenConfig the parsed flags describe. Raises ValueError on invalid values."""
    values = {flag.field: getattr(args, flag.field) for flag in _FLAGS}
    if values["concurrency"] is None and values["request_rate"] is None:
        values["concurrency"] = DEFAULT_CONCURRENCY
    for name, _, _ in _LENGTHS:
        dist = LengthDist(getattr(args, f"{name}_len_dist"))
        mean, spread = getattr(args, f"{name}_len"), getattr(args, f"{name}_len_spread")
        values[f"{name}_len"] = LengthSpec(mean, dist, spread)
    return LoadgenConfig(**values)


def run_loadgen(args: argparse.Namespace) -> int:
    """Runs the load, prints the table, writes the JSON report.

    Returns 0, or 1 (one `poolscope: error:` line on stderr, no traceback) when the server
    cannot be reached, the run stopped after a run of connection errors, no request succeeded,
    or the share of failed requests is above `--max-failure-rate`. Invalid flags raise
    ValueError, which the CLI turns into one error line.
    """
    import asyncio

    from runtime.loadgen.client import ServerUnreachable
    from runtime.loadgen.runner import run

    config = config_from_args(args)
    is_progress_shown = not args.no_progress and sys.stderr.isatty()
    try:
        summary = asyncio.run(run(config, is_progress_shown=is_progress_shown))
    except ServerUnreachable as exc:
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("poolscope: loadgen interrupted; no report written", file=sys.stderr)
        return 130
    summary.print_table()
    if config.json_path is not None:
        summary.write_json(config.json_path)
        print(f"report written to {config.json_path}")
    problem = _failure(summary)
    if problem is not None:
        print(f"poolscope: error: {problem}", file=sys.stderr)
        return 1
    return 0


def _failure(summary: Summary) -> str | None:
    """Why the run counts as failed, in one line; None when it passed."""
    top = f" (most common: {summary.errors[0][0]})" if summary.errors else ""
    num_failed, limit = summary.num_requests_failed, summary.config.max_failure_rate
    if summary.stop_reason is not None:
        return f"loadgen {summary.stop_reason}; {num_failed} failed in all"
    if summary.num_requests_ok == 0:
        return f"no request succeeded, {num_failed} failed{top}"
    if summary.failure_rate > limit:
        num = summary.num_requests_ok + num_failed
        return (f"{num_failed} of {num} requests failed ({summary.failure_rate:.1%}, above "
                f"--max-failure-rate {limit:g}){top}")
    return None
