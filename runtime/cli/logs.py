"""The `poolscope logs` verb: read a log file (our JSON or text layout, or SGLang's lines) and
convert it to JSON records, summarise it, plot it, or serve it as Prometheus metrics.

poolscope logs convert server.log -o records.jsonl
poolscope logs summary server.log
poolscope logs plot server.log -o usage.png
poolscope logs export sglang.log --follow --port 9466 --source node-3
poolscope logs export '/var/log/pods/*_sglang*_*/*/*.log' --follow   # every SGLang pod's log

`export` serves what the log says on `http://HOST:PORT/metrics` (loopback and port 9466 unless
told): per-pool usage and used slots (HiSparse gpu/cpu tokens as the full/host pools, SWA and
mamba parts), token_usage, running/queued requests, throughput, prompt and cached tokens, and
each leak message as `poolscope_memory_leaks_total{pool,kind}`, so poolscope's alerts fire on an
SGLang deployment; every series carries `source` (default: the file name), and lines are counted
by result. With `--follow` it reads like `tail -F` (from the end unless `--from-start`; across
rotation and truncation; waiting for a missing file); without it, it reads the file once and
keeps serving the final figures. Either way it runs until SIGTERM or Ctrl-C, then closes the
server and exits 0. Its JSON log events (started, file switched, stopped) go to stdout. A FILE
with glob characters (quoted, so that the shell leaves it) names every file it matches, new ones
picked up, each with its own `source` from its path (a Kubernetes pod log: namespace/pod/container).

Every command reads lines as Kubernetes (CRI) and Docker (json-file) write a container's output
too, told apart per line, partial lines joined (`telemetry/logs/unwrap.py`).

Only telemetry modules are imported, and only when a command runs: `poolscope logs` loads no
engine and no torch. Parse counts go to stderr; a missing file is one error line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telemetry.logs.parse import LineCounts, LogRecord


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Adds the `logs` verb and its commands (convert, summary, plot, export), each with `run`."""
    p = sub.add_parser(
        "logs",
        help="convert, summarise, plot or export a log (poolscope's or SGLang's)",
        description="Reads batch and leak events from a log: poolscope JSON or text lines, or "
        "SGLang's text lines of any version (.gz files too), bare or as Kubernetes (CRI) or "
        "Docker (json-file) container logs hold them.",
    )
    commands = p.add_subparsers(dest="logs_command", required=True, metavar="COMMAND")
    convert = commands.add_parser("convert", help="write one JSON record per batch or leak line")
    _add_file(convert)
    convert.add_argument("-o", "--out", type=Path, default=None, metavar="OUT.jsonl",
                         help="output file (default: stdout)")
    convert.set_defaults(run=run_convert)
    summary = commands.add_parser("summary", help="print usage, leak and request figures per pool")
    _add_file(summary)
    summary.set_defaults(run=run_summary)
    plot = commands.add_parser("plot", help="draw usage per pool and requests over time as PNG")
    _add_file(plot)
    plot.add_argument("-o", "--out", type=Path, required=True, metavar="PNG", help="output PNG")
    plot.set_defaults(run=run_plot)
    _add_export(commands)


def _add_export(commands: argparse._SubParsersAction) -> None:
    from telemetry.export.settings import DEFAULT_HOST, DEFAULT_PORT

    p = commands.add_parser(
        "export", help="serve a log's pool usage, requests and leaks as Prometheus metrics",
        description="Serves what a log says as poolscope metrics on /metrics until SIGTERM or "
        "Ctrl-C: reads the file once and keeps serving its final figures, or follows it with "
        "--follow. Every series carries a `source` label. FILE may be a glob (quote it): every "
        "matching file is read, each with the source its path gives, and with --follow new "
        "matches are picked up.",
    )
    p.add_argument("file", type=Path, metavar="FILE",
                   help="log file (.gz only without --follow), or a glob of them")
    p.add_argument("--follow", action="store_true",
                   help="keep reading as it grows, across rotation and truncation (tail -F); "
                   "wait for it when missing")
    p.add_argument("--from-start", action="store_true",
                   help="with --follow, read the lines already there first (default: start "
                   "at the end, like tail)")
    p.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="port to bind (default: %(default)s; 0: any free port)")
    p.add_argument("--source", default=None, metavar="NAME",
                   help="value of the source label (default: the file name; with a glob, "
                   "put before each file's own, which its path gives)")
    p.set_defaults(run=run_export)


def _add_file(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE", help="log file (.gz is decompressed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run_convert(args: argparse.Namespace) -> int:
    from telemetry.logs.parse import convert

    _check_file(args.file)
    progress = not args.no_progress
    if args.out is None:
        counts = convert(args.file, sys.stdout.buffer, progress=progress)
        sys.stdout.flush()
    else:
        with open(args.out, "wb") as out:
            counts = convert(args.file, out, progress=progress)
    _report(counts)
    return 0


def run_summary(args: argparse.Namespace) -> int:
    from telemetry.logs.summary import render_summary, summarise

    records, counts = _records(args)
    print(render_summary(summarise(records)))
    _report(counts)
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from telemetry.logs.plot import plot

    records, counts = _records(args)
    plot(records, args.out, title=args.file.name)
    _report(counts)
    print(f"poolscope logs: wrote {args.out}", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Serves until SIGTERM or SIGINT, then closes the server: exit 0."""
    from runtime.cli.signals import stop_signals
    from runtime.server.listen_errors import bind_error
    from telemetry.export.exporter import LogExporter
    from telemetry.export.settings import ExportSettings
    from telemetry.export.tail import TailSettings
    from telemetry.logs.logging import LogSettings, configure_logging

    # first, so that a signal during start-up is a clean stop too
    with stop_signals() as stop:
        _check_export_file(args.file, args.follow)
        tail = TailSettings(args.file, from_start=args.from_start)
        settings = ExportSettings(tail, follow=args.follow, host=args.host, port=args.port,
                                  source=args.source)
        configure_logging(LogSettings())  # JSON events on stdout
        try:
            exporter = LogExporter(settings).start()
        except OSError as exc:
            raise bind_error(exc, args.host, args.port) from exc
        try:
            exporter.run(stop.event)
        finally:
            exporter.close(stop.received)
    return 0


def _records(args: argparse.Namespace) -> tuple[Iterator[LogRecord], LineCounts]:
    from telemetry.logs.files import read_lines
    from telemetry.logs.parse import LineCounts, read_records

    _check_file(args.file)
    counts = LineCounts()
    return read_records(read_lines(args.file, progress=not args.no_progress), counts), counts


def _check_export_file(path: Path, follow: bool) -> None:
    """Raises OSError when export cannot read `path`: a followed file or glob may match later,
    a file read once must be there, a glob read once must match."""
    from telemetry.export.log_files import is_glob, matching_files

    if is_glob(str(path)) and not path.is_file():
        if not follow and not matching_files(str(path)):
            raise FileNotFoundError(f"no log file matches {path}")
    elif not follow or path.is_dir():
        _check_file(path)


def _check_file(path: Path) -> None:
    """Raises OSError with one line saying what `path` is instead of a log file."""
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.is_file())
        more = ", ..." if len(names) > 3 else ""
        hint = f" (it holds {', '.join(names[:3])}{more})" if names else ""
        raise IsADirectoryError(f"{path} is a folder, not a log file; give a file in it{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"no such log file: {path}")


def _report(counts: LineCounts) -> None:
    print(f"poolscope logs: {counts.describe()}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    """`poolscope logs ARGV...` on its own parser, so that nothing heavy is imported: exit 0, or
    2 with one `poolscope: error:` line for a missing file or a log with nothing to plot."""
    from runtime.cli.parser import CommandParser

    parser = CommandParser(prog="poolscope")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["logs", *argv])
    try:
        return args.run(args)
    except BrokenPipeError:  # `poolscope logs convert FILE | head`: the reader has had enough
        # NOTE: point stdout at devnull, or the interpreter's final flush fails again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as exc:
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return 2
