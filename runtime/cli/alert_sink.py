"""`poolscope alert-sink`: the webhook receiver Alertmanager routes to (see
dashboards/alertmanager_config.py). Logs one `alert_received` event per alert until SIGTERM or
Ctrl-C; it imports no engine code, so it starts at once.

poolscope alert-sink --host 0.0.0.0 --port 9095 --log-format text
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboards.stack import ALERT_SINK
from runtime.cli.signals import stop_signals
from runtime.server.listen_errors import bind_error
from telemetry.logs.logging import FORMATS, LEVELS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alert-sink", help="receive Alertmanager webhooks and log each alert")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=ALERT_SINK.port, help="port to bind (0: any free)")
    p.add_argument("--log-format", choices=FORMATS, default="json",
                   help="json: one JSON object per line; text: SGLang's human layout")
    p.add_argument("--log-level", choices=LEVELS, default="info")
    p.add_argument("--log-file", type=Path, default=None,
                   help="also append the log lines to this file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from telemetry.alerts.sink import AlertSink
    from telemetry.logs.logging import LogSettings, configure_logging

    configure_logging(LogSettings(format=args.log_format, level=args.log_level, file=args.log_file))
    with AlertSink(host=args.host, port=args.port) as sink:
        print(f"poolscope: alert sink on {sink.url} (POST /<receiver>, GET /health)",
              file=sys.stderr, flush=True)
        with stop_signals() as stop:
            stop.event.wait()
    return 0


def main(argv: Sequence[str]) -> int:
    """`poolscope alert-sink ARGV...` on its own parser, so that no engine code (torch) is
    imported: exit 0 after a signal, 2 with one `poolscope: error:` line when it cannot bind."""
    from runtime.cli.parser import CommandParser

    parser = CommandParser(prog="poolscope")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["alert-sink", *argv])
    try:
        try:
            return args.run(args)
        except OSError as exc:
            raise bind_error(exc, args.host, args.port) from exc
    except (ValueError, OSError) as exc:
        print(f"poolscope: error: {exc}", file=sys.stderr)
        return 2
